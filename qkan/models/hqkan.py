"""HQKAN: a QKAN bottleneck between two linear maps, Linear(d, e) -> QKAN([e, e]) -> Linear(e, d)
(docs/math.md, "Hybrid models")."""

from __future__ import annotations

import inspect
import math
from typing import Any, Optional

import torch
from torch import nn

from ..checks import check_positive_int
from ..layer import Ansatz
from ..model import QKAN


def bottleneck_width(d: int) -> int:
    """The default bottleneck e = ceil(log2 d) (768 -> 10), at least 1."""
    return max(1, math.ceil(math.log2(d)))


def check_features(module: nn.Module, x: torch.Tensor, features: int) -> None:
    """Raise a clear error unless ``x`` is a floating tensor whose last axis has ``features`` entries."""
    name = type(module).__name__
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 1 or x.shape[-1] != features:
        raise ValueError(f"{name}: expected input of shape (..., {features}), got {tuple(x.shape)}")
    if not x.dtype.is_floating_point:
        raise TypeError(f"{name}: expected a floating-point input, got {x.dtype}")


class HQKAN(nn.Module):
    """Maps (..., d) -> (..., d) through a small QKAN: cheap in parameters (about 2*d*e + e^2 circuits)
    where a transformer MLP has 8*d^2; the QKAN runs on any solver and ansatz."""

    def __init__(
        self,
        d: int,
        e: Optional[int] = None,
        reps: int = 1,
        solver: str = "exact",
        ansatz: Ansatz = "pz",
        bias: bool = True,
        device: Any = None,
        dtype: Optional[torch.dtype] = None,
        **qkan_kwargs: Any,
    ):
        super().__init__()
        options = inspect.signature(QKAN).parameters
        for name in qkan_kwargs:
            if name not in options or options[name].kind is inspect.Parameter.VAR_KEYWORD:
                raise TypeError(f"HQKAN() got an unexpected keyword argument {name!r} (not a QKAN option)")
        self.d = check_positive_int("d", d)
        self.e = e = bottleneck_width(d) if e is None else check_positive_int("e", e)
        factory = {"device": device, "dtype": dtype}
        self.down = nn.Linear(d, e, bias=bias, **factory)
        qkan_kwargs.setdefault("ba_trainable", True)
        self.qkan = QKAN([e, e], reps=reps, solver=solver, ansatz=ansatz, **factory, **qkan_kwargs)
        self.up = nn.Linear(e, d, bias=bias, **factory)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_features(self, x, self.d)
        lead = x.shape[:-1]
        h = self.qkan(self.down(x.reshape(-1, self.d)))  # under autocast the layers take the Linear's bf16/fp16
        return self.up(h).reshape(*lead, self.d)

    def extra_repr(self) -> str:
        return f"d={self.d}, e={self.e}"
