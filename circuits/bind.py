"""Numeric angles for one edge with bound values (for export and inspection)."""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from .angles import Angle, Data, Theta


def data_value(slot: Data, x: float, preacts_weight: Sequence[float], preacts_bias: Sequence[float],
               preacts: bool) -> float:
    """Value of a data slot for input ``x``; arccos raises outside [-1, 1] like the solvers."""
    affine = preacts_weight[slot.rep] * x + preacts_bias[slot.rep]
    encoding = slot.resolved_encoding(preacts)
    if encoding == "raw":
        return float(x)
    if encoding == "arccos":
        if not -1.0 <= affine <= 1.0:
            raise ValueError(f"arccos data slot needs w*x+c in [-1, 1], got {affine}")
        return math.acos(affine)
    return float(affine)


def angle_value(angle: Angle, theta: np.ndarray, x: float, preacts_weight: Sequence[float],
                preacts_bias: Sequence[float], preacts: bool) -> float:
    """Evaluate ``angle`` for one edge: theta (per-edge array), input x, pre-activation w and c."""
    total = angle.const
    for slot, coef in angle.terms:
        if isinstance(slot, Theta):
            total += coef * float(np.asarray(theta)[slot.index])
        else:
            total += coef * data_value(slot, x, preacts_weight, preacts_bias, preacts)
    return total
