"""MLP: the fully connected comparison point, sized by hidden width and depth or matched to a
parameter budget (``MLP.matched``)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, cast

import torch
from torch import nn

from qkan.solvers.activations import ACTIVATIONS

from .base import BaselineLayer, Device, check_positive_int, factory_kwargs


def mlp_parameter_count(in_dim: int, out_dim: int, hidden: int, depth: int, bias: bool = True) -> int:
    """Parameters of an MLP of ``depth`` Linear layers with ``hidden`` units between them."""
    if depth == 1:
        return in_dim * out_dim + bias * out_dim
    return in_dim * hidden + (depth - 2) * hidden * hidden + hidden * out_dim + bias * ((depth - 1) * hidden + out_dim)


class MLP(BaselineLayer):
    """``depth`` Linear layers (depth - 1 hidden layers of ``hidden`` units) with ``activation`` between."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        hidden: int = 64,
        depth: int = 2,
        activation: str = "gelu",
        bias: bool = True,
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_dim, out_dim)
        self.hidden = check_positive_int("hidden", hidden)
        self.depth = check_positive_int("depth", depth)
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {sorted(ACTIVATIONS)}")
        self.activation = activation
        factory = factory_kwargs(device, dtype)
        sizes = [in_dim] + [hidden] * (depth - 1) + [out_dim]
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=bias, **factory) for a, b in zip(sizes[:-1], sizes[1:]))

    @classmethod
    def matched(cls, in_dim: int, out_dim: int, n_params: int, depth: int = 2, **options) -> "MLP":
        """The MLP of ``depth`` layers whose hidden width brings its parameter count closest to ``n_params``."""
        check_positive_int("n_params", n_params)
        if check_positive_int("depth", depth) == 1:
            raise ValueError("depth=1 has no hidden width to match a parameter count; use depth >= 2")
        bias = options.get("bias", True)
        # count(h) = quad h^2 + lin h + const: solve count(h) = n_params, then check the neighbours
        quad, lin = depth - 2, in_dim + out_dim + bias * (depth - 1)
        rest = bias * out_dim - n_params
        root = (-rest / lin) if quad == 0 else (-lin + math.sqrt(lin * lin - 4 * quad * rest)) / (2 * quad)
        candidates = {max(1, math.floor(root)), max(1, math.ceil(root))}
        hidden = min(
            candidates, key=lambda h: (abs(mlp_parameter_count(in_dim, out_dim, h, depth, bias) - n_params), h)
        )
        return cls(in_dim, out_dim, hidden=hidden, depth=depth, **options)

    def reset_parameters(self) -> None:
        """Every Linear re-initialised as torch.nn.Linear does."""
        for linear in cast(Sequence[nn.Linear], self.linears):
            linear.reset_parameters()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        act = ACTIVATIONS[self.activation].fn
        for linear in self.linears[:-1]:
            x = act(linear(x))
        return self.linears[-1](x)

    def _plot_values(self, x: torch.Tensor) -> torch.Tensor:
        """An MLP has no per-edge functions: panel (o, i) shows output o as input i sweeps."""
        return self(x)[:, :, None].expand(-1, -1, self.in_dim)

    def _plot_title(self) -> str:
        return f"{self._name()}: output response per input"

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, hidden={self.hidden}, depth={self.depth}, "
            f"activation={self.activation}"
        )
