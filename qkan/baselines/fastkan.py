"""FastKAN: radial basis functions in place of B-splines, with a LayerNorm in front.

y_o = sum_i [ sum_k W[o, i, k] phi((z_i - c_k) / h) + w_base[o, i] silu(x_i) ] + b_o,
z = LayerNorm(x), centres c_k uniform on ``grid_range``, h their spacing, and phi one of BASES:
"gaussian" exp(-d^2) (fast-kan's), "expit" 1 / (exp(-|d|^p) + 1) with p = ``exponent``. The bases are
contracted block by block (basis_contraction), so the (batch, in, grid) basis is never held whole.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from . import basis_cuda
from .base import BaselineLayer, Device, check_positive_int, check_range, factory_kwargs, init_like_linear
from .basis_contraction import contract, use_kernels

BASES = ("gaussian", "expit")


class RadialBasis:
    """phi((z - c_k) / h) for the inputs [start, stop) of z (N, I), and its input gradient (CUDA kernels of
    basis_cuda for CUDA float32/float64, else torch)."""

    def __init__(self, centers: torch.Tensor, width: float, kind: str, exponent: float):
        self.centers, self.width, self.kind, self.exponent = centers, width, kind, exponent

    def values(self, z: torch.Tensor, start: int = 0, stop: Optional[int] = None) -> torch.Tensor:
        if z.dim() == 2 and use_kernels(z):
            stop = z.shape[1] if stop is None else stop
            return basis_cuda.rbf_values(z, self.centers, self.width, self.kind == "expit", self.exponent, start, stop)
        d = z[..., start:stop, None] - self.centers
        if self.kind == "gaussian":
            return torch.exp(-((d / self.width) ** 2))
        return torch.sigmoid((d / self.width).abs() ** self.exponent)

    def write_input_gradient(
        self, z: torch.Tensor, start: int, stop: int, dbases: torch.Tensor, dz: torch.Tensor
    ) -> Optional[torch.Tensor]:
        if use_kernels(z):
            expit = self.kind == "expit"
            basis_cuda.rbf_input_grad(z, self.centers, self.width, expit, self.exponent, start, stop, dbases, dz)
            return None
        scaled = (z[:, start:stop, None] - self.centers) / self.width
        if self.kind == "gaussian":
            phi = torch.exp(-(scaled**2))
            slope = phi * scaled * (-2 / self.width)
        else:
            magnitude = scaled.abs()
            phi = torch.sigmoid(magnitude**self.exponent)
            slope = phi * (1 - phi) * self.exponent * magnitude ** (self.exponent - 1) * scaled.sign() / self.width
        dz[:, start:stop] = (dbases * slope).sum(-1)
        return phi


class FastKAN(BaselineLayer):
    """LayerNorm -> radial basis expansion -> linear, plus a linear SiLU base branch."""

    centers: torch.Tensor  # a buffer (num_grids,)

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        num_grids: int = 8,
        grid_range: tuple[float, float] = (-2.0, 2.0),
        use_base_update: bool = True,
        spline_weight_init_scale: float = 0.1,
        basis: str = "gaussian",
        exponent: float = 2.0,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_dim, out_dim)
        self.num_grids = check_positive_int("num_grids", num_grids)
        if num_grids < 2:
            raise ValueError(f"num_grids must be at least 2 (the RBF width is the centre spacing), got {num_grids}")
        self.grid_range = check_range("grid_range", grid_range)
        if basis not in BASES:
            raise ValueError(f"unknown basis {basis!r}; expected one of {BASES}")
        exponent = float(exponent)
        if not (math.isfinite(exponent) and exponent >= 1):
            raise ValueError(
                f"exponent must be a finite number >= 1 (the basis slope is unbounded below 1), got {exponent}"
            )
        self.basis, self.exponent = basis, exponent
        self.use_base_update = bool(use_base_update)
        self.spline_weight_init_scale = float(spline_weight_init_scale)
        factory = factory_kwargs(device, dtype)
        self.width = (self.grid_range[1] - self.grid_range[0]) / (num_grids - 1)
        self.register_buffer("centers", torch.linspace(*self.grid_range, num_grids, **factory), persistent=False)
        self.layernorm = nn.LayerNorm(in_dim, **factory)
        self.spline_weight = nn.Parameter(torch.empty(out_dim, in_dim, num_grids, **factory))
        if self.use_base_update:
            self.base_weight = nn.Parameter(torch.empty(out_dim, in_dim, **factory))
            self.base_bias = nn.Parameter(torch.empty(out_dim, **factory))
        else:
            self.register_parameter("base_weight", None)
            self.register_parameter("base_bias", None)
        self.reset_parameters()

    def _reference_parameter(self) -> torch.Tensor:
        return self.spline_weight

    def reset_parameters(self) -> None:
        """LayerNorm to identity, RBF weights truncated normal (std spline_weight_init_scale), base branch as
        torch.nn.Linear."""
        self.layernorm.reset_parameters()
        nn.init.trunc_normal_(self.spline_weight, std=self.spline_weight_init_scale)
        if self.use_base_update:
            init_like_linear(self.base_weight, self.base_bias)

    def _radial_basis(self) -> RadialBasis:
        return RadialBasis(self.centers, self.width, self.basis, self.exponent)

    def _basis(self, x: torch.Tensor) -> torch.Tensor:
        """(..., I, G) radial bases of the normalised input (held whole: for edge_values and checks)."""
        return self._radial_basis().values(self.layernorm(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        lead = x.shape[:-1]
        z = self.layernorm(x).reshape(-1, self.in_dim)
        y = contract(z, self.spline_weight, self._radial_basis()).reshape(*lead, self.out_dim)
        if self.use_base_update:
            y = y + F.linear(F.silu(x), self.base_weight, self.base_bias)
        return y

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_dim, in_dim): each edge's RBF + base value; summed over inputs plus ``base_bias``
        gives ``forward`` (edge (o, i) depends on all inputs through the LayerNorm)."""
        self._check_input(x, exact_rank=2)
        values = torch.einsum("big,oig->boi", self._basis(x), self.spline_weight)
        if self.use_base_update:
            values = values + F.silu(x)[:, None, :] * self.base_weight
        return values

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, num_grids={self.num_grids}, "
            f"grid_range={self.grid_range}, use_base_update={self.use_base_update}, basis={self.basis}, "
            f"exponent={self.exponent}"
        )
