"""What the flash kernels compute, planned once per (circuit, layer) and free of C: the per-edge table's
and the gradient accumulators' layouts, the data gates' angles, and the Fourier coefficient layout where
the circuit allows it (docs/design.md, "Flash kernels")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Optional, Union

from qkan.circuits import Circuit, FusedBlock, Op, Theta, fuse_parameter_gates

from ..base import LayerGeometry
from . import tuning

MAX_DENOMINATOR = 4  # data coefficients n/d with d up to this take the Fourier kernels, in a basis of x/d


class Layout:
    """The per-edge table's slots and the accumulators' slots, by name in order; the post-activation
    factors (QW, QB, BW) and the layer sums (SG, SGF, SGS) come last (``close``)."""

    def __init__(self) -> None:
        self.table_names: list[str] = []
        self.acc_names: list[str] = []
        self.post_slots: tuple[int, int, int] = (-1, -1, -1)
        self.layer_accs: tuple[int, int, int] = (-1, -1, -1)

    def table(self, name: str, width: int = 1) -> int:
        """Append ``width`` table slots; the first one's index."""
        start = len(self.table_names)
        self.table_names += [name] if width == 1 else [f"{name}_{k}" for k in range(width)]
        return start

    def acc(self, name: str) -> int:
        self.acc_names.append(name)
        return len(self.acc_names) - 1

    def close(self) -> None:
        self.post_slots = (self.table("QW"), self.table("QB"), self.table("BW"))
        self.layer_accs = (self.acc("SG"), self.acc("SGF"), self.acc("SGS"))

    @property
    def table_size(self) -> int:
        return len(self.table_names)

    @property
    def acc_size(self) -> int:
        return len(self.acc_names)

    @property
    def circuit_acc_count(self) -> int:
        """Accumulators of the circuit's own parameters: all but the layer sums, which are planned last."""
        return self.layer_accs[0]


@dataclass(frozen=True)
class DataTerm:
    """coef * slot value, the encoding resolved against the layer (auto -> raw or affine)."""

    rep: int
    encoding: str
    coef: float


@dataclass(frozen=True)
class DataGate:
    """A per-sample rotation: angle = const + offset (theta terms, per edge) + data terms."""

    axis: str
    const: float
    thetas: tuple[tuple[int, float], ...]  # (flat theta index, coef)
    terms: tuple[DataTerm, ...]
    offset_slot: Optional[int]  # table slot of the per-edge theta offset (constant included), None if none
    offset_acc: Optional[int]  # accumulator slot of dL/d(angle) for the theta offset

    def angle_key(self) -> tuple:
        """Equal keys, equal angle expressions: such gates share one sincos."""
        terms = tuple(("x" if t.encoding == "raw" else f"{t.encoding}{t.rep}", repr(float(t.coef))) for t in self.terms)
        if self.offset_slot is not None:  # the constant is part of the offset
            return terms, ("offset", self.offset_slot)
        return terms, ("const", repr(float(self.const))) if self.const != 0.0 else ()


@dataclass(frozen=True)
class Block:
    """A parameter-only block: per edge (its Bloch rotation, 9 table slots from ``slot``, row-major, and 3
    accumulators T_x, T_y, T_z from ``acc``) or constant (``slot`` and ``acc`` None: folded at generation)."""

    ops: tuple[Op, ...]
    slot: Optional[int]
    acc: Optional[int]


class WalkPlan:
    """The gate walk of one (circuit, layer): blocks and data gates in order, their table and accumulator
    slots, the pre-activation slots, and which data gates share a sincos."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry):
        if circuit.n_qubits != 1:
            raise ValueError(f"flash generates kernels for single-qubit circuits, got {circuit.n_qubits} qubits")
        self._start(circuit.validate(), geometry)
        for item in fuse_parameter_gates(circuit):
            if isinstance(item, FusedBlock):
                self.blocks.append(self._plan_block(item.ops))
                self.items.append(self.blocks[-1])
            else:
                self.gates.append(self._plan_gate(item))
                self.items.append(self.gates[-1])
        self._finish()

    def _start(self, circuit: Circuit, geometry: LayerGeometry) -> None:
        """The circuit's facts, before its ops are planned."""
        self.circuit, self.geometry = circuit, geometry
        self.reps = circuit.data_reps
        self.theta_shape = circuit.parameter_shape
        self.theta_numel = math.prod(self.theta_shape)
        self.readout = circuit.measured.kind
        activation = geometry.base_activation if geometry.base_activation is not None else "identity"
        self.base: Optional[str] = activation if isinstance(activation, str) else None  # None: added in torch
        self.layout = Layout()
        self.items: list[Union[Block, DataGate]] = []
        self.gates: list[DataGate] = []
        self.blocks: list[Block] = []

    def _finish(self) -> None:
        """Once the ops are planned: the pre-activation slots, the layer's slots and the shared sincos."""
        terms = [t for g in self.gates for t in g.terms]
        self.affine_reps = sorted({t.rep for t in terms if t.encoding != "raw"})
        self.arccos_reps = {t.rep for t in terms if t.encoding == "arccos"}
        self.pre_slots = {rep: (self.layout.table(f"W{rep}"), self.layout.table(f"C{rep}")) for rep in self.affine_reps}
        self.pre_acc = {rep: (self.layout.acc(f"DW{rep}"), self.layout.acc(f"DC{rep}")) for rep in self.affine_reps}
        self.layout.close()
        self.trig_of = self._share_trig()
        self.trig_gates = sorted(set(self.trig_of))  # the data gates whose sincos is computed
        self.x_trig = [
            j
            for j in self.trig_gates
            if all(t.encoding == "raw" for t in self.gates[j].terms) and self.gates[j].offset_slot is None
        ]

    def flat(self, slot: Theta) -> int:
        """The row-major index of a theta slot in the edge's flattened parameters."""
        index = 0
        for i, n in zip(slot.index, self.theta_shape):
            index = index * n + i
        return index

    def _plan_block(self, ops: tuple[Op, ...]) -> Block:
        if not any(op.angle is not None and op.angle.thetas for op in ops):
            return Block(ops, None, None)
        k = sum(1 for b in self.blocks if b.slot is not None)
        slot = self.layout.table(f"R{k}", 9)
        acc = self.layout.acc(f"T{k}x")
        self.layout.acc(f"T{k}y"), self.layout.acc(f"T{k}z")
        return Block(ops, slot, acc)

    def _plan_gate(self, op: Op) -> DataGate:
        if op.spec.n_qubits != 1 or not op.spec.parametric:
            raise ValueError(f"flash cannot run op {op}")
        thetas, terms = [], []
        for slot, coef in op.rotation_angle.terms:
            if isinstance(slot, Theta):
                thetas.append((self.flat(slot), coef))
            else:
                terms.append(DataTerm(slot.rep, slot.resolved_encoding(self.geometry.preacts), coef))
        j = len(self.gates)
        offset_slot = self.layout.table(f"OFF{j}") if thetas else None
        offset_acc = self.layout.acc(f"DOFF{j}") if thetas else None
        return DataGate(op.spec.axis, op.rotation_angle.const, tuple(thetas), tuple(terms), offset_slot, offset_acc)

    def _share_trig(self) -> list[int]:
        """Per data gate, the first gate with the same angle (the Bloch vector turns by the full angle)."""
        first: dict[tuple, int] = {}
        return [first.setdefault(gate.angle_key(), j) for j, gate in enumerate(self.gates)]

    @property
    def keeps_states(self) -> bool:
        """Whether the backward keeps the state after each data gate (registers) rather than undoing gates."""
        return len(self.gates) <= tuning.MAX_KEPT_STATES


def fourier_form(plan: WalkPlan) -> Optional[tuple[int, tuple[int, ...]]]:
    """(d, (n_j per data gate)) when every data gate's angle is sum_j n_j x / d + theta terms with raw x
    and the degree sum |n_j| is at most MAX_FOURIER_DEGREE; None otherwise (pre-activations, arccos,
    irrational or large frequencies keep the gate-walk kernels)."""
    if any(t.encoding != "raw" for gate in plan.gates for t in gate.terms):
        return None
    totals = [sum(t.coef for t in gate.terms) for gate in plan.gates]
    coefs = [Fraction(total).limit_denominator(1000) for total in totals]
    if any(abs(float(c) - total) > 1e-12 for c, total in zip(coefs, totals)):
        return None
    denominator = math.lcm(*(c.denominator for c in coefs)) if coefs else 1
    if denominator > MAX_DENOMINATOR:
        return None
    numerators = tuple(int(c * denominator) for c in coefs)
    if sum(abs(n) for n in numerators) > tuning.MAX_FOURIER_DEGREE:
        return None
    return denominator, numerators


class FourierPlan:
    """The Fourier kernels' layout over a walk plan (docs/math.md, "Fourier form"): coefficients F{c}{j} of
    Bloch component c and basis function j = 0 (constant), 2k-1 (cos ku), 2k (sin ku) of u = x / d, then QW,
    QB, BW; accumulators DF{c}{j}, then SG, SGF, SGS. For amp, r_x's and r_y's coefficients, padded to whole
    Q4s, are the first ``pole_width`` slots and lie edge-major (an edge's together at tab + e * pole_width);
    the rest is slot-major, (P, I, O), as in the gate walk's table."""

    def __init__(self, walk: WalkPlan, form: tuple[int, tuple[int, ...]]):
        self.walk = walk
        self.denominator, numerators = form
        self.degree = sum(abs(n) for n in numerators)
        self.nodes = 2 * self.degree + 1
        self.components = ("x", "y", "z") if walk.readout == "amp" else ("z",)
        self.layout = Layout()
        poles = [c for c in self.components if c != "z"]
        self.coef = {(c, j): self.layout.table(f"F{c}{j}") for c in poles for j in range(self.nodes)}
        while self.layout.table_size % 4:
            self.layout.table("PAD")
        self.pole_width = self.layout.table_size
        self.coef.update({("z", j): self.layout.table(f"Fz{j}") for j in range(self.nodes)})
        self.dcoef = {(c, j): self.layout.acc(f"DF{c}{j}") for c in self.components for j in range(self.nodes)}
        self.layout.close()

    def basis_pairs(self) -> list[tuple[int, int, int]]:
        """(k, index of cos ku, index of sin ku) for k = 1..K: basis function j = 0 is the constant."""
        return [(k, 2 * k - 1, 2 * k) for k in range(1, self.degree + 1)]
