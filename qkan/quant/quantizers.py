"""Fake-quantiser modules: ``forward(tensor) -> tensor`` on an integer grid, usable as torch
parametrizations (they sit on a parameter, so any solver sees the quantised value).

- :class:`UniformQuantizer`: fixed scale and zero point (PTQ), straight-through rounding.
- :class:`LSQQuantizer`: learned step size (Esser et al., LSQ), with LSQ's gradient scaling; affine
  grids also learn the zero point (rounded with a straight-through gradient so it stays an integer).
- :class:`DSQQuantizer`: differentiable soft quantisation (Gong et al., DSQ): forward is the hard grid
  value, backward is the gradient of the tanh soft step, whose sharpness ``alpha`` is learned too.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import nn

from .grid import fake_quantize, grid_limits, integer_dtype, qparams_from_range, round_ste, scale_grad
from .ranges import broadcast_shape, channel_rows, minmax_range, mse_range


class UniformQuantizer(nn.Module):
    """b-bit uniform fake quantiser with per-tensor (``axis=None``) or per-channel (one scale per index of
    ``axis``) scales; fit the range with :meth:`fit` (weights) or :meth:`set_range` (activations)."""

    learnable = False
    scale: torch.Tensor  # (channels,): parameters when learnable, else buffers
    zero_point: torch.Tensor

    def __init__(
        self,
        bits: int,
        symmetric: bool = True,
        axis: Optional[int] = None,
        channels: int = 1,
        dtype: Optional[torch.dtype] = None,
        device: Optional[torch.device] = None,
    ):
        super().__init__()
        if axis is None and channels != 1:
            raise ValueError(f"a per-tensor quantiser has one channel, got channels={channels}")
        self.bits, self.symmetric, self.axis, self.channels = bits, symmetric, axis, channels
        self.qmin, self.qmax = grid_limits(bits, symmetric)
        dtype = dtype or torch.get_default_dtype()
        self._state("scale", torch.ones(channels, dtype=dtype, device=device), self.learnable)
        self._state("zero_point", torch.zeros(channels, dtype=dtype, device=device), self.learnable and not symmetric)

    def _state(self, name: str, value: torch.Tensor, learnable: bool) -> None:
        if self.learnable:  # learnable quantisers keep both as parameters so state_dicts have one layout
            setattr(self, name, nn.Parameter(value, requires_grad=learnable))
        else:
            self.register_buffer(name, value)

    # ----- ranges ----------------------------------------------------------------------
    def fit(self, x: torch.Tensor, scheme: str = "minmax") -> "UniformQuantizer":
        """Set the range from ``x`` (min-max, or the MSE-optimal clipping); returns self."""
        rows = channel_rows(x.detach(), self.axis)
        if rows.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s) along axis {self.axis}, got {rows.shape[0]}")
        lo, hi = minmax_range(rows)
        if scheme == "mse":
            lo, hi = mse_range(rows, lo, hi, self._fake_quantize_rows)
        self.set_range(lo, hi)
        return self

    def _fake_quantize_rows(self, rows: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
        scale, zero_point = qparams_from_range(lo, hi, self.bits, self.symmetric)
        return fake_quantize(rows, scale[:, None], zero_point[:, None], self.qmin, self.qmax)

    def set_range(self, lo: torch.Tensor, hi: torch.Tensor) -> None:
        """Scale and zero point covering [lo, hi] per channel."""
        scale, zero_point = qparams_from_range(
            torch.as_tensor(lo, dtype=self.scale.dtype, device=self.scale.device),
            torch.as_tensor(hi, dtype=self.scale.dtype, device=self.scale.device),
            self.bits,
            self.symmetric,
        )
        with torch.no_grad():
            self.scale.copy_(scale.expand(self.channels))
            self.zero_point.copy_(zero_point.expand(self.channels))

    # ----- the grid -----------------------------------------------------------------------
    def grid(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, zero_point) broadcast against ``x``, as the forward uses them."""
        shape = broadcast_shape(x, self.axis)
        return self.scale.reshape(shape), self.zero_point.reshape(shape)

    def round(self, u: torch.Tensor) -> torch.Tensor:
        """Rounding of grid coordinates (already clipped to [qmin, qmax]); straight-through here."""
        return round_ste(u)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale, zero_point = self.grid(x)
        u = torch.clamp(x / scale + zero_point, self.qmin, self.qmax)
        return (self.round(u) - zero_point) * scale

    @torch.no_grad()
    def int_codes(self, x: torch.Tensor) -> torch.Tensor:
        """The integer codes the forward uses (smallest integer dtype that holds the grid)."""
        scale, zero_point = self.grid(x)
        q = self.round(torch.clamp(x / scale + zero_point, self.qmin, self.qmax))
        return q.to(integer_dtype(self.qmin, self.qmax))

    @torch.no_grad()
    def export_grid(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, integer zero point) broadcast against ``x``: x_hat = scale * (codes - zero_point)."""
        scale, zero_point = self.grid(x)
        return scale.detach().clone(), zero_point.detach().round().to(torch.int32)

    def extra_repr(self) -> str:
        where = "per-tensor" if self.axis is None else f"per-channel(axis={self.axis}, {self.channels})"
        return f"bits={self.bits}, {'symmetric' if self.symmetric else 'affine'}, {where}"


class LSQQuantizer(UniformQuantizer):
    """Learned step size: scale (and affine zero point) are parameters, starting from the fitted (min-max
    or MSE) range; their gradients are scaled by 1/sqrt(elements per channel * qmax) as LSQ prescribes,
    so step sizes train at the weights' pace."""

    learnable = True
    min_scale = 1e-8

    def grid(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        factor = 1.0 / math.sqrt(max(1, x.numel() // self.channels) * self.qmax)
        shape = broadcast_shape(x, self.axis)
        scale = scale_grad(self.scale, factor).clamp_min(self.min_scale).reshape(shape)
        zero_point = torch.clamp(round_ste(scale_grad(self.zero_point, factor)), self.qmin, self.qmax)
        return scale, zero_point.reshape(shape)


class DSQQuantizer(LSQQuantizer):
    """LSQ's learned grid with DSQ rounding: inside each cell [i, i+1] the soft step
    phi = tanh(k (u - i - 1/2)) / tanh(k/2), k = log(2/alpha - 1); forward takes the hard value
    i + (sign(phi) + 1)/2 (the nearest grid point), backward the soft step's gradient (straight-through
    on the sign), so alpha (in (0, 0.5); small = close to rounding) learns as well."""

    def __init__(
        self,
        bits: int,
        symmetric: bool = True,
        axis: Optional[int] = None,
        channels: int = 1,
        dtype: Optional[torch.dtype] = None,
        device: Optional[torch.device] = None,
        alpha: float = 0.2,
    ):
        super().__init__(bits, symmetric, axis, channels, dtype, device)
        if not 0.0 < alpha < 0.5:
            raise ValueError(f"DSQ alpha must be in (0, 0.5), got {alpha!r}")
        self.alpha = nn.Parameter(torch.tensor(alpha, dtype=self.scale.dtype, device=self.scale.device))

    def round(self, u: torch.Tensor) -> torch.Tensor:
        alpha = self.alpha.clamp(1e-4, 0.4999)
        cell = torch.clamp(torch.floor(u.detach()), self.qmin, self.qmax - 1)
        sharpness = torch.log(2.0 / alpha - 1.0)
        soft = torch.tanh(sharpness * (u - cell - 0.5)) / torch.tanh(sharpness / 2)
        hard = cell + (soft.detach() >= 0).to(u.dtype)
        soft_code = cell + (soft + 1) / 2
        return hard + (soft_code - soft_code.detach())

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, alpha={float(self.alpha):.3g}"


QUANTIZERS: dict[Optional[str], type[UniformQuantizer]] = {
    None: UniformQuantizer,
    "lsq": LSQQuantizer,
    "dsq": DSQQuantizer,
}


def make_quantizer(
    bits: int, symmetric: bool, axis: Optional[int], channels: int, qat: Optional[str], like: torch.Tensor
) -> UniformQuantizer:
    """The quantiser class for ``qat`` (None, "lsq", "dsq"), on ``like``'s dtype and device."""
    return QUANTIZERS[qat](bits, symmetric, axis, channels, dtype=like.dtype, device=like.device)
