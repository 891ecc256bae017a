"""Torch pieces every solver shares: group expansion, data angles, angle evaluation and the
layer sum (docs/math.md, "A layer")."""

from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from qkan.circuits import Angle, Data, Theta

from .activations import base_activation_fn
from .geometry import LayerGeometry, LayerParams


def expand_edges(t: torch.Tensor, geometry: LayerGeometry) -> torch.Tensor:
    """(g, ...) grouped tensor -> (O, I, ...) with edge (o, i) using group i mod g; (O, I, ...) passes."""
    if geometry.groups is None:
        return t
    g = geometry.groups
    idx = torch.arange(geometry.in_dim, device=t.device) % g
    return t[idx].unsqueeze(0).expand(geometry.out_dim, *([-1] * t.dim()))


class DataAngles:
    """Lazily computed data-slot values for one batch, shaped to broadcast against (B, O, I)."""

    def __init__(self, x: torch.Tensor, params: LayerParams, geometry: LayerGeometry):
        self.x = x
        self.geometry = geometry
        self.weight = expand_edges(params.preacts_weight, geometry)  # (O, I, R)
        self.bias = expand_edges(params.preacts_bias, geometry)
        self._cache: dict[tuple[int, str], torch.Tensor] = {}

    def __call__(self, slot: Data) -> torch.Tensor:
        encoding = slot.resolved_encoding(self.geometry.preacts)
        key = (slot.rep, encoding)
        if key not in self._cache:
            if encoding == "raw":
                value = self.x[:, None, :]
            else:
                value = self.weight[None, :, :, slot.rep] * self.x[:, None, :] + self.bias[None, :, :, slot.rep]
                if encoding == "arccos":
                    value = torch.arccos(value)
            self._cache[key] = value
        return self._cache[key]


def evaluate_angle(angle: Angle, theta: torch.Tensor, data: Optional[Callable[[Data], torch.Tensor]]) -> torch.Tensor:
    """``const + sum(coef * slot)`` as a tensor: theta slots index the trailing theta_shape dims of
    ``theta`` (whose leading 3 dims set the result's layout), ``data`` gives data-slot tensors that
    broadcast against them."""
    total = None
    for slot, coef in angle.terms:
        if isinstance(slot, Theta):
            value = theta[(...,) + slot.index]
        else:
            assert data is not None, f"the angle {angle} has data slots: data is needed"
            value = data(slot)
        term = value * coef if coef != 1.0 else value
        total = term if total is None else total + term
    if total is None:
        return theta.new_full(theta.shape[:3], angle.const)
    return total + angle.const if angle.const != 0.0 else total


def arccos_domain_bounds(
    x: torch.Tensor, params: LayerParams, geometry: LayerGeometry, reps: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """(lo, hi), 0-dim tensors on x's device: the extremes over the batch of w*x+c of the arccos re-uploads
    ``reps`` (no host sync; w*x+c is monotone in x, so the batch's min and max of x bound it)."""
    with torch.no_grad():  # the reps by basic indexing: a list index would copy it to the device (a sync)
        weight = torch.stack([expand_edges(params.preacts_weight[..., r], geometry) for r in reps], -1)[..., None]
        bias = torch.stack([expand_edges(params.preacts_bias[..., r], geometry) for r in reps], -1)[..., None]
        x_lo, x_hi = torch.aminmax(x, dim=0)
        ends = torch.stack((x_lo, x_hi), dim=-1)[None, :, None, :]  # (1, I, 1, 2)
        return torch.aminmax(torch.addcmul(bias, weight, ends))


def arccos_domain_message(bounds: Optional[tuple[float, float]] = None) -> str:
    """The error of an arccos data slot that sees w*x+c outside [-1, 1], with the values seen if known."""
    seen = "" if bounds is None else f"; got values in [{bounds[0]:.4g}, {bounds[1]:.4g}]"
    return (
        "arccos-encoded data (px ansatz) needs preacts_weight*x + preacts_bias in [-1, 1]"
        + seen
        + ". Scale the input (e.g. tanh, or min-max to [-1, 1]) or the pre-activation weights."
    )


def check_arccos_domain(x: torch.Tensor, params: LayerParams, geometry: LayerGeometry, reps: Sequence[int]) -> None:
    """Raise ValueError if an arccos data slot of re-upload ``reps`` would see w*x+c outside [-1, 1] (NaN);
    reads the bounds on the host (one sync on a GPU)."""
    lo, hi = torch.stack(arccos_domain_bounds(x, params, geometry, reps)).tolist()
    if lo < -1.0 or hi > 1.0:
        raise ValueError(arccos_domain_message((lo, hi)))


def edge_contributions(f: torch.Tensor, x: torch.Tensor, params: LayerParams, geometry: LayerGeometry) -> torch.Tensor:
    """(B, O, I): mask * (pw * (f + pb) + bw * sigma(x)), the terms of the layer sum (docs/math.md, "A layer")."""
    sigma = base_activation_fn(geometry.base_activation)(x)
    return params.mask * (params.postact_weights * (f + params.postact_bias) + params.base_weight * sigma[:, None, :])


def bias_and_base(x: torch.Tensor, params: LayerParams, geometry: LayerGeometry) -> torch.Tensor:
    """(B, O): the layer's terms that do not involve the circuit: post-activation bias and base branch."""
    sigma = base_activation_fn(geometry.base_activation)(x)
    bias = (params.mask * params.postact_weights * params.postact_bias).sum(1)
    return bias + sigma @ (params.mask * params.base_weight).T


def layer_sum(f: torch.Tensor, x: torch.Tensor, params: LayerParams, geometry: LayerGeometry) -> torch.Tensor:
    """y (B, O) from circuit values f (B, O, I), without materialising the base branch per edge."""
    return torch.einsum("boi,oi->bo", f, params.mask * params.postact_weights) + bias_and_base(x, params, geometry)
