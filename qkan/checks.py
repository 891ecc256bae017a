"""Argument checks shared across the package (baselines, models, data, fit), with messages that name the
argument and the value."""

from __future__ import annotations

import math
from numbers import Integral, Real
from typing import Any, Iterable, Sequence


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


def chosen_nodes(active_neurons_id: Any, width: Sequence[int]) -> list[list[int]]:
    """The hidden nodes each hidden layer keeps, sorted and without repeats, from the published ``prune_node``
    form (entry l lists layer l's node ids; entry 0, the inputs, and any entry past the last hidden layer are
    ignored), or ValueError naming ``active_neurons_id``."""
    if isinstance(active_neurons_id, (str, bytes)) or not isinstance(active_neurons_id, Sequence):
        raise ValueError(f"active_neurons_id must be a list of node-id lists, got {active_neurons_id!r}")
    if len(active_neurons_id) < len(width) - 1:
        raise ValueError(
            f"active_neurons_id needs an entry for each layer up to the last hidden one ({len(width) - 1}), "
            f"got {len(active_neurons_id)}"
        )
    kept = []
    for l in range(1, len(width) - 1):
        ids = active_neurons_id[l]
        valid = isinstance(ids, Iterable) and not isinstance(ids, (str, bytes))
        ids = list(ids) if valid else []
        bad = [i for i in ids if not isinstance(i, Integral) or isinstance(i, bool) or not 0 <= int(i) < width[l]]
        if not ids or bad:
            raise ValueError(
                f"active_neurons_id[{l}] must be a non-empty list of node ids in [0, {width[l]}), "
                f"got {active_neurons_id[l]!r}"
            )
        kept.append(sorted({int(i) for i in ids}))
    return kept
