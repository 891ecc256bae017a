"""What the multi-qubit flash kernels compute, planned once per (circuit, layer): the rotations read per
edge (theta only) and per sample (data gates, as in the gate walk), their table and accumulator slots, and
the lowered amplitude code (amplitudes.py). Limits and refusals live here (docs/notes/flash.md,
"Multi-qubit circuits")."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from qkan.circuits import Circuit, Op, Theta

from ..base import LayerGeometry, UnsupportedCircuit
from .amplitudes import Constant, Rotation, Step, lower, monomial
from .plan import WalkPlan

# A thread keeps 2^n complex amplitudes in registers, and the backward as many cotangents: 2^(n+2) reals,
# 128 at n = 5 (255 registers a thread on sm_90; n <= 4 compiles without spills, n = 5 spills a little).
MAX_FLASH_QUBITS = 5
OTHER_SOLVERS = "use solver='exact' (statevector) or solver='cutn' (tensor network)"


@dataclass(frozen=True)
class ParamRotation:
    """A rotation whose angle is const + theta terms: per edge, cos and sin of its half angle in table slots
    ``slot``, ``slot + 1``; dL/dangle summed over samples in accumulator ``acc``."""

    const: float
    thetas: tuple[tuple[int, float], ...]  # (flat theta index, coef)
    slot: int
    acc: int


def multiqubit_refusal(circuit: Circuit) -> Optional[str]:
    """Why flash cannot run this circuit of more than one qubit (a sentence naming the property and the
    solvers that can), or None."""
    n = circuit.n_qubits
    if n > MAX_FLASH_QUBITS:
        return (
            f"flash keeps one sample's 2^n amplitudes in a GPU thread's registers, so it runs circuits of at most "
            f"{MAX_FLASH_QUBITS} qubits, and this one has {n}; {OTHER_SOLVERS}"
        )
    if circuit.readout is not None and not 0 <= circuit.readout.qubit < n:
        return f"the readout qubit {circuit.readout.qubit} is out of range for a {n}-qubit circuit (valid: 0..{n - 1})"
    for op in circuit.ops:
        if not op.spec.parametric and op.spec.n_qubits > 1 and monomial(op.spec.fixed_matrix()) is None:
            return (
                f"flash has no lowering for gate {op.kind!r} on qubits {op.qubits}: a fixed multi-qubit gate must "
                f"permute basis states up to phases (cnot, cz, swap-like); {OTHER_SOLVERS}"
            )
    return None


class StatevectorPlan(WalkPlan):
    """The walk plan's fields (data gates, pre-activations, layout, shared sincos) for a circuit of 2 to
    MAX_FLASH_QUBITS qubits, without blocks: rotations of theta alone become ``param_rotations`` (a table
    (cos, sin) and one accumulator each), constant gates are folded by the lowering, and ``lowered`` is the
    amplitude code of the whole circuit."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry):
        reason = multiqubit_refusal(circuit) if circuit.n_qubits > 1 else "it has one qubit (use WalkPlan)"
        if reason:
            raise UnsupportedCircuit(f"flash cannot run circuit {circuit.name!r}: {reason}")
        self._start(circuit.validate(), geometry)
        self.param_rotations: list[ParamRotation] = []
        self.rotation_ops: list[Op] = []  # every rotation's Op, by Rotation.number
        steps: list[Step] = []
        for op in circuit.ops:
            if not op.spec.parametric or not (op.rotation_angle.thetas or op.depends_on_data):
                steps.append(Constant(op.qubits, op.constant_matrix()))
                continue
            number = len(self.rotation_ops)
            self.rotation_ops.append(op)
            if op.depends_on_data:
                steps.append(Rotation(number, op.qubits[0], op.spec.axis, "data", len(self.gates)))
                self.gates.append(self._plan_gate(op))
            else:
                steps.append(Rotation(number, op.qubits[0], op.spec.axis, "param", len(self.param_rotations)))
                self.param_rotations.append(self._plan_rotation(op))
        self._finish()
        self.readout_qubit = circuit.measured.qubit
        self.lowered = lower(circuit.n_qubits, steps, self.readout_qubit)

    def _plan_rotation(self, op: Op) -> ParamRotation:
        k = len(self.param_rotations)
        thetas = tuple((self.flat(s), coef) for s, coef in op.rotation_angle.terms if isinstance(s, Theta))
        slot = self.layout.table(f"ROT{k}", 2)
        return ParamRotation(op.rotation_angle.const, thetas, slot, self.layout.acc(f"DROT{k}"))

    @property
    def keeps_states(self) -> bool:
        """The backward always undoes gates (a kept statevector would cost 2^(n+1) registers a gate)."""
        return False
