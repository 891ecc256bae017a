"""Activation quantisers: calibrate a range from data (module inputs) or take a known one (circuit
readouts), then fake-quantise; and the forward pre-hook that puts one on a module's input."""

from __future__ import annotations

from typing import Any, Optional, cast

import torch
from torch import nn

from .quantizers import UniformQuantizer
from .ranges import mse_range

MAX_SAMPLES = 1 << 16  # values kept for the MSE range search (a deterministic strided subsample)
SAMPLES_PER_BATCH = 1 << 13


class ActivationQuantizer(nn.Module):
    """Wraps a per-tensor quantiser. Until :meth:`finish_calibration` it observes (passes x through and
    records its min, max and a subsample); with ``known_range`` it quantises from the start."""

    def __init__(
        self, quantizer: UniformQuantizer, scheme: str = "minmax", known_range: Optional[tuple[float, float]] = None
    ):
        super().__init__()
        if quantizer.axis is not None:
            raise ValueError("activation quantisers are per tensor (axis=None)")
        self.quantizer, self.scheme = quantizer, scheme
        self.observing = known_range is None
        self._lo: Optional[torch.Tensor] = None
        self._hi: Optional[torch.Tensor] = None
        self._samples: list[torch.Tensor] = []
        if known_range is not None:
            quantizer.set_range(torch.tensor([known_range[0]]), torch.tensor([known_range[1]]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.observing:
            self._observe(x.detach())
            return x
        return self.quantizer(x)

    def _observe(self, x: torch.Tensor) -> None:
        lo, hi = x.min().reshape(1), x.max().reshape(1)
        self._lo = lo if self._lo is None else torch.minimum(self._lo, lo)
        self._hi = hi if self._hi is None else torch.maximum(self._hi, hi)
        if self.scheme == "mse" and sum(s.numel() for s in self._samples) < MAX_SAMPLES:
            flat = x.reshape(-1)
            self._samples.append(flat[:: max(1, flat.numel() // SAMPLES_PER_BATCH)].clone())

    def finish_calibration(self) -> None:
        """Fix the range from what was observed (min-max or MSE-optimal) and start quantising."""
        if not self.observing:
            return
        if self._lo is None or self._hi is None:
            raise RuntimeError(
                "no calibration data reached this activation quantiser: the module it guards "
                "was not called by the model's forward on the calibration inputs"
            )
        lo, hi = self._lo, self._hi
        if self.scheme == "mse":
            rows = torch.cat(self._samples)[None, :MAX_SAMPLES]
            lo, hi = mse_range(rows, lo, hi, self.quantizer._fake_quantize_rows)
        self.quantizer.set_range(lo, hi)
        self.observing, self._lo, self._hi, self._samples = False, None, None, []

    def extra_repr(self) -> str:
        return f"scheme={self.scheme}, observing={self.observing}"


def quantize_input_hook(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    """Forward pre-hook: the module's first argument goes through ``module.input_quantizer``."""
    if not args or not isinstance(args[0], torch.Tensor):
        raise TypeError(f"{type(module).__name__}: input quantisation expects a tensor first argument")
    quantizer = cast(nn.Module, module.input_quantizer)
    return (quantizer(args[0]), *args[1:])
