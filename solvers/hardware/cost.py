"""What one forward and one backward of a layer send to a hardware backend, computed without running it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from qkan.circuits import Circuit

from ..base import LayerGeometry
from .nodes import node_grid
from .program import rotation_columns


@dataclass(frozen=True)
class CostReport:
    """Circuits and shots per forward and per backward (parameter shift: two circuits per shifted angle)."""

    evaluation: str
    batch: int
    edges: int
    rows_per_edge: int
    circuits_forward: int
    circuits_backward: int
    shots: Optional[int]

    @property
    def shots_forward(self) -> int:
        return self.circuits_forward * (self.shots or 0)

    @property
    def shots_backward(self) -> int:
        return self.circuits_backward * (self.shots or 0)

    def __str__(self) -> str:
        shots = "exact expectation (shots=None)" if self.shots is None else f"{self.shots} shots per circuit"
        return (
            f"evaluation {self.evaluation}, batch {self.batch}: {self.edges} edges x {self.rows_per_edge} "
            f"{'nodes' if self.evaluation == 'fourier_nodes' else 'samples'} per edge; "
            f"forward {self.circuits_forward} circuits ({self.shots_forward} shots), "
            f"backward {self.circuits_backward} circuits ({self.shots_backward} shots); {shots}"
        )


def cost_report(
    circuit: Circuit,
    geometry: LayerGeometry,
    batch: int,
    evaluation: str,
    shots: Optional[int],
    circuits_per_row: int = 1,
) -> CostReport:
    """The cost of a layer at ``batch``: rows are (edge, sample) or (edge, node); each row is
    ``circuits_per_row`` circuits (zero-noise extrapolation runs several foldings)."""
    fourier = evaluation == "fourier_nodes"
    rows_per_edge = node_grid(circuit, geometry.preacts).size if fourier else batch
    edges = geometry.out_dim * geometry.in_dim
    forward = edges * rows_per_edge * circuits_per_row
    backward = 2 * len(rotation_columns(circuit, trainable_only=fourier)) * forward
    return CostReport(evaluation, batch, edges, rows_per_edge, forward, backward, shots)
