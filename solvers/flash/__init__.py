"""The flash solver (docs/design.md, "Flash kernels"): fused CUDA kernels generated from a single-qubit
circuit. plan -> walk / fourier (emitters) -> kernels (source) -> launch (FlashKernels) -> ops -> solver."""

from .fourier import FourierCodegen, make_codegen
from .launch import FlashKernels, backward_tiling
from .plan import FourierPlan, WalkPlan, fourier_form
from .solver import FlashProgram, FlashSolver
from .walk import WalkCodegen

__all__ = [
    "FlashKernels",
    "FlashProgram",
    "FlashSolver",
    "FourierCodegen",
    "FourierPlan",
    "WalkCodegen",
    "WalkPlan",
    "backward_tiling",
    "fourier_form",
    "make_codegen",
]
