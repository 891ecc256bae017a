"""Lowering a Circuit and its layer geometry to one einsum network, with operands built in torch.

Each qubit wire gets a new index after every non-diagonal gate. Tensors: |0> per qubit, fused
parameter-only blocks per edge (o, i), data gates per (b, i) (raw data) or (o, i, b) (affine/arccos
or mixed with theta), diagonal gates as vectors on the wire index, multi-qubit gates as (2,)*2k
tensors (diagonal ones as (2,)*k). Readout modes: ``amplitudes`` (b, o, i, wires: the ``amp``
readout takes |.| outside the network), ``expectation`` (<psi|Z_q|psi> per edge from the ket, its
conjugate and a Z vector: (b, o, i)) and ``layer`` (the same with the weight mask*postact_weights
(o, i) inside, so the sum over inputs is part of the contraction: (b, o)).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch

from qkan.circuits import Angle, Circuit, FusedBlock, Op, fuse_parameter_gates

from ..geometry import LayerGeometry, LayerParams
from ..statevector import COMPLEX_OF
from .labels import BATCH, EDGE_ORDER, IN, OUT, FreshLabels
from .operands import OperandBuilder, block_ops, plan_groups
from .paths import PATH_STRATEGIES, chain_path, largest_intermediate, split_path, split_pays_off

READOUT_MODES = ("amplitudes", "expectation", "layer")


@dataclass(frozen=True)
class NetworkTensor:
    """One operand: what it is built from, its index labels (edge labels first) and its form.

    ``source`` is an Op or FusedBlock (built from the layer's tensors), the string ``"zero"``
    (|0>), ``"z"`` (the Z observable's diagonal) or ``"weight"`` (mask * postact_weights).
    ``conjugate_of`` is, for a bra tensor, the position of the ket tensor it conjugates."""

    source: Union[Op, FusedBlock, str]
    labels: str
    edge_labels: str
    diagonal: bool
    conjugate_of: Optional[int] = None


def _edge_labels(angles: list[Angle], preacts: bool) -> str:
    """Which of (o, i, b) a gate depends on, from the slots its angles use."""
    thetas = any(a.thetas for a in angles)
    data_slots = [s for a in angles for s in a.data]
    per_output = thetas or any(s.resolved_encoding(preacts) != "raw" for s in data_slots)
    return (OUT if per_output else "") + (IN if thetas or data_slots else "") + (BATCH if data_slots else "")


class CircuitNetwork:
    """The einsum network of one circuit over a layer, for one readout mode, and its contraction path:
    ``strategy`` "circuit" (statevector order), "split" (see :func:`split_path`) or "auto" (the split
    where :func:`split_pays_off`)."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, mode: str, strategy: str = "auto"):
        if mode not in READOUT_MODES:
            raise ValueError(f"unknown readout mode {mode!r}; expected one of {READOUT_MODES}")
        if mode != "amplitudes" and circuit.measured.kind != "z":
            raise ValueError(f"readout mode {mode!r} computes <Z>; the circuit's readout is {circuit.measured.kind!r}")
        if strategy not in PATH_STRATEGIES:
            raise ValueError(f"unknown path strategy {strategy!r}; expected one of {PATH_STRATEGIES}")
        self.circuit, self.geometry, self.mode = circuit, geometry, mode
        labels = FreshLabels()
        wires = [labels.new() for _ in range(circuit.n_qubits)]
        ket = [NetworkTensor("zero", w, "", False) for w in wires]
        for item in fuse_parameter_gates(circuit):
            ket.append(self._lower(item, wires, labels))
        tensors = list(ket)
        if mode == "amplitudes":
            wanted = (BATCH, OUT, IN, *wires)
        else:
            bra_names = {
                label: labels.new() for t in ket for label in t.labels if label not in EDGE_ORDER and label not in wires
            }
            tensors += [
                NetworkTensor(
                    t.source,
                    "".join(bra_names.get(c, c) for c in t.labels),
                    t.edge_labels,
                    t.diagonal,
                    conjugate_of=position,
                )
                for position, t in enumerate(ket)
            ]
            tensors.append(NetworkTensor("z", wires[circuit.measured.qubit], "", True))
            if mode == "layer":
                tensors.append(NetworkTensor("weight", OUT + IN, OUT + IN, True))
            wanted = (BATCH, OUT) if mode == "layer" else (BATCH, OUT, IN)
        present = set("".join(t.labels for t in tensors))
        self.tensors = tuple(tensors)
        self.wanted_output = wanted
        self.output = "".join(label for label in wanted if label in present)
        self.expression = ",".join(t.labels for t in tensors) + "->" + self.output
        ket_order = list(range(len(ket)))
        order = (
            ket_order
            if mode == "amplitudes"
            # ket, Z, bra backwards, then the weight
            else (
                ket_order
                + [2 * len(ket)]
                + [len(ket) + k for k in reversed(ket_order)]
                + list(range(2 * len(ket) + 1, len(tensors)))
            )
        )
        self.order = tuple(order)
        labels_list = [t.labels for t in tensors]
        self.split = split_pays_off(self.expression, self.order) if strategy == "auto" else strategy == "split"
        self.path = split_path(labels_list, self.order) if self.split else chain_path(len(tensors), [order])
        per_edge = {OUT: geometry.out_dim, IN: geometry.in_dim, BATCH: 1}
        self.largest_per_sample = largest_intermediate(labels_list, self.output, self.path, per_edge, batch=True)
        self.largest_sample_free = largest_intermediate(labels_list, self.output, self.path, per_edge, batch=False)
        self._constants: dict[tuple, torch.Tensor] = {}  # tensors without edge labels, built once per dtype/device
        built = {
            p: (t.edge_labels, t.diagonal, block_ops(t.source))
            for p, t in enumerate(tensors)
            if t.edge_labels and t.conjugate_of is None and t.source != "weight"
        }
        self.builder = OperandBuilder(plan_groups(built, circuit.parameter_shape, geometry.preacts), geometry)

    def _lower(self, item: Union[Op, FusedBlock], wires: list[str], labels: FreshLabels) -> NetworkTensor:
        ops = block_ops(item)
        angles = [op.angle for op in ops if op.angle is not None]
        edge = _edge_labels(angles, self.geometry.preacts)
        diagonal = all(op.spec.diagonal for op in ops)
        qubits = (item.qubit,) if isinstance(item, FusedBlock) else item.qubits
        inputs = "".join(wires[q] for q in qubits)
        if diagonal:
            return NetworkTensor(item, edge + inputs, edge, True)
        for q in qubits:
            wires[q] = labels.new()
        outputs = "".join(wires[q] for q in qubits)
        return NetworkTensor(item, edge + outputs + inputs, edge, False)

    # ----- operands ----------------------------------------------------------------
    def operands(self, x: torch.Tensor, params: LayerParams) -> list[torch.Tensor]:
        """The network's tensors for inputs x (B, I) and the layer's parameters, contiguous, complex:
        per-edge tensors from the batched builder, bras as conjugates of their kets, constants once
        per dtype and device."""
        cdtype = COMPLEX_OF[x.dtype]
        built = self.builder.build(x, params, cdtype)
        out: list[torch.Tensor] = []
        for position, t in enumerate(self.tensors):
            if position in built:
                value = built[position]
            elif t.conjugate_of is not None:
                value = out[t.conjugate_of].conj().resolve_conj()
            elif t.source == "weight":
                value = (params.mask * params.postact_weights).to(cdtype)
            else:
                value = self._constant(position, t, cdtype, x.device)
            out.append(value)
        return out

    def _constant(self, position: int, t: NetworkTensor, cdtype: torch.dtype, device: torch.device) -> torch.Tensor:
        key = (position, cdtype, device)
        if key not in self._constants:
            self._constants[key] = torch.as_tensor(constant_tensor(t), dtype=cdtype, device=device)
        return self._constants[key]

    @property
    def per_sample_edges(self) -> bool:
        """Whether some operand carries both o and b (data gates with pre-activations): as large as the layer."""
        return any(OUT in t.labels and BATCH in t.labels for t in self.tensors)

    def batch_dims(self) -> list[Optional[int]]:
        """Per operand, the dimension of the sample label b (None for tensors without it)."""
        return [t.labels.index(BATCH) if BATCH in t.labels else None for t in self.tensors]

    def shape_output(self, result: torch.Tensor, batch: int) -> torch.Tensor:
        """The contraction result with any wanted edge label that no tensor carries put back
        (broadcast): e.g. ``b`` for a circuit without data slots."""
        sizes = {OUT: self.geometry.out_dim, IN: self.geometry.in_dim, BATCH: batch}
        for position, label in enumerate(self.wanted_output):
            if label not in self.output:
                result = result.unsqueeze(position)
        full = [sizes.get(label, -1) for label in self.wanted_output] + [-1] * (result.dim() - len(self.wanted_output))
        return result.expand(*full)

    def reduce_cotangent(self, cotangent: torch.Tensor) -> torch.Tensor:
        """The cotangent of the contraction result from that of :meth:`shape_output`'s value: summed over
        the labels it broadcast."""
        for position in reversed(range(len(self.wanted_output))):
            if self.wanted_output[position] not in self.output:
                cotangent = cotangent.sum(position)
        return cotangent


def constant_tensor(t: NetworkTensor) -> np.ndarray:
    """A tensor without edge labels (|0>, the Z diagonal, fixed gates, rotations by constant angles),
    as a (2,)*k or (2,)*2k array."""
    if t.source == "zero":
        return np.array([1, 0], dtype=np.complex128)
    if t.source == "z":
        return np.array([1, -1], dtype=np.complex128)
    ops = block_ops(t.source)
    k = len(ops[0].qubits)
    matrix = np.eye(2**k, dtype=np.complex128)
    for op in ops:
        matrix = op.constant_matrix() @ matrix
    value = np.diagonal(matrix).copy() if t.diagonal else matrix
    return value.reshape([2] * (k if t.diagonal else 2 * k))
