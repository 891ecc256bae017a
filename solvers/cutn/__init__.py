"""The cutn solver (docs/design.md, "Cutn"): each layer is one tensor network contracted by opt_einsum
on CPU and cuTensorNet on CUDA, chunked over the batch under a memory limit."""

from .budget import MemoryLimitTooSmall
from .program import CutnProgram
from .solver import CutnSolver

__all__ = ["CutnProgram", "CutnSolver", "MemoryLimitTooSmall"]
