"""The hardware solvers' Program: gate angles per edge (per sample, or at the Fourier nodes) go to an executor
as rows; P(0) comes back, and the readout is a per-sample function of it (docs/math.md, "Hardware solvers")."""

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
        j for j, op in enumerate(rotations) if (op.angle.thetas if trainable_only else op.angle.terms)  # type: ignore[union-attr]
    )


def probability_readout(p0: torch.Tensor, kind: str) -> torch.Tensor:
    """The readout from P(readout qubit = 0): z = 2 P(0) - 1, amp = sqrt(P(0)) - sqrt(P(1)) (docs/math.md,
    "Readouts"); a sampled P(0) is clipped to [0, 1] first."""
    if kind == "z":
        return 2 * p0 - 1
    p = p0.clamp(0.0, 1.0)
    return torch.sqrt(p) - torch.sqrt(1 - p)


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
        self.rotations = tuple(op for op in circuit.ops if op.angle is not None)
        self.grid = node_grid(circuit, geometry.preacts) if evaluation == "fourier_nodes" else None
        self.columns = rotation_columns(circuit, trainable_only=self.grid is not None)

    def _probabilities(self, theta: torch.Tensor, data: Callable[[Data], torch.Tensor], rows: int) -> torch.Tensor:
        """(O, I, rows) P(0): each rotation's angle from theta (O, I, 1, ...) and data (broadcasting to it)."""
        out, edges_in = self.geometry.out_dim, self.geometry.in_dim
        columns = [evaluate_angle(op.angle, theta, data).expand(out, edges_in, rows) for op in self.rotations]
        angles = torch.stack(columns, -1) if columns else theta.new_zeros(out, edges_in, rows, 0)
        p0 = ShiftedProbabilities.apply(angles.reshape(-1, len(columns)), self.executor, self.columns)
        return p0.reshape(out, edges_in, rows)

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        theta = expand_edges(params.theta, self.geometry).unsqueeze(2)  # (O, I, 1, *theta_shape)
        samples = DataAngles(x, params, self.geometry)
        batch = x.shape[0]
        if self.grid is None:
            p0 = self._probabilities(theta, lambda slot: samples(slot).permute(1, 2, 0), batch).permute(2, 0, 1)
        else:
            points = {slot: torch.as_tensor(v, dtype=x.dtype, device=x.device) for slot, v in self.grid.points().items()}
            nodes = self._probabilities(theta, lambda slot: points[variable_key(slot, self.geometry.preacts)], self.grid.size)
            values = {v.slot: samples(v.slot) for v in self.grid.variables}
            p0 = interpolate(nodes, self.grid, values, batch)
        return probability_readout(p0, self.circuit.measured.kind)

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return layer_sum(self.circuit_values(x, params), x, params, self.geometry)
