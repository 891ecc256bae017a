"""``export_quantized(model)``: the integer tensors of a quantised model with their scales, zero points
(and, for angles, offsets), enough to rebuild every quantised value exactly."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, cast

import torch
from torch import nn

from .activation import ActivationQuantizer
from .convert import quantizer_modules
from .periodic import PeriodicQuantizer
from .quantizers import UniformQuantizer
from .roles import roles_of


@dataclass(frozen=True)
class QuantizedTensor:
    """value = scale * (codes - zero_point) + offset, all broadcasting against ``codes``.
    Uniform grids have offset 0; angle grids have zero point 0, an offset, and ``period`` (per slot):
    codes of angles wrap mod 2^bits."""

    codes: torch.Tensor
    scale: torch.Tensor
    zero_point: torch.Tensor
    offset: torch.Tensor
    bits: int
    role: str
    period: Optional[torch.Tensor] = None

    def dequantize(self) -> torch.Tensor:
        return self.scale * (self.codes.to(self.scale.dtype) - self.zero_point.to(self.scale.dtype)) + self.offset


@dataclass(frozen=True)
class ActivationGrid:
    """value = scale * (q - zero_point), q in [qmin, qmax]: the grid an input or readout is quantised on."""

    scale: torch.Tensor
    zero_point: torch.Tensor
    bits: int
    qmin: int
    qmax: int
    role: str


def _owner_and_name(model: nn.Module, key: str) -> tuple[nn.Module, str]:
    module_name, _, leaf = key.rpartition(".")
    return (model.get_submodule(module_name) if module_name else model), leaf


def export_quantized(model: nn.Module) -> dict[str, object]:
    """Name -> :class:`QuantizedTensor` for every quantised parameter and :class:`ActivationGrid` for
    every calibrated input/readout quantiser of a model returned by :func:`qkan.quant.quantize`."""
    exported: dict[str, object] = {}
    for key, quantizer in quantizer_modules(model).items():
        owner, leaf = _owner_and_name(model, key)
        if isinstance(quantizer, ActivationQuantizer):
            if quantizer.observing:
                raise RuntimeError(f"{key}: activation quantiser was never calibrated")
            inner = quantizer.quantizer
            scale, zero_point = inner.export_grid(inner.scale)
            exported[key] = ActivationGrid(
                scale.reshape(()), zero_point.reshape(()), inner.bits, inner.qmin, inner.qmax, leaf
            )
            continue
        parametrizations = cast(nn.ModuleDict, owner.parametrizations)  # torch.nn.utils.parametrize's
        original = cast(torch.Tensor, parametrizations[leaf].original).detach()
        role = roles_of(owner).parameters[leaf]
        assert isinstance(quantizer, (PeriodicQuantizer, UniformQuantizer)), f"{key}: {type(quantizer).__name__}"
        codes = quantizer.int_codes(original)
        if isinstance(quantizer, PeriodicQuantizer):
            scale, offset = quantizer.export_grid(original)
            exported[key] = QuantizedTensor(
                codes,
                scale,
                torch.zeros((), dtype=torch.int32),
                offset,
                quantizer.bits,
                role,
                quantizer.period.to(original.dtype),
            )
        else:
            scale, zero_point = quantizer.export_grid(original)
            exported[key] = QuantizedTensor(
                codes, scale, zero_point, torch.zeros((), dtype=original.dtype), quantizer.bits, role
            )
    return exported
