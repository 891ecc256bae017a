"""Argument checks shared across the package (baselines, models, data, fit), with messages that name the
argument and the value."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any


def check_positive_int(name: str, value: object) -> int:
    """``value`` (an int or numpy integer, never a bool) as a positive int, or ValueError naming ``name``."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


def check_threshold(name: str, value: object) -> float:
    """``value`` (a finite real number, never a bool) as a float, or ValueError naming ``name``."""
    if not isinstance(value, Real) or isinstance(value, bool) or not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value!r}")
    return float(value)


def check_materialised(module: Any, what: str) -> None:
    """ValueError naming the first tensors of ``module`` on the meta device (shapes without values), which
    ``what`` (the operation) cannot use."""
    on_meta = [name for name, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if on_meta:
        more = ", ..." if len(on_meta) > 3 else ""
        raise ValueError(
            f"{what}: the model has tensors on the meta device ({', '.join(on_meta[:3])}{more}), which hold no "
            "values: materialise it first (to_empty() and load_state_dict)"
        )
