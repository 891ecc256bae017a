"""Numeric angles for one edge with bound values (for export and inspection)."""

from __future__ import annotations

import math
from typing import Optional, Sequence, Union

import numpy as np

from .angles import Angle, Data, Theta

Values = Union[Sequence[float], np.ndarray]  # one value per re-upload


def finite_array(name: str, value: object, shape: Optional[tuple[int, ...]] = None) -> np.ndarray:
    """``value`` as a float64 array, or an error naming ``name``: TypeError for anything but real numbers,
    ValueError for a shape other than ``shape`` (when given) or a NaN/inf entry (the first one is named)."""
    raw = np.asarray(value)
    if raw.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be real numbers, got {value!r}")
    array = raw.astype(float)
    if shape is not None and array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}, got {array.shape}")
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.unravel_index(np.argmax(bad), array.shape))
        where = f" at index {index}" if index else ""
        raise ValueError(f"{name} must be finite, got {array[index]}{where}")
    return array


def data_value(slot: Data, x: float, preacts_weight: Values, preacts_bias: Values, preacts: bool) -> float:
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


def _check_slots(angle: Angle, theta: np.ndarray, reps: int) -> None:
    """Refuse a theta slot outside ``theta`` or a data slot beyond the ``reps`` pre-activation entries."""
    for t in angle.thetas:
        if len(t.index) != theta.ndim or any(i >= d for i, d in zip(t.index, theta.shape)):
            raise ValueError(f"theta of shape {theta.shape} has no entry {t} used by the angle {angle}")
    for slot in angle.data:
        if slot.rep >= reps:
            raise ValueError(
                f"preacts_weight and preacts_bias have {reps} entries but the angle {angle} uses re-upload {slot.rep}"
            )


def angle_value(
    angle: Angle,
    theta: np.ndarray,
    x: float,
    preacts_weight: Values,
    preacts_bias: Values,
    preacts: bool,
) -> float:
    """Evaluate ``angle`` for one edge: theta (per-edge array), input x, pre-activation w and c.
    Non-finite inputs, slots the values do not cover and a non-finite result raise ValueError."""
    theta = finite_array("theta", theta)
    x = float(finite_array("x", x, ()))
    w = finite_array("preacts_weight", preacts_weight)
    c = finite_array("preacts_bias", preacts_bias, w.shape)
    if w.ndim != 1:
        raise ValueError(f"preacts_weight must be one value per re-upload (1-d), got shape {w.shape}")
    _check_slots(angle, theta, len(w))
    total = angle.const
    for slot, coef in angle.terms:
        if isinstance(slot, Theta):
            total += coef * float(theta[slot.index])
        else:
            total += coef * data_value(slot, x, w, c, preacts)
    if not math.isfinite(total):
        raise ValueError(f"the angle {angle} evaluates to {total} (overflow) at x={x}")
    return total
