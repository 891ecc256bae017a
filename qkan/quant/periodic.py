"""Angle quantiser on a periodic grid: theta and theta + period get the same code.

Angles are measured in turns u = theta / period (``period`` per slot, see ``periods.py``) and wrapped
to [0, 1). Per channel the grid covers the shortest arc of the circle holding every angle (min-max on
the circle): 2^b points spaced arc/(2^b - 1) from the arc's start; when that arc is nearly the whole
circle the grid is the full circle, 2^b points spaced 1/2^b with codes taken mod 2^b. Angles that
drift outside the arc (during QAT) go to the nearer end. The dequantised angle is
period * (offset + step * code), equal to theta up to a whole number of periods plus the rounding.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .grid import integer_dtype
from .ranges import SHRINK_FACTORS, broadcast_shape, channel_rows

PHASE_SHIFTS = 8  # MSE search over grid phases for full-circle grids (in steps/PHASE_SHIFTS)


def wrap_turns(u: torch.Tensor) -> torch.Tensor:
    """u mod 1, in [0, 1)."""
    wrapped = torch.remainder(u, 1.0)
    return torch.where(wrapped >= 1.0, wrapped - 1.0, wrapped)


def circular_distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Distance in turns between two angles on the unit circle (in [0, 1/2])."""
    d = wrap_turns(a - b)
    return torch.minimum(d, 1.0 - d)


def shortest_arcs(rows: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per row of wrapped turns: (start, length) of the shortest arc holding every value."""
    ordered, _ = torch.sort(rows, dim=1)
    wrap_gap = ordered[:, :1] + 1.0 - ordered[:, -1:]
    gaps = torch.cat((ordered[:, 1:] - ordered[:, :-1], wrap_gap), dim=1)
    widest = gaps.argmax(dim=1, keepdim=True)
    start_index = torch.where(widest == gaps.shape[1] - 1, torch.zeros_like(widest), widest + 1)
    start = ordered.gather(1, start_index).squeeze(1)
    return start, 1.0 - gaps.gather(1, widest).squeeze(1)


Grid = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # (offset, step, arc)


def _where3(cond: torch.Tensor, a: Grid, b: Grid) -> Grid:
    """``torch.where(cond, a_k, b_k)`` for each of the three."""
    return torch.where(cond, a[0], b[0]), torch.where(cond, a[1], b[1]), torch.where(cond, a[2], b[2])


class PeriodicQuantizer(nn.Module):
    """b-bit angle quantiser with one arc per channel (``axis``) or per tensor (``axis=None``);
    ``period`` broadcasts against the trailing dims of the angle tensor. Forward is straight-through."""

    period: torch.Tensor  # buffers, float64: the period, and per channel the grid's offset, step and arc (turns)
    offset: torch.Tensor
    step: torch.Tensor
    arc: torch.Tensor

    def __init__(
        self,
        bits: int,
        period: torch.Tensor,
        axis: Optional[int] = None,
        channels: int = 1,
        device: Optional[torch.device] = None,
    ):
        super().__init__()
        if axis is None and channels != 1:
            raise ValueError(f"a per-tensor quantiser has one channel, got channels={channels}")
        self.bits, self.axis, self.channels, self.levels = bits, axis, channels, 2**bits
        f64 = torch.float64
        self.register_buffer("period", torch.as_tensor(period, dtype=f64, device=device).clone())
        self.register_buffer("offset", torch.zeros(channels, dtype=f64, device=device))
        self.register_buffer("step", torch.full((channels,), 1.0 / self.levels, dtype=f64, device=device))
        self.register_buffer("arc", torch.ones(channels, dtype=f64, device=device))

    # ----- the grid -----------------------------------------------------------------------
    def turns(self, theta: torch.Tensor) -> torch.Tensor:
        return wrap_turns(theta.detach().to(torch.float64) / self.period)

    def _codes(self, u: torch.Tensor, offset: torch.Tensor, step: torch.Tensor, arc: torch.Tensor) -> torch.Tensor:
        """Codes of wrapped turns ``u`` on grids (offset, step, arc) that broadcast against u."""
        full = (arc >= 1.0 - 1.0 / self.levels) | (arc <= 0)
        d = wrap_turns(u - offset)
        nearest = torch.round(d / step)
        on_circle = torch.remainder(nearest, self.levels)
        beyond_end = d > arc + (1.0 - arc) / 2  # in the gap, nearer the arc's start
        on_arc = torch.where(beyond_end, torch.zeros_like(nearest), nearest.clamp(0, self.levels - 1))
        return torch.where(full, on_circle, on_arc)

    def _grid(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        shape = broadcast_shape(theta, self.axis)
        return self.offset.reshape(shape), self.step.reshape(shape), self.arc.reshape(shape)

    def dequantize(self, codes: torch.Tensor) -> torch.Tensor:
        """Angles (float64) of integer ``codes``: period * (offset + step * code)."""
        offset, step, _ = self._grid(codes)
        return self.period * (offset + step * codes.to(torch.float64))

    def forward(self, theta: torch.Tensor) -> torch.Tensor:
        target = self.dequantize(self._codes(self.turns(theta), *self._grid(theta))).to(theta.dtype)
        return target + (theta - theta.detach())

    @torch.no_grad()
    def int_codes(self, theta: torch.Tensor) -> torch.Tensor:
        return self._codes(self.turns(theta), *self._grid(theta)).to(integer_dtype(0, self.levels - 1))

    @torch.no_grad()
    def export_grid(self, theta: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(scale, offset) broadcast against ``theta``: theta_hat = offset + scale * codes (radians)."""
        offset, step, _ = self._grid(theta)
        return (self.period * step).to(theta.dtype), (self.period * offset).to(theta.dtype)

    # ----- fitting ------------------------------------------------------------------------
    @torch.no_grad()
    def fit(self, theta: torch.Tensor, scheme: str = "minmax") -> "PeriodicQuantizer":
        """Arc per channel from ``theta``; ``mse`` also searches arc shrinkage and grid phase for the least
        squared angle error (radians, so slots with different periods weigh by their own period)."""
        u = self.turns(theta)
        rows = channel_rows(u, self.axis)
        if rows.shape[0] != self.channels:
            raise ValueError(f"expected {self.channels} channel(s) along axis {self.axis}, got {rows.shape[0]}")
        start, arc = shortest_arcs(rows)
        full = (arc >= 1.0 - 1.0 / self.levels) | (arc <= 0)
        step = torch.where(full, torch.full_like(arc, 1.0 / self.levels), arc / (self.levels - 1))
        arc = torch.where(full, torch.ones_like(arc), arc)
        if scheme == "mse":
            start, step, arc = self._search(u, start, step, arc, full)
        self.offset.copy_(start)
        self.step.copy_(step)
        self.arc.copy_(arc)
        return self

    def _search(
        self, u: torch.Tensor, start: torch.Tensor, step: torch.Tensor, arc: torch.Tensor, full: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Candidates: grid phases (start + j step / PHASE_SHIFTS) for every channel, and arcs shrunk about
        their middle for arc channels; each channel keeps the candidate of least squared error."""
        u_rows = channel_rows(u, self.axis)
        period_rows = channel_rows(self.period.expand(u.shape), self.axis)
        candidates = [(start + j * step / PHASE_SHIFTS, step, arc) for j in range(PHASE_SHIFTS)]
        for a in SHRINK_FACTORS.tolist()[1:]:
            shrunk = (start + (1 - a) * arc / 2, a * step, a * arc)
            candidates.append(_where3(full, (start, step, arc), shrunk))
        best, best_err = candidates[0], torch.full_like(start, float("inf"))
        for candidate in candidates:
            offset_c, step_c, arc_c = (t[:, None] for t in candidate)
            hat = offset_c + step_c * self._codes(u_rows, offset_c, step_c, arc_c)
            err = (period_rows * circular_distance(hat, u_rows)).square().sum(dim=1)
            better = err < best_err
            best_err = torch.where(better, err, best_err)
            best = _where3(better, candidate, best)
        return best

    def extra_repr(self) -> str:
        where = "per-tensor" if self.axis is None else f"per-channel(axis={self.axis}, {self.channels})"
        return f"bits={self.bits}, periodic, {where}"
