"""The flash solver (docs/design.md, "Flash kernels"): fused CUDA kernels generated from a circuit of 1 to 5
qubits. plan -> walk / fourier / statevector (emitters) -> kernels (source) -> launch (FlashKernels) -> ops ->
solver."""

from .fourier import FourierCodegen, make_codegen
from .launch import FlashKernels, backward_tiling
from .plan import FourierPlan, WalkPlan, fourier_form
from .solver import FlashProgram, FlashSolver
from .statevector import StatevectorCodegen
from .statevector_plan import MAX_FLASH_QUBITS, StatevectorPlan
from .walk import WalkCodegen

__all__ = [
    "FlashKernels",
    "FlashProgram",
    "FlashSolver",
    "FourierCodegen",
    "FourierPlan",
    "MAX_FLASH_QUBITS",
    "StatevectorCodegen",
    "StatevectorPlan",
    "WalkCodegen",
    "WalkPlan",
    "backward_tiling",
    "fourier_form",
    "make_codegen",
]
