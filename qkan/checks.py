"""Argument checks shared across the package (baselines, models, data, fit), with messages that name the
argument and the value."""

from __future__ import annotations

from numbers import Integral


def check_positive_int(name: str, value: object) -> int:
    """``value`` (an int or numpy integer, never a bool) as a positive int, or ValueError naming ``name``."""
    if not isinstance(value, Integral) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)
