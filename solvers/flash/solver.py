"""The flash solver: fused CUDA kernels generated from a circuit of 1 to 5 qubits, compiled with CuPy and
launched on torch's stream (docs/design.md, "Flash kernels"); notes and measurements: docs/notes/flash.md."""

from __future__ import annotations

import hashlib
import math
from typing import Any, Optional

import torch
from torch import Tensor

from qkan.circuits import Circuit

from ..activations import base_activation_fn
from ..base import LayerGeometry, LayerParams, Program, Solver
from ..cuda_runtime import cupy_available
from .fourier import make_codegen
from .launch import FlashKernels
from .ops import flash_apply, register_kernels
from .statevector_plan import multiqubit_refusal

COMPUTE_DTYPE = {
    torch.float32: torch.float32,
    torch.float64: torch.float64,
    torch.bfloat16: torch.float32,
    torch.float16: torch.float32,
}


REDUCED_IO = (torch.bfloat16, torch.float16)  # read and written by the kernels themselves over float32 compute


class FlashProgram(Program):
    """Runs the generated kernels (``ops.flash_apply``: custom ops when compiled, an autograd Function in
    eager mode). Computes in float32 or float64; x, the output and grad_x may be bf16/fp16 over float32, which
    the kernels read and write themselves (no cast round trip through float32 tensors)."""

    def __init__(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        device: torch.device,
        fourier: Optional[bool],
    ):
        super().__init__(circuit, geometry, dtype, device)
        self.compute_dtype = COMPUTE_DTYPE[dtype]
        self.kernels = FlashKernels(make_codegen(circuit, geometry, fourier))
        digest = hashlib.sha1(self.kernels.codegen.source.encode()).hexdigest()[:16]
        self.key = register_kernels(f"{digest}-{geometry.in_dim}x{geometry.out_dim}", self.kernels)
        self.callable_base = self.kernels.codegen.plan.base is None

    def accepts_input(self, dtype: torch.dtype) -> bool:
        return dtype == self.dtype or (self.compute_dtype == torch.float32 and dtype in REDUCED_IO)

    def _run(self, edge: bool, x: Tensor, params: LayerParams) -> Tensor:
        x_io = x.contiguous() if self.accepts_input(x.dtype) and x.dtype in REDUCED_IO else self._compute_form(x)
        return flash_apply(self.key, edge, x_io, *(self._compute_form(t) for t in params))

    def _compute_form(self, t: Tensor) -> Tensor:
        """``t`` contiguous in the compute dtype (returned as is when it already is: the common case costs
        no dispatcher call)."""
        if t.dtype == self.compute_dtype and t.is_contiguous():
            return t
        return t.to(self.compute_dtype).contiguous()

    def layer_output(self, x: Tensor, params: LayerParams) -> Tensor:
        y = self._run(False, x, params)
        if self.callable_base:
            weight = params.mask * params.base_weight
            sigma = base_activation_fn(self.geometry.base_activation)(x.to(weight.dtype))
            y = y + (sigma @ weight.T).to(y.dtype)
        return y

    def circuit_values(self, x: Tensor, params: LayerParams) -> Tensor:
        return self._run(True, x, params)


class FlashSolver(Solver):
    """Fused CUDA kernels for any circuit of up to MAX_FLASH_QUBITS qubits whose fixed multi-qubit gates
    permute basis states (CUDA + CuPy; float32/64 compute, bf16/fp16 I/O)."""

    name = "flash"
    options = {"fourier": None}
    auto_rank = {"cuda": 0}

    def unsupported_reason(self, circuit, geometry, dtype, device) -> Optional[str]:
        if circuit.n_qubits > 1 and (reason := multiqubit_refusal(circuit)):
            return reason
        if torch.device(device).type != "cuda":
            return (
                f"flash runs on CUDA GPUs, got device {torch.device(device)}; use solver='exact' or solver='cutn' there"
            )
        if not cupy_available():
            return (
                "flash needs CuPy and a CUDA device (pip install cupy-cuda12x or cupy-cuda13x); "
                "use solver='exact' or solver='cutn' meanwhile"
            )
        if dtype not in COMPUTE_DTYPE:
            return f"flash computes float32/float64 (bf16 and fp16 through float32), got {dtype}"
        return None

    def build(self, circuit, geometry, dtype, device, **options: Any) -> FlashProgram:
        """``fourier``: None uses the Fourier-series kernels wherever the circuit allows, False always the
        gate-walk kernels, True insists on Fourier."""
        fourier = options["fourier"]
        if fourier not in (None, True, False):
            raise TypeError(f"fourier must be None, True or False, got {fourier!r}")
        return FlashProgram(circuit, geometry, dtype, torch.device(device), fourier)

    def estimate_bytes(self, circuit, geometry, dtype, batch) -> int:
        """Outputs, the input gradient and per-tile parameter partials: O(B (O + I)), never B x O x I."""
        real = torch.finfo(dtype).bits // 8
        per_edge = 8 + max(1, math.prod(circuit.parameter_shape))
        return real * (
            batch * (geometry.out_dim + geometry.in_dim) + 64 * geometry.out_dim * geometry.in_dim * per_edge
        )
