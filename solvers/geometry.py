"""What a layer hands a solver: its geometry (sizes, grouping, encodings, base activation) and its
seven tensors (docs/math.md, "A layer")."""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Integral
from typing import NamedTuple, Optional

import torch

from .activations import BaseActivation


class UnsupportedCircuit(ValueError):
    """A solver cannot run this circuit or size here; the message names what it cannot take
    and the solvers that can."""


@dataclass(frozen=True)
class LayerGeometry:
    """The layer around the circuit: sizes, grouping, whether ``auto`` data slots are affine,
    and the base activation (a registered name or a callable)."""

    in_dim: int
    out_dim: int
    groups: Optional[int] = None
    preacts: bool = False
    base_activation: BaseActivation = "silu"

    def __post_init__(self) -> None:
        for name in ("in_dim", "out_dim", "groups"):
            value = getattr(self, name)
            if (value is not None or name != "groups") and (
                not isinstance(value, Integral) or isinstance(value, bool) or value < 1
            ):
                raise ValueError(f"LayerGeometry.{name} must be a positive integer, got {value!r}")

    @property
    def edge_shape(self) -> tuple[int, ...]:
        """Leading shape of theta and pre-activation tensors: (O, I) or (g,)."""
        return (self.out_dim, self.in_dim) if self.groups is None else (self.groups,)


class LayerParams(NamedTuple):
    """The layer's tensors, with the published names and shapes (docs/math.md, "A layer")."""

    theta: torch.Tensor
    preacts_weight: torch.Tensor
    preacts_bias: torch.Tensor
    postact_weights: torch.Tensor
    postact_bias: torch.Tensor
    base_weight: torch.Tensor
    mask: torch.Tensor
