"""qkan.solvers: backends that compile a circuit IR into a differentiable layer Program."""
from .auto import explain
from .base import LayerGeometry, LayerParams, Program, Solver, UnsupportedCircuit
from .cutn import CutnSolver
from .exact import ExactSolver
from .flash import FlashSolver
from .registry import check_options, compile, get_solver, register_solver, resolve, solver_names, supported_solvers

register_solver(ExactSolver())
register_solver(CutnSolver())
register_solver(FlashSolver())

__all__ = [
    "LayerGeometry", "check_options", "explain", "LayerParams", "Program", "Solver", "UnsupportedCircuit", "compile", "get_solver",
    "register_solver", "resolve", "solver_names", "supported_solvers",
]
