"""The published ansatzes (docs/math.md, "Built-in ansatzes") as ordinary Circuits, built by functions of ``reps``."""

from __future__ import annotations

from typing import Callable

from .angles import data, theta
from .circuit import Circuit


def pz(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RZ(θ[l,0]) RY(θ[l,1]) RZ(φ_l), then RZ(θ[R,0]) RY(θ[R,1])."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 2), name="pz").h(0)
    for l in range(reps):
        c = c.rz(0, theta(l, 0)).ry(0, theta(l, 1)).rz(0, data(l))
    return c.rz(0, theta(reps, 0)).ry(0, theta(reps, 1)).measure(readout)


def rpz(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RY(θ[l,0]) RZ(w x + c), then RY(θ[R,0]); pre-activations always on."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 1), name="rpz").h(0)
    for l in range(reps):
        c = c.ry(0, theta(l, 0)).rz(0, data(l, "affine"))
    return c.ry(0, theta(reps, 0)).measure(readout)


def real(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload X RY(θ[l,0]) Z RY(φ_l); no final layer; real arithmetic only."""
    c = Circuit(1, reps=reps, theta_shape=(reps, 1), name="real").h(0)
    for l in range(reps):
        c = c.x(0).ry(0, theta(l, 0)).z(0).ry(0, data(l))
    return c.measure(readout)


def px(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RZ(θ[l,0]) RX(arccos(w x + c)), then RZ(θ[R,0])."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 1), name="px").h(0)
    for l in range(reps):
        c = c.rz(0, theta(l, 0)).rx(0, data(l, "arccos"))
    return c.rz(0, theta(reps, 0)).measure(readout)


def mix(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RZ(θ[l,0]) RX(θ[l,1]) RY(φ_l), then RZ(θ[R,0]) RX(θ[R,1])."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 2), name="mix").h(0)
    for l in range(reps):
        c = c.rz(0, theta(l, 0)).rx(0, theta(l, 1)).ry(0, data(l))
    return c.rz(0, theta(reps, 0)).rx(0, theta(reps, 1)).measure(readout)


BUILTINS: dict[str, Callable[..., Circuit]] = {"pz": pz, "rpz": rpz, "real": real, "px": px, "mix": mix}
BUILTIN_ALIASES = {"pz_encoding": "pz", "rpz_encoding": "rpz", "px_encoding": "px"}


def builtin(name: str, reps: int, readout: str = "amp") -> Circuit:
    """A built-in ansatz by name or published alias (``pz_encoding`` ...)."""
    key = BUILTIN_ALIASES.get(name, name)
    if key not in BUILTINS:
        known = sorted(BUILTINS) + sorted(BUILTIN_ALIASES)
        raise ValueError(f"unknown ansatz {name!r}; expected a Circuit or one of {known}")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    return BUILTINS[key](reps, readout)
