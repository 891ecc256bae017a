"""Angle expressions: small affine forms over trainable, data and constant slots.

An angle is ``const + sum(coef * slot)``. Slots are :class:`Theta` (a trainable
entry of the per-edge parameter tensor) and :class:`Data` (re-upload ``rep`` of the
edge's input, raw or through the per-edge affine pre-activation, optionally arccos).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from numbers import Real
from typing import Union

DATA_ENCODINGS = ("auto", "raw", "affine", "arccos")


class _Algebra:
    """Operators shared by slots and angles: everything becomes an :class:`Angle`."""

    def _angle(self) -> "Angle":
        raise NotImplementedError

    def __add__(self, other: "AngleLike") -> "Angle":
        return self._angle()._plus(as_angle(other))

    __radd__ = __add__

    def __sub__(self, other: "AngleLike") -> "Angle":
        return self._angle()._plus(as_angle(other)._scaled(-1.0))

    def __rsub__(self, other: "AngleLike") -> "Angle":
        return as_angle(other)._plus(self._angle()._scaled(-1.0))

    def __neg__(self) -> "Angle":
        return self._angle()._scaled(-1.0)

    def __mul__(self, factor: Real) -> "Angle":
        if isinstance(factor, bool) or not isinstance(factor, Real):
            raise TypeError(f"an angle can only be scaled by a real number, got {type(factor).__name__}")
        if not math.isfinite(float(factor)):
            raise ValueError(f"an angle can only be scaled by a finite real number, got {factor!r}")
        return self._angle()._scaled(float(factor))

    __rmul__ = __mul__

    def __truediv__(self, divisor: Real) -> "Angle":
        if isinstance(divisor, bool) or not isinstance(divisor, Real):
            raise TypeError(f"an angle can only be divided by a non-zero real number, got {type(divisor).__name__}")
        if divisor == 0:
            raise ValueError("an angle can only be divided by a non-zero real number, got 0")
        if not math.isfinite(float(divisor)):
            raise ValueError(f"an angle can only be divided by a finite real number, got {divisor!r}")
        return self._angle()._scaled(1.0 / float(divisor))


@dataclass(frozen=True)
class Theta(_Algebra):
    """A trainable slot: ``index`` into the per-edge ``theta`` tensor (shape ``Circuit.theta_shape``)."""

    index: tuple[int, ...]

    def _angle(self) -> "Angle":
        return Angle(((self, 1.0),), 0.0)

    def __str__(self) -> str:
        return "θ[" + ",".join(map(str, self.index)) + "]"


@dataclass(frozen=True)
class Data(_Algebra):
    """A data slot: re-upload ``rep`` of the edge input.

    ``encoding``: ``raw`` is x; ``affine`` is w[rep]*x + c[rep]; ``arccos`` is
    arccos(w[rep]*x + c[rep]); ``auto`` is affine when the layer's pre-activations
    are trainable and raw otherwise (the published pz/real/mix behaviour).
    """

    rep: int
    encoding: str = "auto"

    def _angle(self) -> "Angle":
        return Angle(((self, 1.0),), 0.0)

    def resolved_encoding(self, preacts: bool) -> str:
        """The encoding this slot computes in a layer: ``auto`` becomes affine with trainable
        pre-activations, raw without (the one place that rule is written)."""
        if self.encoding == "auto":
            return "affine" if preacts else "raw"
        return self.encoding

    def __str__(self) -> str:
        core = {"auto": "φ{}", "raw": "x", "affine": "(w{0}x+c{0})", "arccos": "acos(w{0}x+c{0})"}[self.encoding]
        return core.format(self.rep)


Slot = Union[Theta, Data]


@dataclass(frozen=True)
class Angle(_Algebra):
    """``const + sum(coef * slot)``; terms with the same slot are merged, zero terms dropped."""

    terms: tuple[tuple[Slot, float], ...]
    const: float = 0.0

    def __post_init__(self) -> None:
        """Refuse a NaN or inf coefficient or constant (given, or from a sum or scale that overflowed)."""
        bad = [f"{c} for {s}" for s, c in self.terms if not math.isfinite(c)]
        bad += [] if math.isfinite(self.const) else [f"{self.const} for the constant"]
        if bad:
            raise ValueError(f"an angle's coefficients must be finite, got {', '.join(bad)}")

    def _angle(self) -> "Angle":
        return self

    def _plus(self, other: "Angle") -> "Angle":
        merged: dict[Slot, float] = {}
        for slot, coef in self.terms + other.terms:
            merged[slot] = merged.get(slot, 0.0) + coef
        return Angle(tuple((s, c) for s, c in merged.items() if c != 0.0), self.const + other.const)

    def _scaled(self, factor: float) -> "Angle":
        return Angle(tuple((s, c * factor) for s, c in self.terms if c * factor != 0.0), self.const * factor)

    @property
    def thetas(self) -> tuple[Theta, ...]:
        return tuple(s for s, _ in self.terms if isinstance(s, Theta))

    @property
    def data(self) -> tuple[Data, ...]:
        return tuple(s for s, _ in self.terms if isinstance(s, Data))

    @property
    def depends_on_data(self) -> bool:
        return bool(self.data)

    def __str__(self) -> str:
        parts = []
        for slot, coef in self.terms:
            parts.append(str(slot) if coef == 1.0 else f"{coef:g}*{slot}")
        if self.const != 0.0 or not parts:
            parts.append(f"{self.const:g}")
        return " + ".join(parts).replace("+ -", "- ")


AngleLike = Union[Angle, Theta, Data, Real]


def as_angle(value: AngleLike) -> Angle:
    """Turn a slot, number or angle into an :class:`Angle`, rejecting anything else."""
    if isinstance(value, _Algebra):
        return value._angle()
    if isinstance(value, Real) and not isinstance(value, bool):
        if not math.isfinite(float(value)):
            raise ValueError(f"a constant angle must be finite, got {value!r}")
        return Angle((), float(value))
    raise TypeError(
        f"an angle must be a number, theta(...), data(...) or an expression of them, got {type(value).__name__}"
    )


def theta(*index: int) -> Theta:
    """A trainable slot, e.g. ``theta(l, k)`` for row ``l`` column ``k`` of the per-edge theta."""
    if not index or not all(isinstance(i, int) and not isinstance(i, bool) and i >= 0 for i in index):
        raise ValueError(f"theta(...) takes one or more non-negative integer indices, got {index!r}")
    return Theta(tuple(index))


def data(rep: int, encoding: str = "auto") -> Data:
    """A data slot: re-upload ``rep`` of the edge input with the given ``encoding``."""
    if not isinstance(rep, int) or isinstance(rep, bool) or rep < 0:
        raise ValueError(f"data(rep) needs a non-negative integer re-upload index, got {rep!r}")
    if encoding not in DATA_ENCODINGS:
        raise ValueError(f"unknown data encoding {encoding!r}; expected one of {DATA_ENCODINGS}")
    return Data(rep, encoding)
