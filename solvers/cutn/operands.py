"""A CircuitNetwork's per-edge operands in a few batched torch ops: the cutn step is bound by host time
per torch op (docs/notes/cutn.md, "Batched operands"). The tensors that share a layout (edge labels
``oi``, ``ib`` or ``oib``) and diagonality are built together: every rotation angle of the group as one
linear map of theta and the data values, all rotation matrices from one cos/sin, and each fused block's
product as padded batched matmuls over a table of the group's gates (fixed gates and an identity for
padding appended to it). A diagonal group works on the diagonals alone (half the memory, elementwise
products), and a group whose tensors are one rotation each skips the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Optional, Union

import numpy as np
import torch

from qkan.circuits import Data, FusedBlock, Op, Theta
from qkan.circuits.gates import PAULI

from ..geometry import LayerGeometry, LayerParams
from ..layer_math import DataAngles, expand_edges
from .labels import BATCH, EDGE_ORDER, IN, OUT

DataSource = tuple[str, int]  # (resolved encoding, rep); raw data is one source whatever the rep


@dataclass(frozen=True)
class OperandGroup:
    """Network tensors of one edge layout and diagonality built together. Gate table: the group's rotations,
    then ``fixed`` matrices, the last an identity (with ``diagonal``, every entry is its matrix's diagonal);
    ``order`` (K, n_tensors) lists each tensor's gates in circuit order, padded with the identity."""

    edge_labels: str
    positions: tuple[int, ...]
    diagonal: bool
    order: np.ndarray
    theta_coef: np.ndarray  # (theta slots, rotations), zero where a rotation has no theta term
    source_slots: tuple[Data, ...]  # a slot of each data source, for DataAngles
    data_coef: np.ndarray  # (sources, rotations)
    const: np.ndarray  # (rotations,)
    generators: np.ndarray  # (rotations, 2, 2): -i P of each rotation
    fixed: np.ndarray  # (fixed + 1, 2, 2)

    @property
    def uses_theta(self) -> bool:
        return bool(self.theta_coef.any())

    @cached_property
    def one_rotation_each(self) -> bool:
        """Whether tensor j is exactly rotation j: its operand is that rotation, with no table or product."""
        return self.order.shape[0] == 1 and list(self.order[0]) == list(range(self.generators.shape[0]))


def _resolve(slot: Data, preacts: bool) -> DataSource:
    encoding = slot.resolved_encoding(preacts)
    return (encoding, 0 if encoding == "raw" else slot.rep)


def plan_groups(
    items: dict[int, tuple[str, bool, tuple[Op, ...]]], theta_shape: tuple[int, ...], preacts: bool
) -> list[OperandGroup]:
    """Groups of network tensors by edge layout; ``items`` maps a tensor position to its edge labels,
    whether it is diagonal, and its single-qubit ops in circuit order."""
    n_slots = int(np.prod(theta_shape))
    groups = []
    for labels, diagonal in sorted({item[:2] for item in items.values()}):
        positions = tuple(p for p, item in items.items() if item[:2] == (labels, diagonal))
        rotations: list[Op] = []
        fixed: list[np.ndarray] = []
        columns = []
        for p in positions:
            column = []
            for op in items[p][2]:
                if op.spec.parametric:
                    column.append(("rotation", len(rotations)))
                    rotations.append(op)
                else:
                    column.append(("fixed", len(fixed)))
                    fixed.append(op.spec.fixed_matrix())
            columns.append(column)
        identity = len(rotations) + len(fixed)
        depth = max(len(c) for c in columns)
        order = np.full((depth, len(positions)), identity, dtype=np.int64)
        for j, column in enumerate(columns):
            for k, (kind, index) in enumerate(column):
                order[k, j] = index if kind == "rotation" else len(rotations) + index
        sources: list[DataSource] = []
        source_slots: list[Data] = []
        for op in rotations:
            for slot in op.rotation_angle.data:
                if _resolve(slot, preacts) not in sources:
                    sources.append(_resolve(slot, preacts))
                    source_slots.append(slot)
        theta_coef = np.zeros((n_slots, len(rotations)))
        data_coef = np.zeros((len(sources), len(rotations)))
        for g, op in enumerate(rotations):
            for term, coef in op.rotation_angle.terms:
                if isinstance(term, Theta):
                    theta_coef[np.ravel_multi_index(term.index, theta_shape), g] += coef
                else:
                    data_coef[sources.index(_resolve(term, preacts)), g] += coef
        generators = np.array([-1j * PAULI[op.spec.axis] for op in rotations]).reshape(-1, 2, 2)
        fixed_table = np.array(fixed + [np.eye(2)]).reshape(-1, 2, 2)
        groups.append(
            OperandGroup(
                labels,
                positions,
                diagonal,
                order,
                theta_coef,
                tuple(source_slots),
                data_coef,
                np.array([op.rotation_angle.const for op in rotations]),
                np.diagonal(generators, axis1=1, axis2=2).copy() if diagonal else generators,
                np.diagonal(fixed_table, axis1=1, axis2=2).copy() if diagonal else fixed_table,
            )
        )
    return groups


class OperandBuilder:
    """Builds the per-edge tensors of a network (positions planned by :func:`plan_groups`); constants
    (host arrays above) are moved to each dtype and device once."""

    def __init__(self, groups: list[OperandGroup], geometry: LayerGeometry):
        self.groups, self.geometry = groups, geometry
        self._constants: dict[tuple, list[dict[str, torch.Tensor]]] = {}

    def _device_constants(self, dtype: torch.dtype, cdtype: torch.dtype, device: torch.device):
        key = (dtype, device)
        if key not in self._constants:

            def real(a):
                return torch.as_tensor(a, dtype=dtype, device=device)

            def complex_(a):
                return torch.as_tensor(a, dtype=cdtype, device=device)

            self._constants[key] = [
                dict(
                    half_theta=real(g.theta_coef * 0.5),
                    half_data=real(g.data_coef * 0.5),
                    half_const=real(g.const * 0.5),
                    eye=complex_(np.ones(2) if g.diagonal else np.eye(2)),
                    generators=complex_(g.generators),
                    fixed=complex_(g.fixed),
                    order=torch.as_tensor(g.order, device=device),
                )
                for g in self.groups
            ]
        return self._constants[key]

    def build(self, x: torch.Tensor, params: LayerParams, cdtype: torch.dtype) -> dict[int, torch.Tensor]:
        """position -> contiguous complex tensor with the position's labels (edge labels, then wires)."""
        out: dict[int, torch.Tensor] = {}
        if not self.groups:
            return out
        constants = self._device_constants(x.dtype, cdtype, x.device)
        o, i = self.geometry.out_dim, self.geometry.in_dim
        sizes = {OUT: o, IN: i, BATCH: x.shape[0]}
        uses_theta = any(g.uses_theta for g in self.groups)
        theta = expand_edges(params.theta, self.geometry).reshape(o, i, -1) if uses_theta else None
        data = DataAngles(x, params, self.geometry)
        for group, c in zip(self.groups, constants):
            half = self._half_angles(group, c, theta, data)  # (O|1, I|1, B|1, rotations)
            gate = (1,) if group.diagonal else (1, 1)  # the trailing axes of one table entry
            cos, sin = (t.reshape(*half.shape, *gate).to(cdtype) for t in (torch.cos(half), torch.sin(half)))
            rotations = on_edges(cos * c["eye"] + sin * c["generators"], group.edge_labels, sizes)
            entry = rotations.dim() - len(gate) - 1  # the axis of table entries
            product = rotations if group.one_rotation_each else self._product(group, c, rotations, entry)
            for j, position in enumerate(group.positions):
                out[position] = product.select(entry, j).contiguous()
        return out

    @staticmethod
    def _product(group: OperandGroup, c: dict, rotations: torch.Tensor, entry: int) -> torch.Tensor:
        """Each tensor's gates multiplied in circuit order (elementwise for diagonals), entry axis ``entry``."""
        fixed = c["fixed"].expand(*rotations.shape[:entry], *c["fixed"].shape)
        table = torch.cat((rotations, fixed), dim=entry)
        product = table.index_select(entry, c["order"][0])
        for k in range(1, group.order.shape[0]):
            step = table.index_select(entry, c["order"][k])
            product = step * product if group.diagonal else step @ product
        return product

    @staticmethod
    def _half_angles(group: OperandGroup, c: dict, theta: Optional[torch.Tensor], data: DataAngles) -> torch.Tensor:
        half = c["half_const"].view(1, 1, 1, -1)
        if group.uses_theta:
            half = half + (theta @ c["half_theta"])[:, :, None, :]
        for d, slot in enumerate(group.source_slots):
            value = data(slot).permute(1, 2, 0)  # (B, O|1, I) -> (O|1, I, B)
            half = half + value[..., None] * c["half_data"][d]
        return half


def on_edges(tensor: torch.Tensor, edge_labels: str, sizes: dict) -> torch.Tensor:
    """(O|1, I|1, B|1, ...) -> only the dims in ``edge_labels``, expanded to full size."""
    for dim, label in reversed(list(enumerate(EDGE_ORDER))):
        if label in edge_labels:
            tensor = tensor.expand(*tensor.shape[:dim], sizes[label], *tensor.shape[dim + 1 :])
        else:
            tensor = tensor.select(dim, 0)
    return tensor


def block_ops(source: Union[Op, FusedBlock, str]) -> tuple[Op, ...]:
    """The ops of a network tensor's source, in circuit order (ValueError for a source without gates)."""
    if isinstance(source, str):
        raise ValueError(f"the network tensor {source!r} holds no gates")
    return source.ops if isinstance(source, FusedBlock) else (source,)
