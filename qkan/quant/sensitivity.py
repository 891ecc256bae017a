"""Per-role sensitivity: quantise one role at a time (everything else float) and measure a metric, to see
which branch of a KAN needs the bits."""

from __future__ import annotations

from typing import Callable, Sequence

from torch import nn

from ..layer import QKANLayer
from .convert import Calibration, quantize
from .roles import plan_roles
from .spec import QuantSpec, uniform_spec


def roles_in(model: nn.Module) -> list[str]:
    """The roles ``model`` has: parameter roles from the registry (in module order), then ``input`` (if some
    module takes quantisable inputs) and ``readout`` (if it has QKAN layers)."""
    plan = plan_roles(model)
    roles = list(dict.fromkeys(entry.role for entry in plan))
    if plan.input_modules:
        roles.append("input")
    if any(isinstance(m, QKANLayer) for m in model.modules()):
        roles.append("readout")
    return roles


def role_sensitivity(
    model: nn.Module,
    bits: Sequence[int],
    evaluate: Callable[[nn.Module], float],
    calibration: Calibration = None,
    roles: Sequence[str] = (),
    scheme: str = "mse",
    act_scheme: str = "mse",
) -> list[dict]:
    """For each role (default: every role of the model) and bit width, the metric of the model with only that
    role quantised as :func:`uniform_spec` quantises it; roles the presets keep in float (biases of
    linear layers, norms) are skipped."""
    rows = []
    for role in roles or roles_in(model):
        for b in bits:
            config = uniform_spec(b, b, scheme=scheme, act_scheme=act_scheme).config(role)
            if config is None:
                continue
            quantized = quantize(model, QuantSpec({role: config}, name=f"{role}@{b}"), calibration)
            rows.append({"role": role, "bits": b, "metric": evaluate(quantized)})
    return rows
