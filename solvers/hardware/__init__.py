"""Hardware solvers: layers whose edge circuits run on qiskit-aer, PennyLane or CUDA-Q (exact, sampled or noisy),
per sample or at batch-independent Fourier nodes (docs/math.md, "Hardware solvers")."""

from .cost import CostReport, cost_report
from .cudaq_solver import CudaqSolver
from .nodes import NodeGrid, node_grid
from .pennylane_solver import PennyLaneSolver
from .qiskit_solver import QiskitSolver
from .solver import EVALUATIONS, HardwareSolver

__all__ = [
    "EVALUATIONS",
    "CostReport",
    "CudaqSolver",
    "HardwareSolver",
    "NodeGrid",
    "PennyLaneSolver",
    "QiskitSolver",
    "cost_report",
    "node_grid",
]
