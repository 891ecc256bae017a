"""Lowering a Circuit and its layer geometry to one einsum network, with operands built in torch.

Index names: ``o``, ``i`` (the edge) and ``b`` (the sample) are hyperedges shared by every tensor
that depends on them; each qubit wire gets a new index after every non-diagonal gate. Tensors:
|0> per qubit, fused parameter-only blocks per edge (o, i), data gates per (b, i) (raw data) or
(o, i, b) (affine/arccos or mixed with theta), diagonal gates as vectors on the wire index,
multi-qubit gates as (2,)*2k tensors (diagonal ones as (2,)*k). Readouts:

- ``amplitudes``: output (b, o, i, wire_0 .. wire_n-1), the state (the ``amp`` readout takes |.|
  outside the network);
- ``expectation``: <psi|Z_q|psi> per edge, the ket, its conjugate and a Z vector; output (b, o, i);
- ``layer``: the same with the layer weight mask*postact_weights (o, i) in the network, so the sum
  over inputs is part of the contraction; output (b, o).

Paths: circuit order (a statevector simulation over the edges), or split (the sample-free and the
sample tensors each in circuit order, then one join), whichever :func:`split_pays_off` picks.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Optional, Union

import numpy as np
import torch
import opt_einsum

from qkan.circuits import Angle, Circuit, FusedBlock, Op, fuse_parameter_gates

from .base import LayerGeometry, LayerParams
from .cutn_operands import BATCH, EDGE_ORDER, IN, OUT, OperandBuilder, block_ops, plan_groups
from .statevector import COMPLEX_OF

PATH_STRATEGIES = ("auto", "circuit", "split")
REFERENCE_SIZES = {OUT: 128, IN: 128, BATCH: 1024}  # extents at which the two paths are compared
SPLIT_FLOPS_ALLOWANCE = 8  # the split may cost this many times the flops, when it writes less
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


class _Labels:
    """Fresh single-character index names that never collide with the edge labels."""

    def __init__(self) -> None:
        self.count = 0

    def new(self) -> str:
        while True:
            symbol = opt_einsum.get_symbol(self.count)
            self.count += 1
            if symbol not in EDGE_ORDER:
                return symbol


def _edge_labels(angles: list[Angle], preacts: bool) -> str:
    """Which of (o, i, b) a gate depends on, from the slots its angles use."""
    thetas = any(a.thetas for a in angles)
    data_slots = [s for a in angles for s in a.data]
    per_output = thetas or any(s.encoding in ("affine", "arccos") or (s.encoding == "auto" and preacts)
                               for s in data_slots)
    labels = (OUT if per_output else "") + (IN if thetas or data_slots else "") + (BATCH if data_slots else "")
    return labels


class CircuitNetwork:
    """The einsum network of one circuit over a layer, for one readout mode, and its contraction path:
    ``strategy`` "circuit" (statevector order), "split" (see :func:`split_path`) or "auto" (the split
    where :func:`split_pays_off`)."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, mode: str, strategy: str = "auto"):
        if mode not in READOUT_MODES:
            raise ValueError(f"unknown readout mode {mode!r}; expected one of {READOUT_MODES}")
        if mode != "amplitudes" and circuit.readout.kind != "z":
            raise ValueError(f"readout mode {mode!r} computes <Z>; the circuit's readout is {circuit.readout.kind!r}")
        self.circuit, self.geometry, self.mode = circuit, geometry, mode
        labels = _Labels()
        wires = [labels.new() for _ in range(circuit.n_qubits)]
        ket = [NetworkTensor("zero", w, "", False) for w in wires]
        for item in fuse_parameter_gates(circuit):
            ket.append(self._lower(item, wires, labels))
        tensors = list(ket)
        if mode == "amplitudes":
            wanted = (BATCH, OUT, IN, *wires)
        else:
            bra_names = {label: labels.new() for t in ket for label in t.labels
                         if label not in EDGE_ORDER and label not in wires}
            tensors += [NetworkTensor(t.source, "".join(bra_names.get(c, c) for c in t.labels), t.edge_labels,
                                      t.diagonal, conjugate_of=position) for position, t in enumerate(ket)]
            tensors.append(NetworkTensor("z", wires[circuit.readout.qubit], "", True))
            if mode == "layer":
                tensors.append(NetworkTensor("weight", OUT + IN, OUT + IN, True))
            wanted = (BATCH, OUT) if mode == "layer" else (BATCH, OUT, IN)
        present = set("".join(t.labels for t in tensors))
        self.tensors = tuple(tensors)
        self.wanted_output = wanted
        self.output = "".join(label for label in wanted if label in present)
        self.expression = ",".join(t.labels for t in tensors) + "->" + self.output
        ket_order = list(range(len(ket)))
        order = ket_order if mode == "amplitudes" else (
            ket_order + [2 * len(ket)] + [len(ket) + k for k in reversed(ket_order)] + list(range(2 * len(ket) + 1, len(tensors))))
        self.order = tuple(order)
        labels_list = [t.labels for t in tensors]
        if strategy not in PATH_STRATEGIES:
            raise ValueError(f"unknown path strategy {strategy!r}; expected one of {PATH_STRATEGIES}")
        self.split = split_pays_off(self.expression, self.order) if strategy == "auto" else strategy == "split"
        self.path = split_path(labels_list, self.order) if self.split else chain_path(len(tensors), [order])
        per_edge = {OUT: geometry.out_dim, IN: geometry.in_dim, BATCH: 1}
        self.largest_per_sample = largest_intermediate(labels_list, self.output, self.path, per_edge, batch=True)
        self.largest_sample_free = largest_intermediate(labels_list, self.output, self.path, per_edge, batch=False)
        self._constants: dict[tuple, torch.Tensor] = {}  # tensors without edge labels, built once per dtype/device
        per_edge = {p: (t.edge_labels, t.diagonal, block_ops(t.source)) for p, t in enumerate(tensors)
                    if t.edge_labels and t.conjugate_of is None and t.source != "weight"}
        self.builder = OperandBuilder(plan_groups(per_edge, circuit.parameter_shape, geometry.preacts), geometry)

    def _lower(self, item: Union[Op, FusedBlock], wires: list[str], labels: _Labels) -> NetworkTensor:
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
    matrix = np.eye(2 ** k, dtype=np.complex128)
    for op in ops:
        matrix = op.constant_matrix() @ matrix
    value = np.diagonal(matrix).copy() if t.diagonal else matrix
    return value.reshape([2] * (k if t.diagonal else 2 * k))


def chain_path(n_tensors: int, chains: list[list[int]]) -> list[tuple[int, ...]]:
    """A contraction path (numpy.einsum_path format): each chain of tensor indices is absorbed one
    by one into a running tensor, then the chains' results are joined left to right.

    In circuit order this is a statevector simulation: every intermediate is at most (O, I, B, 2^n),
    where general-purpose path finders on these hyperedge networks can pick far larger outer products."""
    current = list(range(n_tensors))  # which tensor (original index, or n_tensors + step) sits at each position
    path: list[tuple[int, ...]] = []

    def merge(a: int, b: int) -> int:
        nonlocal current
        path.append(tuple(sorted((current.index(a), current.index(b)))))
        current = [c for c in current if c not in (a, b)] + [n_tensors + len(path) - 1]
        return current[-1]

    results = []
    for chain in (c for c in chains if c):
        acc = chain[0]
        for k in chain[1:]:
            acc = merge(acc, k)
        results.append(acc)
    acc = results[0]
    for r in results[1:]:
        acc = merge(acc, r)
    return path or [(0,)]


def split_path(labels: list[str], order: tuple[int, ...]) -> list[tuple[int, ...]]:
    """The path that contracts the sample-free tensors (parameter blocks, constants: per edge at most) and
    the sample tensors (data gates: per (b, i) when they carry no o) each in circuit order, then joins the
    two in one contraction over the wires the data gates act on: the only tensor of size B x O x I is the
    output, where the circuit order writes one per gate."""
    edge = [k for k in order if BATCH not in labels[k]]
    batch = [k for k in order if BATCH in labels[k]]
    return chain_path(len(labels), [edge, batch])


def path_cost(expression: str, path: list[tuple[int, ...]], sizes: dict[str, int]) -> tuple[int, int]:
    """(flops, elements written to intermediates) of ``path`` at the extents ``sizes`` (2 for wires)."""
    shapes = [tuple(sizes.get(c, 2) for c in labels) for labels in expression.split("->")[0].split(",")]
    _, info = opt_einsum.contract_path(expression, *shapes, shapes=True, optimize=path)
    return int(info.opt_cost), int(sum(info.size_list))


def split_pays_off(expression: str, order: tuple[int, ...]) -> bool:
    """Whether :func:`split_path` writes fewer elements than the circuit order at REFERENCE_SIZES without
    more than SPLIT_FLOPS_ALLOWANCE times its flops: these contractions are bound by memory traffic (an
    H100 does ~20 float32 flops per byte it moves), so a join shaped like a batched GEMM that writes one
    B x O x I tensor beats gate-by-gate updates that each write one. Data gates that depend on o
    (pre-activations) or many data gates on one wire make the split's join larger, and it loses."""
    labels = expression.split("->")[0].split(",")
    circuit_flops, circuit_written = path_cost(expression, chain_path(len(labels), [list(order)]), REFERENCE_SIZES)
    split_flops, split_written = path_cost(expression, split_path(labels, order), REFERENCE_SIZES)
    return split_written < circuit_written and split_flops <= SPLIT_FLOPS_ALLOWANCE * circuit_flops


def largest_intermediate(labels: list[str], output: str, path: list[tuple[int, ...]], sizes: dict[str, int],
                         batch: Optional[bool] = None) -> int:
    """Elements of the largest operand or intermediate along ``path`` (extents from ``sizes``, 2 for wires);
    ``batch`` True or False: only among those with, or without, the sample label b."""
    def size(ls) -> int:
        return math.prod(sizes.get(c, 2) for c in ls) if batch is None or (BATCH in ls) == batch else 0

    current = [set(ls) for ls in labels]
    largest = max(size(ls) for ls in labels)
    for pair in path:
        merged = set().union(*(current[j] for j in pair))
        current = [c for j, c in enumerate(current) if j not in pair]
        merged &= set(output).union(*current)
        current.append(merged)
        largest = max(largest, size(merged))
    return largest


@functools.lru_cache(maxsize=None)
def environment_network(expression: str, order: tuple[int, ...], k: int,
                        split: bool = False) -> tuple[str, list[tuple[int, ...]]]:
    """The network of d(output)/d(tensor k): tensor k removed, the output cotangent added (last),
    output labels those of tensor k that occur elsewhere (one that occurs only in k was summed out: the
    gradient is constant along it, see :func:`broadcast_environment`). Its path joins the state before k
    (in ``order``) with the cotangent propagated back from the end; for a ``split`` network, the other
    side's tensors are contracted with the cotangent first (summing out b, or o and the output wire),
    then k's side."""
    inputs, output = expression.split("->")
    labels = inputs.split(",")
    others = [j for j in range(len(labels)) if j != k]
    position = {j: p for p, j in enumerate(others)}
    cotangent = len(others)
    present = set("".join(labels[j] for j in others) + output)
    env = ",".join([labels[j] for j in others] + [output]) + "->" + "".join(c for c in labels[k] if c in present)
    if split:
        edge = [position[j] for j in order if j != k and BATCH not in labels[j]]
        batch = [position[j] for j in order if j != k and BATCH in labels[j]]
        chain = edge + [cotangent] + batch if BATCH in labels[k] else batch + [cotangent] + edge
        return env, chain_path(len(others) + 1, [chain])
    where = order.index(k)
    before = [position[j] for j in order[:where]]
    after = [cotangent] + [position[j] for j in reversed(order[where + 1:])]
    return env, chain_path(len(others) + 1, [before, after])


def broadcast_environment(env: torch.Tensor, env_labels: str, labels: str, shape: torch.Size) -> torch.Tensor:
    """An environment over ``env_labels`` expanded to its tensor's ``labels`` and ``shape``."""
    for position, label in enumerate(labels):
        if label not in env_labels:
            env = env.unsqueeze(position)
    return env.expand(shape)
