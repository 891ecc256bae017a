"""BSplineKAN: the efficient-KAN layer (the "JHCG" KAN of the published benchmarks).

y_o = sum_i [ w_base[o, i] silu(x_i) + scaler[o, i] sum_k c[o, i, k] B_k(x_i) ],
B_k the cubic (``spline_order``) B-splines on a uniform grid over ``grid_range`` extended by
``spline_order`` knots on each side; outside the extended grid only the SiLU branch remains. The
spline branch is contracted block by block (basis_contraction): the (batch, in, K) bases are never
held whole.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import basis_cuda
from .base import BaselineLayer, Device, check_positive_int, check_range, factory_kwargs
from .basis_contraction import contract, use_kernels


def bspline_basis(x: torch.Tensor, grid: torch.Tensor, order: int) -> torch.Tensor:
    """B-spline bases (N, I, M - 1 - order) of x (N, I) on per-input knots ``grid`` (I, M), by the
    Cox-de Boor recursion from the degree-0 indicator of each knot interval."""
    x = x[..., None]
    bases = ((x >= grid[:, :-1]) & (x < grid[:, 1:])).to(x.dtype)
    for p in range(1, order + 1):
        left = (x - grid[:, : -(p + 1)]) / (grid[:, p:-1] - grid[:, : -(p + 1)])
        right = (grid[:, p + 1 :] - x) / (grid[:, p + 1 :] - grid[:, 1:-p])
        bases = left * bases[..., :-1] + right * bases[..., 1:]
    return bases


class BSplineBasis:
    """B-splines of the inputs [start, stop) of z (N, I) on their knots, and the input gradient through
    dB_k,p = p (B_k,p-1 / (t_k+p - t_k) - B_k+1,p-1 / (t_k+p+1 - t_k+1)) (CUDA kernels of basis_cuda for
    CUDA float32/float64 up to order basis_cuda.MAX_ORDER, else torch)."""

    def __init__(self, grid: torch.Tensor, order: int):
        self.grid, self.order = grid, order

    def _kernels(self, z: torch.Tensor) -> bool:
        return self.order <= basis_cuda.MAX_ORDER and use_kernels(z)

    def values(self, z: torch.Tensor, start: int = 0, stop: Optional[int] = None) -> torch.Tensor:
        stop = z.shape[1] if stop is None else stop
        if self._kernels(z):
            return basis_cuda.bspline_values(z, self.grid.contiguous(), self.order, start, stop)
        return bspline_basis(z[:, start:stop], self.grid[start:stop], self.order)

    def write_input_gradient(
        self, z: torch.Tensor, start: int, stop: int, dbases: torch.Tensor, dz: torch.Tensor
    ) -> Optional[torch.Tensor]:
        if self._kernels(z):
            basis_cuda.bspline_input_grad(z, self.grid.contiguous(), self.order, start, stop, dbases, dz)
            return None
        grid, p = self.grid[start:stop], self.order
        x = z[:, start:stop, None]
        lower = bspline_basis(z[:, start:stop], grid, p - 1)
        below, above = grid[:, p:-1] - grid[:, : -(p + 1)], grid[:, p + 1 :] - grid[:, 1:-p]
        dz[:, start:stop] = (dbases * (p * (lower[..., :-1] / below - lower[..., 1:] / above))).sum(-1)
        # the recursion's last step (bspline_basis's own expressions): the order-p values, for dW
        left = (x - grid[:, : -(p + 1)]) / below
        right = (grid[:, p + 1 :] - x) / above
        return left * lower[..., :-1] + right * lower[..., 1:]


class BSplineKAN(BaselineLayer):
    """efficient-KAN's KANLinear: a SiLU base branch plus a scaled cubic B-spline branch per edge."""

    grid: torch.Tensor  # a buffer (in_dim, knots)

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        grid_size: int = 5,
        spline_order: int = 3,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        scale_noise: float = 0.1,
        scale_base: float = 1.0,
        scale_spline: float = 1.0,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_dim, out_dim)
        self.grid_size = check_positive_int("grid_size", grid_size)
        self.spline_order = check_positive_int("spline_order", spline_order)
        self.grid_range = check_range("grid_range", grid_range)
        self.scale_noise, self.scale_base, self.scale_spline = (
            float(scale_noise),
            float(scale_base),
            float(scale_spline),
        )
        factory = factory_kwargs(device, dtype)
        step = (self.grid_range[1] - self.grid_range[0]) / grid_size
        knots = self.grid_range[0] + step * torch.arange(-spline_order, grid_size + spline_order + 1, **factory)
        self.register_buffer("grid", knots.expand(in_dim, -1).contiguous())
        self.base_weight = nn.Parameter(torch.empty(out_dim, in_dim, **factory))
        self.spline_weight = nn.Parameter(torch.empty(out_dim, in_dim, grid_size + spline_order, **factory))
        self.spline_scaler = nn.Parameter(torch.empty(out_dim, in_dim, **factory))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Base weight and spline scaler as torch.nn.Linear (gain set by scale_base / scale_spline);
        spline coefficients uniform noise of width scale_noise / grid_size (small initial curves)."""
        nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5) * self.scale_base)
        nn.init.kaiming_uniform_(self.spline_scaler, a=math.sqrt(5) * self.scale_spline)
        with torch.no_grad():
            self.spline_weight.uniform_(-0.5, 0.5).mul_(self.scale_noise / self.grid_size)

    def _scaled_spline_weight(self) -> torch.Tensor:
        return self.spline_weight * self.spline_scaler[..., None]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        lead, rows = x.shape[:-1], x.reshape(-1, self.in_dim)
        basis = BSplineBasis(self.grid, self.spline_order)
        y = F.linear(F.silu(rows), self.base_weight) + contract(rows, self._scaled_spline_weight(), basis)
        return y.reshape(*lead, self.out_dim)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_dim, in_dim): each edge's base + spline value; sums over inputs to ``forward``."""
        self._check_input(x, exact_rank=2)
        bases = bspline_basis(x, self.grid, self.spline_order)  # (B, I, K)
        spline = torch.einsum("bik,oik->boi", bases, self._scaled_spline_weight())
        return spline + F.silu(x)[:, None, :] * self.base_weight

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, grid_size={self.grid_size}, "
            f"spline_order={self.spline_order}, grid_range={self.grid_range}"
        )
