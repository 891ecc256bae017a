"""The base activations sigma of a layer's base branch: one table that the torch solvers, the fused
kernels and the layer's module-to-name mapping all read."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Union

import torch
import torch.nn.functional as F
from torch import nn

BaseActivation = Union[str, Callable[[torch.Tensor], torch.Tensor], None]


@dataclass(frozen=True)
class ActivationSpec:
    """A named activation: its torch function, the torch modules that stand for it in the published API,
    and sigma(x), sigma'(x) as C expressions in ``x`` of type ``real`` for the generated kernels."""

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    modules: tuple[type, ...]
    cuda: tuple[str, str]


_SIGMOID = "(real(1) / (real(1) + exp(-x)))"
ACTIVATIONS: dict[str, ActivationSpec] = {
    spec.name: spec
    for spec in (
        ActivationSpec(
            "silu",
            F.silu,
            (nn.SiLU,),
            ("x / (real(1) + exp(-x))", f"{_SIGMOID} * (real(1) + x * (real(1) - real(1) / (real(1) + exp(-x))))"),
        ),
        ActivationSpec("identity", lambda x: x, (nn.Identity,), ("x", "real(1)")),
        ActivationSpec("tanh", torch.tanh, (nn.Tanh,), ("tanh(x)", "real(1) - tanh(x) * tanh(x)")),
        ActivationSpec(
            "relu", F.relu, (nn.ReLU,), ("(x > real(0) ? x : real(0))", "(x > real(0) ? real(1) : real(0))")
        ),
        ActivationSpec(
            "gelu",
            F.gelu,
            (),
            (
                "real(0.5) * x * (real(1) + erf(x * real(0.7071067811865476)))",
                "real(0.5) * (real(1) + erf(x * real(0.7071067811865476)))"
                " + x * exp(real(-0.5) * x * x) * real(0.3989422804014327)",
            ),
        ),
        ActivationSpec(
            "sigmoid",
            torch.sigmoid,
            (nn.Sigmoid,),
            ("real(1) / (real(1) + exp(-x))", f"{_SIGMOID} * (real(1) - real(1) / (real(1) + exp(-x)))"),
        ),
    )
}


def activation_name(activation: BaseActivation) -> BaseActivation:
    """A registered name for the torch activation modules the published API passes (nn.SiLU() ...),
    so fused kernels can compute them; anything else is kept as given."""
    if isinstance(activation, nn.GELU):
        return "gelu" if activation.approximate == "none" else activation
    for spec in ACTIVATIONS.values():
        if type(activation) in spec.modules:
            return spec.name
    return activation


def base_activation_fn(activation: BaseActivation) -> Callable[[torch.Tensor], torch.Tensor]:
    """The callable for a base activation given by name, callable, or None (identity)."""
    if activation is None:
        return ACTIVATIONS["identity"].fn
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown base activation {activation!r}; expected a callable or one of {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[activation].fn
