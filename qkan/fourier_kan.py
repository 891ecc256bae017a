"""FourierKAN: the published ``qkan.FourierKAN``, a KAN whose edge functions are truncated Fourier series
(a classical baseline for QKAN), same parameter names and init."""

from __future__ import annotations

import math
from typing import Any, Sequence, cast

import torch
import torch.nn.functional as F
from torch import nn

from .checks import check_positive_int
from .kan import check_silu, fit_from_qkan, seeded_layers, sum_regularisation
from .published_options import resolve_published


class FourierKANLinear(nn.Module):
    """y_o = sum_i w_base[o, i] silu(x_i) + s[o, i] sum_k (a[o, i, k] cos(k u_i) + b[o, i, k] sin(k u_i)),
    u = x mapped from ``grid_range`` onto [-pi, pi], k = 1..grid_size."""

    freqs: torch.Tensor  # buffers
    input_scale: torch.Tensor
    input_shift: torch.Tensor

    def __init__(
        self,
        in_features: int,
        out_features: int,
        grid_size: int = 5,
        scale_base: float = 1.0,
        scale_fourier: float = 1.0,
        enable_standalone_scale_fourier: bool = True,
        base_activation: Any = nn.SiLU,
        grid_range: Sequence[float] = (-1, 1),
    ):
        super().__init__()
        check_silu(base_activation)
        self.in_features = check_positive_int("in_features", in_features)
        self.out_features = check_positive_int("out_features", out_features)
        self.grid_size = check_positive_int("grid_size", grid_size)
        lo, hi = (float(v) for v in grid_range)
        if not lo < hi:
            raise ValueError(f"grid_range must be (lo, hi) with lo < hi, got {grid_range!r}")
        self.grid_range = [lo, hi]
        self.scale_base, self.scale_fourier = scale_base, scale_fourier
        self.enable_standalone_scale_fourier = enable_standalone_scale_fourier
        self.register_buffer("freqs", torch.arange(1, grid_size + 1, dtype=torch.float32))
        self.register_buffer("input_scale", torch.tensor(2.0 * math.pi / (hi - lo)))
        self.register_buffer("input_shift", torch.tensor(-lo * 2.0 * math.pi / (hi - lo) - math.pi))
        self.fourier_weight = nn.Parameter(torch.empty(out_features, in_features, 2 * grid_size))
        self.base_weight = nn.Parameter(torch.empty(out_features, in_features))
        if enable_standalone_scale_fourier:
            self.fourier_scaler = nn.Parameter(torch.empty(out_features, in_features))
        self.base_activation = nn.SiLU()
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Base weight (and scaler) as nn.Linear with gain scale_base (scale_fourier); coefficients normal
        with std scale_fourier / sqrt(in_features * grid_size)."""
        nn.init.kaiming_uniform_(self.base_weight, a=math.sqrt(5) * self.scale_base)
        with torch.no_grad():
            self.fourier_weight.normal_(0.0, self.scale_fourier / math.sqrt(self.in_features * self.grid_size))
        if self.enable_standalone_scale_fourier:
            nn.init.kaiming_uniform_(self.fourier_scaler, a=math.sqrt(5) * self.scale_fourier)

    def fourier_basis(self, x: torch.Tensor) -> torch.Tensor:
        """(B, in_features, 2 * grid_size): cos(k u) then sin(k u)."""
        if x.dim() != 2 or x.shape[1] != self.in_features:
            raise ValueError(f"expected input of shape (batch, {self.in_features}), got {tuple(x.shape)}")
        phase = (x * self.input_scale + self.input_shift)[..., None] * self.freqs
        return torch.cat([phase.cos(), phase.sin()], dim=-1)

    @property
    def scaled_fourier_weight(self) -> torch.Tensor:
        return (
            self.fourier_weight * self.fourier_scaler[..., None]
            if self.enable_standalone_scale_fourier
            else self.fourier_weight
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] != self.in_features:
            raise ValueError(f"expected input of shape (..., {self.in_features}), got {tuple(x.shape)}")
        rows = x.reshape(-1, self.in_features)
        y = F.linear(self.base_activation(rows), self.base_weight) + F.linear(
            self.fourier_basis(rows).flatten(1), self.scaled_fourier_weight.reshape(self.out_features, -1)
        )
        return y.reshape(*x.shape[:-1], self.out_features)

    def regularization_loss(self, regularize_activation: float = 1.0, regularize_entropy: float = 1.0) -> torch.Tensor:
        return sum_regularisation([self.fourier_weight], regularize_activation, regularize_entropy)


class FourierKAN(nn.Module):
    """Fourier KAN over ``layers_hidden`` = [n_in, hidden..., n_out]."""

    def __init__(
        self,
        layers_hidden: Sequence[int],
        grid_size: int = 5,
        scale_base: float = 1.0,
        scale_fourier: float = 1.0,
        base_activation: Any = nn.SiLU,
        grid_range: Sequence[float] = (-1, 1),
        device: Any = "cpu",
        seed: int = 0,
        **kwargs: Any,
    ):
        super().__init__()
        resolve_published("FourierKAN", kwargs, None, lenient=True)
        self.grid_size = grid_size
        self.layers = seeded_layers(
            layers_hidden,
            seed,
            lambda i, o: FourierKANLinear(
                i, o, grid_size, scale_base, scale_fourier, True, base_activation, grid_range
            ),
        )
        self.device = device
        self.to(device)

    def forward(self, x: torch.Tensor, update_grid: bool = False) -> torch.Tensor:
        """``update_grid`` is accepted and unused, as published (a Fourier basis has no grid)."""
        for layer in self.layers:
            x = layer(x)
        return x

    def regularization_loss(self, regularize_activation: float = 1.0, regularize_entropy: float = 1.0) -> torch.Tensor:
        return sum_regularisation(
            [cast(FourierKANLinear, layer).fourier_weight for layer in self.layers],
            regularize_activation,
            regularize_entropy,
        )

    def initialize_from_qkan(self, qkan: nn.Module, x0: torch.Tensor, sampling: int = 100) -> None:
        """Fit this model layer by layer to a trained QKAN of the same widths."""
        fit_from_qkan(self.layers, qkan, x0, sampling)
