"""Uniform integer grids: scales and zero points from a range, quantise/dequantise, straight-through rounding.

A b-bit grid is ``x_hat = scale * (q - zero_point)`` with integer q in [qmin, qmax]: symmetric grids use
q in [-(2^(b-1) - 1), 2^(b-1) - 1] and zero point 0 (so +-max is exact); affine grids use [0, 2^b - 1]
with an integer zero point (so 0 is exact, which keeps masked and zero-initialised entries at 0).
"""

from __future__ import annotations

import math

import torch


def grid_limits(bits: int, symmetric: bool) -> tuple[int, int]:
    """(qmin, qmax) of a b-bit grid."""
    if symmetric:
        return -(2 ** (bits - 1) - 1), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def qparams_from_range(
    lo: torch.Tensor, hi: torch.Tensor, bits: int, symmetric: bool
) -> tuple[torch.Tensor, torch.Tensor]:
    """(scale, zero_point) covering [lo, hi] (widened to include 0); an empty range gets scale 1."""
    lo, hi = torch.minimum(lo, torch.zeros_like(lo)), torch.maximum(hi, torch.zeros_like(hi))
    qmin, qmax = grid_limits(bits, symmetric)
    span, levels = (torch.maximum(-lo, hi), qmax) if symmetric else (hi - lo, qmax - qmin)
    scale = span / levels
    # the division may round the scale down by an ulp, which would put the range's end just outside the
    # grid, where clipping drops its gradient: step the scale up to the next float there
    scale = torch.where(span / scale > levels, torch.nextafter(scale, torch.full_like(scale, math.inf)), scale)
    scale = torch.where(scale > 0, scale, torch.ones_like(scale))
    if symmetric:
        zero_point = torch.zeros_like(scale)
    else:
        zero_point = torch.clamp(torch.round(qmin - lo / scale), qmin, qmax)
    return scale, zero_point


def round_ste(x: torch.Tensor) -> torch.Tensor:
    """round(x) forward (exactly), identity gradient (straight-through estimator)."""
    return torch.round(x).detach() + (x - x.detach())


def scale_grad(x: torch.Tensor, factor: float) -> torch.Tensor:
    """x forward (exactly), gradient multiplied by ``factor`` (LSQ's step-size gradient scaling)."""
    scaled = x * factor
    return x.detach() + (scaled - scaled.detach())


def codes(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:
    """Integer codes (as floats) of ``x`` on the grid, clipped to [qmin, qmax]."""
    return torch.clamp(torch.round(x / scale + zero_point), qmin, qmax)


def fake_quantize(x: torch.Tensor, scale: torch.Tensor, zero_point: torch.Tensor, qmin: int, qmax: int) -> torch.Tensor:
    """Quantise then dequantise (no gradient tricks; for range searches and checks)."""
    return (codes(x, scale, zero_point, qmin, qmax) - zero_point) * scale


def integer_dtype(qmin: int, qmax: int) -> torch.dtype:
    """The smallest torch integer dtype holding [qmin, qmax] (for export)."""
    for dtype in (torch.uint8, torch.int8, torch.int16, torch.int32):
        info = torch.iinfo(dtype)
        if info.min <= qmin and qmax <= info.max:
            return dtype
    raise ValueError(f"no integer dtype holds [{qmin}, {qmax}]")
