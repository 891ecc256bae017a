"""The gate registry: one entry per gate kind, shared by every backend.

Rotations are ``exp(-i t/2 P)`` for a Pauli generator ``P``; fixed gates carry a
constant matrix. Adding a gate is one :func:`register_gate` call.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

_S2 = 1.0 / math.sqrt(2.0)
PAULI = {
    "x": np.array([[0, 1], [1, 0]], dtype=np.complex128),
    "y": np.array([[0, -1j], [1j, 0]], dtype=np.complex128),
    "z": np.array([[1, 0], [0, -1]], dtype=np.complex128),
}


@dataclass(frozen=True)
class GateSpec:
    """What every backend needs to know about a gate kind.

    ``generator`` is the Pauli axis of a rotation (its matrix is cos(t/2) I - i sin(t/2) P);
    ``matrix`` is the constant matrix of a fixed gate (row-major, qubit order as listed).
    """

    name: str
    n_qubits: int
    generator: Optional[str] = None
    matrix: Optional[np.ndarray] = None
    diagonal: bool = False
    qasm: Optional[str] = None

    @property
    def parametric(self) -> bool:
        return self.generator is not None

    @property
    def axis(self) -> str:
        """A rotation's Pauli axis (``generator``); ValueError for a fixed gate."""
        if self.generator is None:
            raise ValueError(f"gate {self.name!r} is fixed and has no rotation axis")
        return self.generator

    def fixed_matrix(self) -> np.ndarray:
        if self.matrix is None:
            raise ValueError(f"gate {self.name!r} is parametric and has no fixed matrix")
        return self.matrix

    def rotation_matrix(self, angle: float) -> np.ndarray:
        """The numeric matrix of a rotation at ``angle`` (for passes, tests and export)."""
        p = PAULI[self.axis]
        return math.cos(angle / 2) * np.eye(2) - 1j * math.sin(angle / 2) * p


GATES: dict[str, GateSpec] = {}
ALIASES: dict[str, str] = {}
UNITARY_TOLERANCE = 1e-10


def _checked_matrix(spec: GateSpec) -> np.ndarray:
    """A fixed gate's matrix as a read-only complex copy, once it is a finite 2^n x 2^n unitary."""
    try:
        matrix = np.array(spec.matrix, dtype=np.complex128)
    except (TypeError, ValueError) as err:
        raise TypeError(f"gate {spec.name!r}: matrix must be an array of numbers, got {spec.matrix!r}") from err
    size = 2**spec.n_qubits
    if matrix.shape != (size, size):
        raise ValueError(
            f"gate {spec.name!r}: matrix must be {size}x{size} for n_qubits={spec.n_qubits}, got shape {matrix.shape}"
        )
    if not np.isfinite(matrix).all():
        raise ValueError(f"gate {spec.name!r}: matrix entries must be finite, got {matrix.tolist()}")
    error = np.abs(matrix.conj().T @ matrix - np.eye(size)).max()
    if error > UNITARY_TOLERANCE:
        raise ValueError(
            f"gate {spec.name!r}: matrix must be unitary within {UNITARY_TOLERANCE:g}, "
            f"but |M^H M - I| reaches {error:.3g}"
        )
    if spec.diagonal and np.count_nonzero(matrix - np.diag(np.diag(matrix))):
        raise ValueError(f"gate {spec.name!r}: diagonal=True but the matrix has off-diagonal entries")
    matrix.setflags(write=False)
    return matrix


def _checked(spec: GateSpec) -> GateSpec:
    """``spec`` once its fields agree (see :func:`register_gate`), its matrix copied read-only."""
    if not isinstance(spec, GateSpec):
        raise TypeError(f"spec must be a GateSpec, got {type(spec).__name__}")
    if not isinstance(spec.name, str) or not spec.name:
        raise ValueError(f"gate name must be a non-empty string, got {spec.name!r}")
    if not isinstance(spec.n_qubits, int) or isinstance(spec.n_qubits, bool) or spec.n_qubits < 1:
        raise ValueError(f"gate {spec.name!r}: n_qubits must be an integer >= 1, got {spec.n_qubits!r}")
    if spec.qasm is not None and (not isinstance(spec.qasm, str) or not spec.qasm):
        raise ValueError(f"gate {spec.name!r}: qasm must be None or a non-empty string, got {spec.qasm!r}")
    if spec.parametric == (spec.matrix is not None):
        raise ValueError(f"gate {spec.name!r} needs exactly one of generator or matrix")
    if not spec.parametric:
        return dataclasses.replace(spec, matrix=_checked_matrix(spec))
    if spec.generator not in PAULI:
        raise ValueError(f"gate {spec.name!r}: generator must be one of {sorted(PAULI)}, got {spec.generator!r}")
    if spec.n_qubits != 1:
        raise ValueError(
            f"gate {spec.name!r}: parametric gates are single-qubit Pauli rotations, got n_qubits={spec.n_qubits}"
        )
    if spec.diagonal and spec.generator != "z":
        raise ValueError(f"gate {spec.name!r}: diagonal=True but a rotation about {spec.generator!r} is not diagonal")
    return spec


def _check_names(name: str, aliases: tuple[str, ...], replace: bool) -> None:
    """Refuse a name or alias that is taken (a gate's name needs ``replace``; an alias never shadows a gate)."""
    if name in ALIASES:
        raise ValueError(f"gate name {name!r} is already an alias of {ALIASES[name]!r}; choose another name")
    if name in GATES and not replace:
        raise ValueError(f"gate {name!r} is already registered; pass replace=True to replace it")
    for alias in aliases:
        if not isinstance(alias, str) or not alias:
            raise ValueError(f"gate {name!r}: an alias must be a non-empty string, got {alias!r}")
        if alias in GATES or alias == name:
            raise ValueError(f"alias {alias!r} would shadow the gate named {alias!r}; choose another alias")
        if ALIASES.get(alias, name) != name and not replace:
            raise ValueError(f"alias {alias!r} already names gate {ALIASES[alias]!r}; pass replace=True to re-point it")


def register_gate(spec: GateSpec, aliases: tuple[str, ...] = (), replace: bool = False) -> GateSpec:
    """Add a gate kind (and its aliases) to the registry and return the registered spec.

    The spec is checked first: exactly one of ``generator`` (a Pauli axis, single-qubit; diagonal
    only for "z") or ``matrix`` (a finite 2^n x 2^n unitary within UNITARY_TOLERANCE, stored as
    a read-only copy), ``n_qubits`` >= 1. A name or alias already taken is refused unless ``replace=True``,
    built-ins ("h", "cnot", ...) included; an alias may never equal a gate's name. A refused call
    leaves the registry unchanged. Programs already compiled keep the gate they were built with.
    """
    if isinstance(aliases, str):
        raise TypeError(f"aliases must be a tuple of names, got the string {aliases!r}")
    spec = _checked(spec)
    aliases = tuple(aliases)
    _check_names(spec.name, aliases, replace)
    GATES[spec.name] = spec
    ALIASES.update(dict.fromkeys(aliases, spec.name))
    return spec


def gate_spec(kind: str) -> GateSpec:
    """Look a gate kind up by name or alias, with a message listing the known ones."""
    name = ALIASES.get(kind, kind)
    if name not in GATES:
        raise ValueError(f"unknown gate {kind!r}; known gates: {', '.join(sorted(GATES))}")
    return GATES[name]


register_gate(GateSpec("h", 1, matrix=np.array([[_S2, _S2], [_S2, -_S2]], dtype=np.complex128), qasm="h"))
register_gate(GateSpec("x", 1, matrix=PAULI["x"], qasm="x"))
register_gate(GateSpec("y", 1, matrix=PAULI["y"], qasm="y"))
register_gate(GateSpec("z", 1, matrix=PAULI["z"], diagonal=True, qasm="z"))
register_gate(GateSpec("s", 1, matrix=np.diag([1, 1j]).astype(np.complex128), diagonal=True, qasm="s"))
register_gate(GateSpec("rx", 1, generator="x", qasm="rx"))
register_gate(GateSpec("ry", 1, generator="y", qasm="ry"))
register_gate(GateSpec("rz", 1, generator="z", diagonal=True, qasm="rz"))
_CNOT = np.eye(4, dtype=np.complex128)[[0, 1, 3, 2]]
register_gate(GateSpec("cnot", 2, matrix=_CNOT, qasm="cx"), aliases=("cx",))
register_gate(GateSpec("cz", 2, matrix=np.diag([1, 1, 1, -1]).astype(np.complex128), diagonal=True, qasm="cz"))
