"""The gate registry: one entry per gate kind, shared by every backend.

Rotations are ``exp(-i t/2 P)`` for a Pauli generator ``P``; fixed gates carry a
constant matrix. Adding a gate is one :func:`register_gate` call.
"""
from __future__ import annotations

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

    def fixed_matrix(self) -> np.ndarray:
        if self.matrix is None:
            raise ValueError(f"gate {self.name!r} is parametric and has no fixed matrix")
        return self.matrix

    def rotation_matrix(self, angle: float) -> np.ndarray:
        """The numeric matrix of a rotation at ``angle`` (for passes, tests and export)."""
        p = PAULI[self.generator]
        return math.cos(angle / 2) * np.eye(2) - 1j * math.sin(angle / 2) * p


GATES: dict[str, GateSpec] = {}
ALIASES: dict[str, str] = {}


def register_gate(spec: GateSpec, aliases: tuple[str, ...] = ()) -> GateSpec:
    """Add a gate kind (and its aliases) to the registry."""
    if spec.parametric == (spec.matrix is not None):
        raise ValueError(f"gate {spec.name!r} needs exactly one of generator or matrix")
    if spec.parametric and (spec.n_qubits != 1 or spec.generator not in PAULI):
        raise ValueError("parametric gates are single-qubit Pauli rotations")
    GATES[spec.name] = spec
    for alias in aliases:
        ALIASES[alias] = spec.name
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
