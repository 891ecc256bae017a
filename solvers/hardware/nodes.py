"""Fourier nodes (docs/math.md, "Hardware solvers"): an edge's readout probability P(0) is a trigonometric
polynomial in each data variable, so its values on a fixed grid of nodes give it exactly for every sample.

A data variable is what a data gate's angle reads: the raw input x (shared by every raw re-upload), or one
re-upload's w x + c (affine) or arccos(w x + c). A variable entering the gates with coefficients n_j / d has
degree K = sum |n_j| in u = v / d, so 2K + 1 equispaced nodes per variable, and their tensor grid, fix P(0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np
import torch

from qkan.circuits import Circuit, Data

MAX_NODE_DENOMINATOR = 4  # data coefficients n / d with d up to this have a node grid


def variable_key(slot: Data, preacts: bool) -> Data:
    """The variable a data slot reads, as a canonical slot: raw x is one variable for every re-upload."""
    encoding = slot.resolved_encoding(preacts)
    return Data(0, "raw") if encoding == "raw" else Data(slot.rep, encoding)


@dataclass(frozen=True)
class NodeVariable:
    """One data variable: the slot that computes it, the denominator d of its coefficients and its degree in v / d."""

    slot: Data
    denominator: int
    degree: int

    @property
    def count(self) -> int:
        return 2 * self.degree + 1

    def nodes(self) -> np.ndarray:
        """The variable's values at its 2K + 1 nodes: v_m = d * 2 pi m / (2K + 1)."""
        return self.denominator * 2 * math.pi * np.arange(self.count) / self.count

    def weights(self, value: torch.Tensor) -> torch.Tensor:
        """(..., 2K + 1): the trigonometric interpolation weights L_m(v), sum_m P(v_m) L_m(v) = P(v) for
        a polynomial of degree K in u = v / d (L_m(u) = (1 + 2 sum_k cos(k (u - u_m))) / (2K + 1))."""
        u = value[..., None] / self.denominator
        u_nodes = torch.as_tensor(self.nodes() / self.denominator, dtype=value.dtype, device=value.device)
        k = torch.arange(1, self.degree + 1, dtype=value.dtype, device=value.device)
        cos = torch.cos(k[:, None] * u_nodes)  # (K, N)
        sin = torch.sin(k[:, None] * u_nodes)
        terms = torch.cos(u * k) @ cos + torch.sin(u * k) @ sin  # (..., N)
        return (1 + 2 * terms) / self.count


@dataclass(frozen=True)
class NodeGrid:
    """The tensor grid of every variable's nodes: ``size`` circuits per edge, whatever the batch."""

    variables: tuple[NodeVariable, ...]

    @property
    def size(self) -> int:
        return math.prod(v.count for v in self.variables)

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(v.count for v in self.variables)

    def points(self) -> dict[Data, np.ndarray]:
        """Each variable's value at every grid point (C order over ``shape``), (size,) per variable."""
        mesh = np.meshgrid(*(v.nodes() for v in self.variables), indexing="ij")
        return {v.slot: m.reshape(-1) for v, m in zip(self.variables, mesh)}


def node_grid(circuit: Circuit, preacts: bool) -> NodeGrid:
    """The node grid of a circuit in a layer with (``preacts``) or without trainable pre-activations;
    ValueError where a data coefficient is not n / d with d <= MAX_NODE_DENOMINATOR."""
    coefficients: dict[Data, list[Fraction]] = {}
    for op in circuit.ops:
        if op.angle is None:
            continue
        per_op: dict[Data, float] = {}
        for slot, coef in op.angle.terms:
            if isinstance(slot, Data):
                key = variable_key(slot, preacts)
                per_op[key] = per_op.get(key, 0.0) + coef
        for key, total in per_op.items():
            fraction = Fraction(total).limit_denominator(1000)
            if abs(float(fraction) - total) > 1e-12 or fraction.denominator > MAX_NODE_DENOMINATOR:
                raise ValueError(
                    f"evaluation='fourier_nodes' needs data coefficients n/d with d <= {MAX_NODE_DENOMINATOR}, "
                    f"got {total!r} in {op}; use evaluation='per_sample'"
                )
            coefficients.setdefault(key, []).append(fraction)
    variables = []
    for key, fractions in coefficients.items():
        d = math.lcm(*(f.denominator for f in fractions))
        degree = sum(abs(int(f * d)) for f in fractions)
        if degree:
            variables.append(NodeVariable(key, d, degree))
    return NodeGrid(tuple(variables))


def interpolate(
    node_values: torch.Tensor, grid: NodeGrid, variable_values: dict[Data, torch.Tensor], batch: int
) -> torch.Tensor:
    """P per sample from P at the nodes: ``node_values`` (O, I, size), each variable's value (B, O|1, I)
    -> (B, O, I); differentiable in both (x, w and c reach it through the weights)."""
    out, edges_in = node_values.shape[:2]
    if not grid.variables:
        return node_values[None, :, :, 0].expand(batch, out, edges_in)
    letters = "klmnpqrstuvw"[: len(grid.variables)]
    operands = [node_values.reshape(out, edges_in, *grid.shape)]
    spec = ["oi" + letters]
    for letter, variable in zip(letters, grid.variables):
        operands.append(variable.weights(variable_values[variable.slot]).expand(-1, out, -1, -1))
        spec.append("boi" + letter)
    return torch.einsum(",".join(spec) + "->boi", *operands)
