"""The immutable, hashable :class:`Circuit` and its fluent builder.

``Circuit(1).h(0).rz(0, theta(0)).rz(0, data(0)).measure("amp")`` builds one edge's
circuit; every builder call validates its arguments and returns a new Circuit.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Optional

import numpy as np

from .angles import Angle, AngleLike, as_angle
from .draw import draw
from .gates import GateSpec, gate_spec
from .qasm_import import parse_qasm

READOUTS = ("amp", "z")
MAX_QUBITS = 16


@dataclass(frozen=True)
class Op:
    """One gate application: registry name, the qubits it acts on, and its angle (rotations only)."""

    kind: str
    qubits: tuple[int, ...]
    angle: Optional[Angle] = None

    @property
    def spec(self) -> GateSpec:
        return gate_spec(self.kind)

    @property
    def rotation_angle(self) -> Angle:
        """The angle of a rotation (``Circuit.gate`` gives every rotation one); ValueError for a fixed gate."""
        if self.angle is None:
            raise ValueError(f"op {self} is a fixed gate and has no angle")
        return self.angle

    @property
    def depends_on_data(self) -> bool:
        return self.angle is not None and self.angle.depends_on_data

    def constant_matrix(self) -> np.ndarray:
        """The gate's matrix where it is constant: a fixed gate's, or a rotation's by its angle's constant part
        (the whole angle when it has no theta or data terms)."""
        if not self.spec.parametric:
            return self.spec.fixed_matrix()
        return self.spec.rotation_matrix(self.rotation_angle.const)

    def __str__(self) -> str:
        args = ",".join(f"q{q}" for q in self.qubits)
        return f"{self.kind}({self.angle}) {args}" if self.angle is not None else f"{self.kind} {args}"


@dataclass(frozen=True)
class Readout:
    """``amp``: sqrt(P(qubit=0)) - sqrt(P(qubit=1)), i.e. |a|-|b| on one qubit; ``z``: <Z_qubit>."""

    kind: str = "amp"
    qubit: int = 0


@dataclass(frozen=True)
class Circuit:
    """One edge's circuit: ``n_qubits``, a tuple of :class:`Op`, a :class:`Readout`.

    ``reps`` (number of data re-uploads) and ``theta_shape`` (per-edge trainable shape)
    are inferred from the slots used unless given; given values are checked.
    """

    n_qubits: int
    ops: tuple[Op, ...] = ()
    readout: Optional[Readout] = None
    reps: Optional[int] = None
    theta_shape: Optional[tuple[int, ...]] = None
    name: str = field(default="circuit", compare=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.n_qubits, int)
            or isinstance(self.n_qubits, bool)
            or not 1 <= self.n_qubits <= MAX_QUBITS
        ):
            raise ValueError(f"n_qubits must be an integer in 1..{MAX_QUBITS}, got {self.n_qubits!r}")
        if self.reps is not None and (not isinstance(self.reps, int) or self.reps < 0):
            raise ValueError(f"reps must be a non-negative integer, got {self.reps!r}")
        if self.theta_shape is not None:
            shape = tuple(self.theta_shape)
            if not shape or not all(isinstance(d, int) and d > 0 for d in shape):
                raise ValueError(f"theta_shape must be a tuple of positive integers, got {self.theta_shape!r}")
            object.__setattr__(self, "theta_shape", shape)
        for op in self.ops:
            self._check_slots(op)

    # ----- validation -------------------------------------------------------------
    def _check_slots(self, op: Op) -> None:
        if op.angle is None:
            return
        for slot in op.angle.data:
            if self.reps is not None and slot.rep >= self.reps:
                raise ValueError(f"data slot rep {slot.rep} is beyond reps={self.reps} (valid: 0..{self.reps - 1})")
        for t in op.angle.thetas:
            if self.theta_shape is None:
                continue
            if len(t.index) != len(self.theta_shape) or any(i >= d for i, d in zip(t.index, self.theta_shape)):
                raise ValueError(f"{t} does not index theta_shape {self.theta_shape}")

    def _check_qubit(self, qubit: int) -> int:
        if not isinstance(qubit, int) or isinstance(qubit, bool):
            raise TypeError(f"a qubit index must be an int, got {type(qubit).__name__}")
        if not 0 <= qubit < self.n_qubits:
            raise ValueError(
                f"qubit {qubit} out of range for a {self.n_qubits}-qubit circuit (valid: 0..{self.n_qubits - 1})"
            )
        return qubit

    # ----- the builder ------------------------------------------------------------
    def gate(self, kind: str, *qubits: int, angle: Optional[AngleLike] = None) -> "Circuit":
        """Append any registered gate; all the named methods below go through here."""
        spec = gate_spec(kind)
        if len(qubits) != spec.n_qubits:
            raise ValueError(f"gate {spec.name!r} acts on {spec.n_qubits} qubit(s), got {len(qubits)}: {qubits}")
        checked = tuple(self._check_qubit(q) for q in qubits)
        if len(set(checked)) != len(checked):
            raise ValueError(f"gate {spec.name!r} needs distinct qubits, got {checked}")
        if spec.parametric and angle is None:
            raise ValueError(f"gate {spec.name!r} is a rotation and needs an angle")
        if not spec.parametric and angle is not None:
            raise ValueError(f"gate {spec.name!r} is fixed and takes no angle, got {angle!r}")
        op = Op(spec.name, checked, None if angle is None else as_angle(angle))
        self._check_slots(op)
        return replace(self, ops=self.ops + (op,))

    def h(self, q: int) -> "Circuit":
        return self.gate("h", q)

    def x(self, q: int) -> "Circuit":
        return self.gate("x", q)

    def y(self, q: int) -> "Circuit":
        return self.gate("y", q)

    def z(self, q: int) -> "Circuit":
        return self.gate("z", q)

    def s(self, q: int) -> "Circuit":
        return self.gate("s", q)

    def rx(self, q: int, angle: AngleLike) -> "Circuit":
        return self.gate("rx", q, angle=angle)

    def ry(self, q: int, angle: AngleLike) -> "Circuit":
        return self.gate("ry", q, angle=angle)

    def rz(self, q: int, angle: AngleLike) -> "Circuit":
        return self.gate("rz", q, angle=angle)

    def cnot(self, control: int, target: int) -> "Circuit":
        return self.gate("cnot", control, target)

    cx = cnot

    def cz(self, a: int, b: int) -> "Circuit":
        return self.gate("cz", a, b)

    def measure(self, kind: str = "amp", qubit: int = 0) -> "Circuit":
        """Set the readout: ``amp`` (|a|-|b|, the published default) or ``z`` (<Z>)."""
        if kind not in READOUTS:
            raise ValueError(f"unknown readout {kind!r}; expected one of {READOUTS}")
        return replace(self, readout=Readout(kind, self._check_qubit(qubit)))

    @classmethod
    def from_qasm(cls, text: str) -> "Circuit":
        """A circuit from OpenQASM 2 or 3 text in our gate set, angles over ``theta_<l>_<k>`` and
        ``x_<rep>_<encoding>`` parameters (what ``to_qasm`` writes); ValueError naming an unsupported statement."""
        return parse_qasm(text, cls)

    def named(self, name: str) -> "Circuit":
        return replace(self, name=name)

    # ----- derived facts ----------------------------------------------------------
    @property
    def data_reps(self) -> int:
        """Number of re-uploads: ``reps`` if declared, else 1 + the largest data rep used."""
        if self.reps is not None:
            return self.reps
        return 1 + max((s.rep for op in self.ops if op.angle for s in op.angle.data), default=-1)

    @property
    def parameter_shape(self) -> tuple[int, ...]:
        """Per-edge theta shape: declared, or the bounding box of the theta indices used."""
        if self.theta_shape is not None:
            return self.theta_shape
        indices = [s.index for op in self.ops if op.angle for s in op.angle.thetas]
        if not indices:
            return (0,)
        ranks = {len(i) for i in indices}
        if len(ranks) != 1:
            raise ValueError(f"theta slots mix index ranks {sorted(ranks)}; use one rank or declare theta_shape")
        return tuple(1 + max(col) for col in zip(*indices))

    @property
    def data_encodings(self) -> frozenset[str]:
        return frozenset(s.encoding for op in self.ops if op.angle for s in op.angle.data)

    @property
    def arccos_reps(self) -> tuple[int, ...]:
        """The re-uploads read through arccos (their w*x+c must lie in [-1, 1]), sorted."""
        return tuple(sorted({s.rep for op in self.ops if op.angle for s in op.angle.data if s.encoding == "arccos"}))

    def with_readout(self, kind: str) -> "Circuit":
        """The same circuit with readout ``kind`` on the current readout qubit (0 if none)."""
        return self.measure(kind, self.readout.qubit if self.readout else 0)

    @property
    def measured(self) -> Readout:
        """The readout, which a circuit being simulated has (ValueError, as in :meth:`validate`, if none is set)."""
        if self.readout is None:
            raise ValueError(f"circuit {self.name!r} has no readout: end it with .measure('amp') or .measure('z')")
        return self.readout

    def validate(self) -> "Circuit":
        """Checks needed before simulation: a readout is set, parameter indices are consistent."""
        _ = self.measured
        _ = self.parameter_shape  # raises on mixed ranks
        return self

    def __len__(self) -> int:
        return len(self.ops)

    def __iter__(self):
        return iter(self.ops)

    def __add__(self, other: "Circuit") -> "Circuit":
        """Concatenate two circuits on the same qubits (readout of ``other`` wins if set)."""
        if not isinstance(other, Circuit) or other.n_qubits != self.n_qubits:
            raise ValueError("only circuits on the same number of qubits can be concatenated")
        out = replace(self, ops=(), readout=other.readout or self.readout)
        for op in itertools.chain(self.ops, other.ops):
            out = out.gate(op.kind, *op.qubits, angle=op.angle)
        return out

    def __str__(self) -> str:
        return draw(self)
