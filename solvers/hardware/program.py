"""The hardware solvers' Program: gate angles per edge (per sample, or at the Fourier nodes) go to an executor
as rows; (P(0), P(1)) come back, and the readout is a per-sample function of them (docs/math.md, "Hardware solvers")."""

from __future__ import annotations

from typing import Callable

import torch

from qkan.circuits import Circuit, Data

from ..base import LayerGeometry, LayerParams, Program
from ..layer_math import DataAngles, evaluate_angle, expand_edges, layer_sum
from .executor import Executor
from .nodes import interpolate, node_grid, variable_key
from .shift import ShiftedProbabilities


def rotation_columns(circuit: Circuit, trainable_only: bool) -> tuple[int, ...]:
    """The rotations (indices among the circuit's rotations) whose angle the backward shifts: those with a
    theta term, or (``trainable_only=False``, per-sample evaluation) any theta or data term."""
    rotations = [op for op in circuit.ops if op.angle is not None]
    return tuple(
        j
        for j, op in enumerate(rotations)
        if (op.angle.thetas if trainable_only else op.angle.terms)  # type: ignore[union-attr]
    )


def _root(p: torch.Tensor) -> torch.Tensor:
    """sqrt(p) for p >= 0, 0 (with gradient 0, as |b| at b = 0 in the exact solver) for p <= 0 (a sampled
    or interpolated probability may dip below)."""
    positive = p > 0
    return torch.where(positive, torch.sqrt(torch.where(positive, p, torch.ones_like(p))), torch.zeros_like(p))


def probability_readout(p: torch.Tensor, kind: str) -> torch.Tensor:
    """The readout from (..., 2) = (P(0), P(1)) of the readout qubit: z = P(0) - P(1), amp = sqrt(P(0)) -
    sqrt(P(1)) (docs/math.md, "Readouts")."""
    p0, p1 = p[..., 0], p[..., 1]
    return p0 - p1 if kind == "z" else _root(p0) - _root(p1)


class HardwareProgram(Program):
    """Runs a layer's edge circuits on an executor: ``per_sample`` sends one circuit per (sample, edge);
    ``fourier_nodes`` sends one per (node, edge), whatever the batch, and interpolates on the host."""

    def __init__(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        device: torch.device,
        executor: Executor,
        evaluation: str,
    ):
        super().__init__(circuit, geometry, dtype, device)
        self.executor = executor
        self.evaluation = evaluation
        self.rotations = tuple(op for op in circuit.ops if op.spec.parametric)
        self.grid = node_grid(circuit, geometry.preacts) if evaluation == "fourier_nodes" else None
        self.columns = rotation_columns(circuit, trainable_only=self.grid is not None)

    def _probabilities(self, theta: torch.Tensor, data: Callable[[Data], torch.Tensor], rows: int) -> torch.Tensor:
        """(O, I, rows, 2) (P(0), P(1)): each rotation's angle from theta (O, I, 1, ...) and data (broadcasting)."""
        out, edges_in = self.geometry.out_dim, self.geometry.in_dim
        columns = [evaluate_angle(op.rotation_angle, theta, data).expand(out, edges_in, rows) for op in self.rotations]
        angles = torch.stack(columns, -1) if columns else theta.new_zeros(out, edges_in, rows, 0)
        p = ShiftedProbabilities.apply(angles.reshape(-1, len(columns)), self.executor, self.columns)
        return p.reshape(out, edges_in, rows, 2)

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        theta = expand_edges(params.theta, self.geometry).unsqueeze(2)  # (O, I, 1, *theta_shape)
        samples = DataAngles(x, params, self.geometry)
        batch = x.shape[0]
        if self.grid is None:
            p = self._probabilities(theta, lambda slot: samples(slot).permute(1, 2, 0), batch).permute(2, 0, 1, 3)
        else:
            points = {
                slot: torch.as_tensor(v, dtype=x.dtype, device=x.device) for slot, v in self.grid.points().items()
            }
            nodes = self._probabilities(
                theta, lambda slot: points[variable_key(slot, self.geometry.preacts)], self.grid.size
            )
            values = {v.slot: samples(v.slot) for v in self.grid.variables}
            p = torch.stack([interpolate(nodes[..., k], self.grid, values, batch) for k in range(2)], -1)
        return probability_readout(p, self.circuit.measured.kind)

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return layer_sum(self.circuit_values(x, params), x, params, self.geometry)
