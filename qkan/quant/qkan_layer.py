"""A QKANLayer whose circuit outputs pass through a readout quantiser, on any solver.

Every Program offers ``circuit_values`` (the raw readouts f); the quantised layer takes them, quantises
them, and forms the layer sum with the shared helpers of ``qkan.solvers.layer_math``. Parameter
quantisers are torch parametrizations on the layer, so the solver always receives quantised values.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import nn
from torch.nn.utils import parametrize

from qkan.solvers import LayerParams, Program
from qkan.solvers.layer_math import layer_sum

from ..layer import QKANLayer

READOUT_RANGE = (-1.0, 1.0)  # amp = sqrt(P(0)) - sqrt(P(1)) and z = P(0) - P(1) both lie in [-1, 1]


class ReadoutQuantizedProgram(Program):
    """Wraps a compiled Program: circuit values are quantised before the layer sum."""

    def __init__(self, inner: Program, quantizer: nn.Module):
        super().__init__(inner.circuit, inner.geometry, inner.dtype, inner.device)
        self.inner, self.quantizer = inner, quantizer

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.quantizer(self.inner.circuit_values(x, params))

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return layer_sum(self.circuit_values(x, params), x, params, self.geometry)


class QuantizedQKANLayer(QKANLayer):
    """QKANLayer with an optional ``readout_quantizer``; quantised parameters are computed once per call."""

    readout_quantizer: Optional[nn.Module]

    @classmethod
    def from_layer(cls, layer: QKANLayer, readout_quantizer: Optional[nn.Module] = None) -> "QuantizedQKANLayer":
        """A copy of ``layer`` (same settings, parameters and requires_grad flags)."""
        new = cls.from_settings(layer.in_dim, layer.out_dim, layer.settings())
        new.load_state_dict(layer.state_dict())
        for name, param in layer.named_parameters(recurse=False):
            getattr(new, name).requires_grad_(param.requires_grad)
        new.train(layer.training)
        new.readout_quantizer = readout_quantizer
        return new

    def program(self, device: torch.device, dtype: torch.dtype) -> Program:
        inner = super().program(device, dtype)
        return inner if self.readout_quantizer is None else ReadoutQuantizedProgram(inner, self.readout_quantizer)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        with parametrize.cached():
            return super().forward(x)
