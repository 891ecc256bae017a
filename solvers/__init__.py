"""qkan.solvers: backends that compile a circuit IR into a differentiable layer Program.

``auto`` is registered last, like any solver; it looks its candidates up at each choice."""

from .auto import AutoSolver, explain
from .base import LayerGeometry, LayerParams, Program, Solver, UnsupportedCircuit
from .cutn import CutnSolver
from .exact import ExactSolver
from .flash import FlashSolver
from .hardware import CudaqSolver, PennyLaneSolver, QiskitSolver
from .registry import (
    check_options,
    compile,
    get_solver,
    register_solver,
    registered_solvers,
    resolve,
    solver_names,
    supported_solvers,
)

register_solver(ExactSolver())
register_solver(CutnSolver())
register_solver(FlashSolver())
register_solver(QiskitSolver())  # never an auto candidate: empty auto_rank
register_solver(PennyLaneSolver())
register_solver(CudaqSolver())
register_solver(AutoSolver())

__all__ = [
    "AutoSolver",
    "LayerGeometry",
    "LayerParams",
    "Program",
    "Solver",
    "UnsupportedCircuit",
    "check_options",
    "compile",
    "explain",
    "get_solver",
    "register_solver",
    "registered_solvers",
    "resolve",
    "solver_names",
    "supported_solvers",
]
