"""The straight-line amplitude code of a multi-qubit flash kernel, as data (docs/notes/flash.md,
"Multi-qubit circuits"). One thread holds the 2^n complex amplitudes of one (sample, edge) in registers;
each rotation lowers to 2x2 mixes of register pairs, a run of constant single-qubit gates to one folded
2x2 mix, and a constant gate with one nonzero entry per row and column (CNOT, CZ, X, S, ...) to a renaming
of registers at generation time plus constant phases. The CUDA printer (statevector.py) and the numpy
interpreter here (``simulate``, ``adjoint``: the CPU tests' check against the exact solver) read the same
instruction list."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import numpy as np

from qkan.circuits.gates import PAULI, gate_spec

TOLERANCE = 1e-12  # matrix entries this close to 0 (or a phase this close to 1) are exact at generation


@dataclass(frozen=True)
class Rotation:
    """A rotation exp(-i t/2 P) whose angle the kernel reads per sample (``kind`` "data": plan.gates[index])
    or per edge (``kind`` "param": plan.param_rotations[index]); ``number`` orders all rotations."""

    number: int
    qubit: int
    axis: str
    kind: str
    index: int


@dataclass(frozen=True, eq=False)
class Constant:
    """A constant gate on ``qubits`` (first listed = most significant), its matrix known at generation."""

    qubits: tuple[int, ...]
    matrix: np.ndarray


Step = Union[Rotation, Constant]


@dataclass(frozen=True, eq=False)
class Mix:
    """Apply a 2x2 matrix on ``qubit`` to every register pair (holding bit 0, bit 1): a rotation's, or
    ``constant``'s. ``zero`` flags, per pair, which of the two registers is known to be zero before it
    (the forward skips those terms, and pairs with both)."""

    qubit: int
    pairs: tuple[tuple[int, int], ...]
    zero: tuple[tuple[bool, bool], ...]
    rotation: Optional[Rotation] = None
    constant: Optional[np.ndarray] = None


@dataclass(frozen=True)
class Phase:
    """Multiply register ``register`` by the constant ``value`` (never emitted while it is known zero)."""

    register: int
    value: complex


Instruction = Union[Mix, Phase]


@dataclass
class Lowered:
    """The instructions, and which register holds basis state k at the end (``final[k]``)."""

    n_qubits: int
    instructions: list[Instruction] = field(default_factory=list)
    final: list[int] = field(default_factory=list)

    def bit(self, basis: int, qubit: int) -> int:
        """Qubit ``qubit``'s bit in basis state ``basis`` (qubit 0 is the most significant)."""
        return (basis >> (self.n_qubits - 1 - qubit)) & 1


def monomial(matrix: np.ndarray) -> Optional[list[tuple[int, complex]]]:
    """Per column c, (its one nonzero row, that entry); None unless every row and column has one nonzero."""
    nonzero = np.abs(matrix) > TOLERANCE
    if not (nonzero.sum(axis=0) == 1).all() or not (nonzero.sum(axis=1) == 1).all():
        return None
    return [(int(np.argmax(nonzero[:, c])), complex(matrix[np.argmax(nonzero[:, c]), c])) for c in range(len(matrix))]


def lower(n_qubits: int, steps: Sequence[Step], readout_qubit: int) -> Lowered:
    """The instruction list of ``steps`` from |0...0>. Constant single-qubit gates wait per qubit and are
    multiplied until another step touches that qubit; at the end only the readout qubit's non-diagonal
    remainder matters (a unitary on the other qubits, or a phase, leaves its probabilities unchanged)."""
    out = Lowered(n_qubits)
    where = list(range(2**n_qubits))  # where[k]: the register holding basis state k
    zero = [k != 0 for k in range(2**n_qubits)]  # per register: known to be exactly zero
    pending: dict[int, np.ndarray] = {}

    def mix(qubit: int, rotation: Optional[Rotation], constant: Optional[np.ndarray]) -> None:
        mask = 1 << (n_qubits - 1 - qubit)
        pairs = [(where[k], where[k | mask]) for k in range(2**n_qubits) if not k & mask]
        out.instructions.append(
            Mix(qubit, tuple(pairs), tuple((zero[a], zero[b]) for a, b in pairs), rotation, constant)
        )
        if rotation is None or rotation.axis != "z":  # a constant mix is never diagonal: those are phases
            for a, b in pairs:
                zero[a] = zero[b] = zero[a] and zero[b]

    def constant(qubits: tuple[int, ...], matrix: np.ndarray) -> None:
        entries = monomial(matrix)
        if entries is None:
            if len(qubits) > 1:
                raise ValueError(f"no flash lowering for a {len(qubits)}-qubit constant gate that is not a permutation")
            mix(qubits[0], None, matrix)
            return
        moved = list(where)
        for k in range(2**n_qubits):
            column = sum(out.bit(k, q) << (len(qubits) - 1 - i) for i, q in enumerate(qubits))
            row, value = entries[column]
            target = k
            for i, q in enumerate(qubits):
                mask = 1 << (n_qubits - 1 - q)
                target = (target | mask) if (row >> (len(qubits) - 1 - i)) & 1 else (target & ~mask)
            moved[target] = where[k]
            if abs(value - 1) > TOLERANCE and not zero[where[k]]:
                out.instructions.append(Phase(where[k], value))
        where[:] = moved

    def flush(qubit: int) -> None:
        matrix = pending.pop(qubit, None)
        if matrix is not None and np.abs(matrix - np.eye(2)).max() > TOLERANCE:
            constant((qubit,), matrix)

    for step in steps:
        if isinstance(step, Constant) and len(step.qubits) == 1:
            q = step.qubits[0]
            pending[q] = step.matrix @ pending.get(q, np.eye(2, dtype=np.complex128))
            continue
        qubits = (step.qubit,) if isinstance(step, Rotation) else step.qubits
        for q in qubits:
            flush(q)
        if isinstance(step, Rotation):
            mix(step.qubit, step, None)
        else:
            constant(step.qubits, step.matrix)
    last = pending.get(readout_qubit)
    if last is not None and abs(last[0, 1]) + abs(last[1, 0]) > TOLERANCE:
        flush(readout_qubit)
    out.final = where
    return out


def _matrix(instruction: Mix, angles: Sequence[float]) -> np.ndarray:
    if instruction.rotation is not None:
        return gate_spec(f"r{instruction.rotation.axis}").rotation_matrix(angles[instruction.rotation.number])
    assert instruction.constant is not None
    return instruction.constant


def simulate(lowered: Lowered, angles: Sequence[float]) -> np.ndarray:
    """The final amplitudes in basis order, by running the instructions on registers (``angles``: each
    rotation's full angle by number). Checks every zero flag the forward code relies on."""
    registers = np.zeros(2**lowered.n_qubits, dtype=np.complex128)
    registers[0] = 1.0
    for instruction in lowered.instructions:
        if isinstance(instruction, Phase):
            registers[instruction.register] *= instruction.value
            continue
        m = _matrix(instruction, angles)
        for (a, b), (za, zb) in zip(instruction.pairs, instruction.zero):
            assert (not za or registers[a] == 0) and (not zb or registers[b] == 0), "a zero flag is wrong"
            registers[a], registers[b] = (
                m[0, 0] * registers[a] + m[0, 1] * registers[b],
                (m[1, 0] * registers[a] + m[1, 1] * registers[b]),
            )
    return registers[lowered.final]


def angle_cotangent(axis: str, g: np.ndarray, psi: np.ndarray) -> float:
    """dL/dt of a rotation exp(-i t/2 P) on a pair, from the cotangent g and state psi after it:
    Im(<g|P|psi>) / 2 (g = dL/dRe + i dL/dIm)."""
    return 0.5 * float(np.imag(np.vdot(g, PAULI[axis] @ psi)))


def adjoint(lowered: Lowered, angles: Sequence[float], cotangent: np.ndarray) -> np.ndarray:
    """dL/dangle of every rotation by number, walking the instructions back from the final state with the
    cotangent dL/dRe + i dL/dIm of the final amplitudes (basis order): each is undone on the state and the
    cotangent alike, a rotation's gradient read between."""
    registers = np.zeros(2**lowered.n_qubits, dtype=np.complex128)
    registers[lowered.final] = simulate(lowered, angles)
    g = np.zeros_like(registers)
    g[lowered.final] = cotangent
    grads = np.zeros(len(angles))
    for instruction in reversed(lowered.instructions):
        if isinstance(instruction, Phase):
            registers[instruction.register] /= instruction.value
            g[instruction.register] /= instruction.value
            continue
        m = _matrix(instruction, angles).conj().T
        for a, b in instruction.pairs:
            pair = [a, b]
            if instruction.rotation is not None:
                grads[instruction.rotation.number] += angle_cotangent(
                    instruction.rotation.axis, g[pair], registers[pair]
                )
            registers[pair], g[pair] = m @ registers[pair], m @ g[pair]
    return grads
