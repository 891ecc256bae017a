"""SplineKAN: one uniform degree-1 spline (piecewise-linear function) per edge.

Knots x_k = low + k h (k = 0..G) on ``grid_range``; edge (o, i) stores its values v[o, i, k] at the
knots. For x in segment k = clamp(floor((x - low) / h), 0, G - 1) (constant-time lookup):
    f(x) = v_a + (x - x_a) s_k,   s_k = (v_{k+1} - v_k) / h,   a the segment's end nearer zero,
which for x outside the grid continues the first or last segment linearly. The lerp is written in
x units, so knot values on a line reproduce that line; with dyadic knots (the default range and a
power-of-two grid_size) bitwise, as x - x_a and x_a + (x - x_a) are then exact (the identity init).
Like the other baselines the layer does not check values: a NaN or inf input gives NaN (or inf) in
its output row.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn

from .base import BaselineLayer, Device, check_positive_int, check_range, factory_kwargs, init_like_linear

INITS = ("linear", "identity")


class SplineKAN(BaselineLayer):
    """y_o = sum_i f_oi(x_i), each f_oi piecewise linear on ``grid_size`` uniform segments."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        grid_size: int = 8,
        grid_range: tuple[float, float] = (-1.0, 1.0),
        init: str = "linear",
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_dim, out_dim)
        self.grid_size = check_positive_int("grid_size", grid_size)
        self.grid_range = check_range("grid_range", grid_range)
        if init not in INITS:
            raise ValueError(f"unknown init {init!r}; expected one of {INITS}")
        self.init = init
        self.step = (self.grid_range[1] - self.grid_range[0]) / grid_size
        factory = factory_kwargs(device, dtype)
        self.knot_values = nn.Parameter(torch.empty(out_dim, in_dim, grid_size + 1, **factory))
        self.reset_parameters()

    def knots(self) -> torch.Tensor:
        """(G + 1,) knot positions x_k."""
        p = self.knot_values
        return self.grid_range[0] + self.step * torch.arange(self.grid_size + 1, dtype=p.dtype, device=p.device)

    def reset_parameters(self) -> None:
        """ "linear": f_oi(x) = w_oi x with w drawn as torch.nn.Linear's weight (the layer starts as a
        bias-free Linear); "identity": f_oi(x) = x if o == i else 0 (y = x for a square layer)."""
        with torch.no_grad():
            if self.init == "linear":
                weight = torch.empty(
                    self.out_dim, self.in_dim, dtype=self.knot_values.dtype, device=self.knot_values.device
                )
                init_like_linear(weight)
            else:
                weight = torch.eye(
                    self.out_dim, self.in_dim, dtype=self.knot_values.dtype, device=self.knot_values.device
                )
            self.knot_values.copy_(weight[:, :, None] * self.knots())

    def _segments(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Segment k, its anchor knot a (the end nearer zero) and x - x_a, all shaped like ``x``.
        Anchoring at the smaller-magnitude knot keeps x - x_a exact for dyadic knots."""
        knots = self.knots()
        # NaN picks segment 0 (cast to long it would index anywhere); x - x_a then carries the NaN to the output
        position = torch.floor((x.detach() - self.grid_range[0]) / self.step).nan_to_num_(0.0)
        k = position.clamp_(0, self.grid_size - 1).long()
        anchor = k + (knots[k + 1].abs() < knots[k].abs()).long()
        return k, anchor, x - knots[anchor]

    def _slopes(self) -> torch.Tensor:
        """(O, I, G) slope of every segment."""
        v = self.knot_values
        return (v[..., 1:] - v[..., :-1]) / self.step

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        lead, rows = x.shape[:-1], x.reshape(-1, self.in_dim)
        k, anchor, offset = self._segments(rows)
        # f = v_a + (x - x_a) s_k as one matmul: one-hot of the anchor knot, then (x - x_a) at segment k
        n, g = rows.shape[0], self.grid_size
        at_anchor = rows.new_zeros(n, self.in_dim, g + 1).scatter_(2, anchor[..., None], 1.0)
        at_segment = rows.new_zeros(n, self.in_dim, g).scatter_(2, k[..., None], 1.0) * offset[..., None]
        basis = torch.cat((at_anchor, at_segment), dim=2).reshape(n, self.in_dim * (2 * g + 1))
        table = torch.cat((self.knot_values, self._slopes()), dim=2).reshape(self.out_dim, -1)
        return (basis @ table.T).reshape(*lead, self.out_dim)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_dim, in_dim): f_oi(x_i); sums over inputs to ``forward``."""
        self._check_input(x, exact_rank=2)
        k, anchor, offset = self._segments(x)
        inputs = torch.arange(self.in_dim, device=x.device)
        v = self.knot_values.permute(1, 2, 0)[inputs, anchor]  # (B, I, O)
        s = self._slopes().permute(1, 2, 0)[inputs, k]
        return (v + offset[..., None] * s).permute(0, 2, 1)

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, grid_size={self.grid_size}, "
            f"grid_range={self.grid_range}, init={self.init}"
        )
