"""Quantisation ranges: min-max, and the MSE-optimal clipping found by a grid search over shrink factors."""

from __future__ import annotations

from typing import Callable, Optional

import torch

SHRINK_FACTORS = torch.linspace(1.0, 0.2, 81, dtype=torch.float64)


def channel_rows(x: torch.Tensor, axis: Optional[int]) -> torch.Tensor:
    """(C, N) view of ``x`` with the channel ``axis`` first (axis None: one row of everything)."""
    if axis is None:
        return x.reshape(1, -1)
    return x.movedim(axis, 0).reshape(x.shape[axis], -1)


def broadcast_shape(x: torch.Tensor, axis: Optional[int]) -> tuple[int, ...]:
    """Shape that broadcasts a per-channel (C,) vector against ``x`` along ``axis``."""
    if axis is None:
        return (1,) * max(x.dim(), 1)
    return tuple(x.shape[axis] if d == axis % x.dim() else 1 for d in range(x.dim()))


def minmax_range(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-row (min, max)."""
    return rows.amin(dim=1), rows.amax(dim=1)


def mse_range(
    rows: torch.Tensor,
    lo: torch.Tensor,
    hi: torch.Tensor,
    fake_quantize_rows: Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor],
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row, the range alpha * [lo, hi] (alpha in SHRINK_FACTORS) whose fake quantisation
    ``fake_quantize_rows(rows, lo_c, hi_c)`` has the least squared error; ties keep the wider range."""
    best_err = torch.full_like(lo, float("inf"))
    best = torch.ones_like(lo)
    for alpha in SHRINK_FACTORS.to(lo.dtype):
        err = (fake_quantize_rows(rows, alpha * lo, alpha * hi) - rows).square().sum(dim=1)
        better = err < best_err
        best_err = torch.where(better, err, best_err)
        best = torch.where(better, alpha, best)
    return best * lo, best * hi
