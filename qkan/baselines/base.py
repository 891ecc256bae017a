"""What every classical baseline shares: size checks, input validation with clear messages, and the
per-edge plot grid QKANLayer draws (qkan.plotting.edge_grid)."""

from __future__ import annotations

import math
from typing import Any, Iterable, Optional, Union, cast

import torch
from torch import nn

from ..checks import check_positive_int

Device = Union[str, torch.device, None]


def check_range(name: str, value: object) -> tuple[float, float]:
    """``value`` as an increasing (lo, hi) pair of finite floats, or ValueError naming ``name``."""
    try:
        lo, hi = (float(v) for v in cast(Iterable[Any], value))  # not iterable: TypeError, caught
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a (low, high) pair of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if not lo < hi:
        raise ValueError(f"{name} must have low < high, got {value!r}")
    return lo, hi


def factory_kwargs(device: Device, dtype: Optional[torch.dtype]) -> dict:
    """torch.nn.Linear's ``device``/``dtype`` convention, with a floating dtype enforced."""
    dtype = dtype or torch.get_default_dtype()
    if not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating dtype, got {dtype}")
    return {"device": device, "dtype": dtype}


def init_like_linear(weight: torch.Tensor, bias: Optional[torch.Tensor] = None) -> None:
    """torch.nn.Linear's default init of an (out, in) weight and its bias, in place."""
    nn.init.kaiming_uniform_(weight, a=math.sqrt(5))
    if bias is not None:
        bound = 1 / math.sqrt(weight.shape[1])
        nn.init.uniform_(bias, -bound, bound)


class BaselineLayer(nn.Module):
    """Base of the classical layers: (..., in_dim) -> (..., out_dim), validated like QKANLayer."""

    def __init__(self, in_dim: int, out_dim: int):
        super().__init__()
        self.in_dim = check_positive_int("in_dim", in_dim)
        self.out_dim = check_positive_int("out_dim", out_dim)

    def _name(self) -> str:
        return f"{type(self).__name__}({self.in_dim}->{self.out_dim})"

    def _reference_parameter(self) -> torch.Tensor:
        return next(self.parameters())

    def _check_input(self, x: torch.Tensor, exact_rank: Optional[int] = None) -> None:
        """Raise on a non-tensor, a wrong rank or feature count, a non-float dtype, a dtype that differs
        from the parameters' (outside autocast), or a device mismatch."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{self._name()}: expected a torch.Tensor, got {type(x).__name__}")
        if exact_rank is not None and x.dim() != exact_rank:
            raise ValueError(f"{self._name()}: expected input of shape (batch, {self.in_dim}), got {tuple(x.shape)}")
        if x.dim() < 1 or x.shape[-1] != self.in_dim:
            raise ValueError(f"{self._name()}: expected input of shape (..., {self.in_dim}), got {tuple(x.shape)}")
        if not x.dtype.is_floating_point:
            raise TypeError(f"{self._name()}: expected a floating-point input, got {x.dtype}")
        param = self._reference_parameter()
        if x.device != param.device:
            raise ValueError(f"{self._name()}: input is on {x.device} but the layer is on {param.device}")
        if x.dtype != param.dtype and not torch.is_autocast_enabled(x.device.type):
            raise TypeError(
                f"{self._name()}: input is {x.dtype} but the layer's parameters are {param.dtype}; "
                f"convert one of them (x.to({param.dtype}) or layer.to({x.dtype}))"
            )

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_dim, in_dim): each edge's contribution to the output, for plots and pruning."""
        raise NotImplementedError(
            f"{type(self).__name__} has no per-edge functions; plot() draws its input-to-output response curves instead"
        )

    def _plot_values(self, x: torch.Tensor) -> torch.Tensor:
        return self.edge_values(x)

    def _plot_title(self) -> str:
        return self._name()

    def plot(self, path: Optional[str] = None, x: Optional[torch.Tensor] = None, n_points: int = 200):
        """A grid of per-edge curves over the range of ``x`` (default [-1, 1]), as QKANLayer.plot draws;
        saved to ``path`` when given. Returns the matplotlib figure."""
        from ..plotting import edge_grid

        if x is not None:
            self._check_input(x, exact_rank=2)
        ranges = (
            torch.stack((x.amin(0), x.amax(0)), dim=1).detach().cpu()
            if x is not None
            else torch.tensor([[-1.0, 1.0]]).repeat(self.in_dim, 1)
        )
        param = self._reference_parameter()
        fig = edge_grid(
            self._plot_values,
            ranges,
            self.out_dim,
            self.in_dim,
            self._plot_title(),
            n_points,
            param.dtype,
            param.device,
        )
        if path is not None:
            fig.savefig(path, dpi=120)
        return fig
