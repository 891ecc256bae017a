"""What a hardware backend runs: rows of gate angles through one circuit template, (P(0), P(1)) of the readout
qubit per row (each computed directly, so amp = sqrt(P(0)) - sqrt(P(1)) stays accurate at the poles),
in as few jobs as ``job_rows`` allows, counted (circuits, shots, jobs) and behind a progress bar."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Optional

import numpy as np
from tqdm.auto import tqdm

from qkan.circuits import Circuit


@dataclass
class Submitted:
    """Running totals of what an executor sent to its backend."""

    circuits: int = 0
    shots: int = 0
    jobs: int = 0


class Executor(ABC):
    """One circuit's template on one backend; ``probabilities`` evaluates it at many angle rows.

    Column j of a row is the angle of the circuit's j-th rotation (``Circuit.ops`` order)."""

    def __init__(self, circuit: Circuit, shots: Optional[int], job_rows: Optional[int], progress: bool):
        self.circuit = circuit
        self.shots = shots
        self.job_rows = job_rows
        self.progress = progress
        self.submitted = Submitted()

    @property
    def circuits_per_row(self) -> int:
        """Circuits the backend runs per angle row (more than one where mitigation folds the circuit)."""
        return 1

    def jobs(self, rows: int) -> int:
        """Jobs the backend runs for one ``_run`` of ``rows`` rows (more than one where it launches per row group)."""
        return 1

    def probabilities(self, angles: np.ndarray) -> np.ndarray:
        """(P(0), P(1)) of the readout qubit for every row of ``angles`` (rows, rotations): (rows, 2) float64."""
        rows = angles.shape[0]
        step = rows if self.job_rows is None else self.job_rows
        starts = range(0, rows, max(step, 1))
        out = np.empty((rows, 2))
        for start in tqdm(starts, desc=f"{type(self).__name__} jobs", disable=not self.progress, leave=False):
            chunk = angles[start : start + step]
            out[start : start + step] = self._run(chunk)
            circuits = chunk.shape[0] * self.circuits_per_row
            self.submitted.circuits += circuits
            self.submitted.shots += circuits * (self.shots or 0)
            self.submitted.jobs += self.jobs(chunk.shape[0])
        return out

    @abstractmethod
    def _run(self, angles: np.ndarray) -> np.ndarray:
        """(P(0), P(1)) for each row, in one job: (rows, 2)."""
