"""LayerSettings: every QKANLayer setting and its default, written once and checked once.

QKANLayer and QKAN read their signatures' defaults from here (QKAN through :data:`QKAN_DEFAULTS`, its one
published difference), and rebuilds (refine, pruning, quantisation) go through ``QKANLayer.from_settings``.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from numbers import Integral
from typing import Any, Callable, Mapping, Optional, Union

import numpy as np
import torch

from qkan.circuits import Circuit, builtin
from qkan.solvers import check_options
from qkan.solvers.activations import activation_name, base_activation_fn

Ansatz = Union[str, Circuit]
Activation = Union[str, Callable[[torch.Tensor], torch.Tensor], None]
Device = Union[str, int, torch.device, None]


def resolve_circuit(ansatz: Ansatz, reps: Optional[int], fast_measure: Optional[bool]) -> Circuit:
    """The Circuit for a built-in name or a user Circuit, with the readout ``fast_measure`` asks
    for (True: amp, False: z, None: the built-in default amp or the circuit's own)."""
    if fast_measure is not None and not isinstance(fast_measure, bool):
        raise TypeError(f"fast_measure must be True, False or None, got {fast_measure!r}")
    readout = None if fast_measure is None else ("amp" if fast_measure else "z")
    if isinstance(ansatz, Circuit):
        if reps is not None and reps != ansatz.data_reps:
            raise ValueError(f"reps={reps} does not match the circuit, which has {ansatz.data_reps} re-uploads")
        circuit = ansatz.with_readout(readout) if readout else ansatz
        return circuit.validate()
    if not isinstance(ansatz, str):
        raise TypeError(f"ansatz must be a built-in name or a qkan.circuits.Circuit, got {type(ansatz).__name__}")
    return builtin(ansatz, 3 if reps is None else reps, readout or "amp")


def is_int(value: Any) -> bool:
    """A Python or numpy integer (not a bool)."""
    return isinstance(value, Integral) and not isinstance(value, (bool, np.bool_))


THETA_INITS = ("xavier", "small_gaussian")
"""theta initialisations: xavier-normal, or N(0, 1/reps) for deep circuits (docs/migrating.md)."""


@dataclass(frozen=True)
class LayerSettings:
    """The constructor settings of a QKANLayer (sizes aside), in its positional order, as given; the
    checks run at construction, so a LayerSettings that exists is valid. ``circuit`` is derived."""

    reps: Optional[int] = None
    group: int = -1
    solver: str = "exact"
    ansatz: Ansatz = "pz"
    preact_trainable: bool = False
    postact_weight_trainable: bool = False
    postact_bias_trainable: bool = False
    base_activation: Activation = "silu"
    ba_trainable: bool = True
    fast_measure: Optional[bool] = None
    seed: Optional[int] = None
    device: Device = None
    dtype: Optional[torch.dtype] = None
    solver_kwargs: Optional[Mapping[str, Any]] = None
    preact_init: bool = False
    p_dim: int = 4
    checkpoint_reps: bool = False
    theta_init: str = "xavier"
    circuit: Circuit = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.reps is not None and (not is_int(self.reps) or self.reps < 1):
            raise ValueError(f"reps must be a positive integer, got {self.reps!r}")
        if not is_int(self.group) or (self.group != -1 and self.group < 1):
            raise ValueError(f"group must be -1 (one circuit per edge) or a positive integer, got {self.group!r}")
        for name in ("reps", "group", "seed"):
            if is_int(getattr(self, name)):
                object.__setattr__(self, name, int(getattr(self, name)))
        if self.p_dim not in (2, 4) or not is_int(self.p_dim):
            raise ValueError(f"p_dim must be 2 or 4 (the state_dict layout), got {self.p_dim!r}")
        object.__setattr__(self, "p_dim", int(self.p_dim))
        if self.theta_init not in THETA_INITS:
            raise ValueError(f"theta_init must be one of {THETA_INITS}, got {self.theta_init!r}")
        for name in (
            "preact_trainable",
            "postact_weight_trainable",
            "postact_bias_trainable",
            "ba_trainable",
            "preact_init",
            "checkpoint_reps",
        ):
            if not isinstance(getattr(self, name), bool):
                raise TypeError(f"{name} must be True or False, got {getattr(self, name)!r}")
        if self.seed is not None and not is_int(self.seed):
            raise TypeError(f"seed must be an integer or None, got {self.seed!r}")
        if self.dtype is not None and (not isinstance(self.dtype, torch.dtype) or not self.dtype.is_floating_point):
            raise TypeError(f"dtype must be a floating dtype, got {self.dtype}")
        if self.device is not None:
            try:
                object.__setattr__(self, "device", torch.device(self.device))
            except (RuntimeError, TypeError) as error:
                raise ValueError(f"device must name a torch device, got {self.device!r}") from error
        if self.solver_kwargs is not None:
            if not isinstance(self.solver_kwargs, Mapping):
                raise TypeError(f"solver_kwargs must be a dict or None, got {type(self.solver_kwargs).__name__}")
            object.__setattr__(self, "solver_kwargs", dict(self.solver_kwargs))
        check_options(self.solver, self.options)
        object.__setattr__(self, "base_activation", activation_name(self.base_activation))
        base_activation_fn(self.base_activation)  # an unknown name fails here, not at the first forward
        object.__setattr__(self, "circuit", resolve_circuit(self.ansatz, self.reps, self.fast_measure))

    @property
    def options(self) -> dict[str, Any]:
        """The solver options (``solver_kwargs``), a fresh dict."""
        return dict(self.solver_kwargs or {})

    def replace(self, **changes: Any) -> "LayerSettings":
        """A copy with ``changes`` applied, checked like a new one (this one is left as it is)."""
        return replace(self, **changes)

    def as_kwargs(self) -> dict[str, Any]:
        """The QKANLayer keyword arguments that these settings stand for."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.init}


QKAN_DEFAULTS = LayerSettings(ba_trainable=False)
"""QKAN's layer defaults: the published QKAN leaves the base branch untrained (QKANLayer trains it)."""
