"""SplineKAN: one uniform degree-1 spline (piecewise-linear function) per edge, evaluated in constant
time per (sample, edge) whatever the grid size.

Knots x_k = low + k h (k = 0..G) on ``grid_range``; edge (o, i) stores its values V[i, k, o] at the
knots (laid out as a gather table: input, knot, output). For u = (x - low) / h, segment
k = clamp(floor(u), 0, G - 1) and t = u - k:
    f(x) = (1 - t) V[i, k, o] + t V[i, k + 1, o],
which for x outside the grid continues the first or last segment linearly (t < 0 or t > 1): the
out-of-range policy. Like the other baselines the layer does not check values: a NaN or inf input
gives NaN (or inf) in its output row. The lookup itself lives in spline_lookup (CPU) and spline_cuda
(CUDA kernels). The grid is fixed at construction, as before (no grid update or extension).
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from qkan.solvers.cuda_runtime import cupy_available

from .base import BaselineLayer, Device, check_positive_int, check_range, factory_kwargs, init_like_linear
from .spline_lookup import SplineLookupTorch, segments

INITS = ("linear", "identity")
BACKENDS = ("auto", "torch", "cuda")


class SplineKAN(BaselineLayer):
    """y_o = sum_i f_oi(x_i), each f_oi piecewise linear on ``grid_size`` uniform segments."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        grid_size: int = 8,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        init: str = "linear",
        backend: str = "auto",
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_dim, out_dim)
        self.grid_size = check_positive_int("grid_size", grid_size)
        self.grid_range = check_range("grid_range", grid_range)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
        self.init, self.backend = init, backend
        self.step = (self.grid_range[1] - self.grid_range[0]) / grid_size
        self.inv_step = grid_size / (self.grid_range[1] - self.grid_range[0])
        factory = factory_kwargs(device, dtype)
        self.knot_values = nn.Parameter(torch.empty(in_dim, grid_size + 1, out_dim, **factory))
        self.reset_parameters()

    def knots(self) -> torch.Tensor:
        """(G + 1,) knot positions x_k."""
        p = self.knot_values
        return self.grid_range[0] + self.step * torch.arange(self.grid_size + 1, dtype=p.dtype, device=p.device)

    def reset_parameters(self) -> None:
        """ "linear": f_oi(x) = w_oi x with w drawn as torch.nn.Linear's weight (the layer starts as a
        bias-free Linear); "identity": f_oi(x) = x if o == i else 0 (y = x for a square layer)."""
        p = self.knot_values
        with torch.no_grad():
            if self.init == "linear":
                weight = torch.empty(self.out_dim, self.in_dim, dtype=p.dtype, device=p.device)
                init_like_linear(weight)
            else:
                weight = torch.eye(self.out_dim, self.in_dim, dtype=p.dtype, device=p.device)
            p.copy_(weight.T[:, None, :] * self.knots()[None, :, None])

    def _use_kernel(self, x: torch.Tensor) -> bool:
        from .spline_cuda import SUPPORTED_DTYPES

        kernel_ok = x.is_cuda and x.dtype in SUPPORTED_DTYPES and cupy_available()
        if self.backend == "cuda" and not kernel_ok:
            raise RuntimeError(
                f"backend='cuda' needs a CUDA float32/float64 input and CuPy; got a {x.dtype} input on {x.device}; "
                "use backend='torch'"
            )
        return self.backend == "cuda" or (self.backend == "auto" and kernel_ok)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        lead, rows = x.shape[:-1], x.reshape(-1, self.in_dim)
        if rows.dtype != self.knot_values.dtype:  # autocast: the lookup runs at the parameters' precision
            rows = rows.to(self.knot_values.dtype)
        if self._use_kernel(rows):
            from .spline_cuda import spline_lookup_cuda

            y = spline_lookup_cuda(rows, self.knot_values, self.grid_range[0], self.inv_step)
        else:
            y = SplineLookupTorch.apply(rows, self.knot_values, self.grid_range[0], self.inv_step)
        return y.reshape(*lead, self.out_dim)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_dim, in_dim): f_oi(x_i); sums over inputs to ``forward`` (the torch reference: it
        gathers a (B, in_dim, out_dim) block, so it is for checks, plots and small layers)."""
        self._check_input(x, exact_rank=2)
        k, t = segments(x, self.grid_range[0], self.inv_step, self.grid_size)
        inputs = torch.arange(self.in_dim, device=x.device)
        v = self.knot_values
        lower, upper = v[inputs, k], v[inputs, k + 1]  # (B, I, O)
        return ((1 - t)[..., None] * lower + t[..., None] * upper).permute(0, 2, 1)

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, grid_size={self.grid_size}, "
            f"grid_range={self.grid_range}, init={self.init}, backend={self.backend}"
        )
