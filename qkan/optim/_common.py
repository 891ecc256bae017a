"""What the qkan.optim optimizers share: argument checks, ``named_parameters()`` input, the Adam-mini
block partition of QKAN parameters, and moving optimizer state between parameter layouts."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Mapping, Optional

import torch
from torch.optim import Optimizer

QKAN_EDGE_TENSORS = ("base_weight", "postact_weights", "postact_bias", "mask")
"""Per-edge (O, I) layer tensors: one block each (a per-edge block would be plain Adam)."""


def check_hyper(lr: float, betas: tuple[float, float], eps: float, weight_decay: float, eps_may_be_zero: bool) -> None:
    """ValueError naming the first hyperparameter outside its range."""
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr >= 0.0):
        raise ValueError(f"lr must be a finite number >= 0, got {lr!r}")
    if not (isinstance(eps, (int, float)) and (eps >= 0.0 if eps_may_be_zero else eps > 0.0)):
        raise ValueError(f"eps must be a number {'>=' if eps_may_be_zero else '>'} 0, got {eps!r}")
    if not (isinstance(betas, (tuple, list)) and len(betas) == 2 and all(0.0 <= b < 1.0 for b in betas)):
        raise ValueError(f"betas must be two numbers in [0, 1), got {betas!r}")
    if not (isinstance(weight_decay, (int, float)) and weight_decay >= 0.0):
        raise ValueError(f"weight_decay must be a number >= 0, got {weight_decay!r}")


def split_names(params: Iterable[Any]) -> tuple[list[Any], dict[int, str]]:
    """Parameters (or param-group dicts) and a map id(parameter) -> name for ``(name, parameter)`` items."""
    plain: list[Any] = []
    names: dict[int, str] = {}
    for item in params:
        if isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str):
            names[id(item[1])] = item[0]
            item = item[1]
        plain.append(item)
    return plain, names


def block_ndim(name: str, shape: tuple[int, ...]) -> int:
    """How many leading axes index Adam-mini blocks (the rest share one second moment).

    theta (O, I, R+1, K): a block per (o, i, r); pre-activations (O, I, R): a block per (o, i); the (O, I)
    edge tensors: one block; other matrices: a block per row; everything else: one block."""
    leaf = name.lower().rsplit(".", 1)[-1]
    if leaf == "theta" or leaf.startswith("preacts_"):
        return max(len(shape) - 1, 0)
    if leaf in QKAN_EDGE_TENSORS:
        return 0
    return 1 if len(shape) >= 2 else 0


def block_mean(values: torch.Tensor, view_shape: tuple[int, ...], ndim: int) -> torch.Tensor:
    """``values`` viewed as ``view_shape``, averaged over every axis after the first ``ndim``."""
    view = values.reshape(view_shape)
    return view if ndim == len(view_shape) else view.mean(dim=tuple(range(ndim, len(view_shape))))


def expand_blocks(blocks: torch.Tensor, view_shape: tuple[int, ...], shape: torch.Size) -> torch.Tensor:
    """Per-block values broadcast back to every element, in the parameter's own ``shape``."""
    trailing = (1,) * (len(view_shape) - blocks.dim())
    return blocks.reshape(*blocks.shape, *trailing).expand(view_shape).reshape(shape)


class NamedOptimizer(Optimizer):
    """An Optimizer that also takes ``model.named_parameters()``; names pick each tensor's block rule."""

    def __init__(self, params: Iterable[Any], defaults: dict[str, Any]) -> None:
        plain, self._param_names = split_names(params)
        super().__init__(plain, defaults)

    def _get_name(self, p: torch.Tensor) -> str:
        return self._param_names.get(id(p), "")

    def carry_names(self, replacements: Mapping[int, torch.Tensor]) -> None:
        """Give each replacement tensor the name of the parameter it replaces (keyed by the old one's ``id``), so
        block rules keep applying after a model's parameters get fresh storage."""
        self._param_names = {
            (id(replacements[key]) if key in replacements else key): name for key, name in self._param_names.items()
        }

    def _view_shape(self, p: torch.Tensor) -> tuple[int, ...]:
        """The shape the partition reads: a QKAN parameter's natural rank where it records one."""
        natural = getattr(p, "_qkan_natural_shape", None)
        return tuple(natural) if natural is not None else tuple(p.shape)

    def _block_layout(self, p: torch.Tensor) -> tuple[tuple[int, ...], int]:
        """(view shape, leading block axes) of ``p`` under the Adam-mini partition (:func:`block_ndim`)."""
        view = self._view_shape(p)
        return view, block_ndim(self._get_name(p), view)

    def _run_closure(self, closure: Optional[Callable[[], Any]]) -> Any:
        if closure is None:
            return None
        with torch.enable_grad():
            return closure()

    def _grads(self, group: dict[str, Any]) -> Iterable[tuple[torch.Tensor, torch.Tensor]]:
        """(parameter, gradient) for the group's parameters that have one; sparse gradients refused."""
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError(f"{type(self).__name__} does not support sparse gradients")
            yield p, p.grad


def reshape_optimizer_state(optimizer: Optimizer) -> int:
    """Give every state tensor of ``optimizer`` its parameter's shape where only the layout differs (same
    element count), e.g. after loading a checkpoint saved with another ``p_dim``; returns how many changed."""
    changed = 0
    for group in optimizer.param_groups:
        for p in group["params"]:
            state = optimizer.state.get(p, {})
            for key, value in list(state.items()):
                if isinstance(value, torch.Tensor) and value.shape != p.shape and value.numel() == p.numel():
                    state[key] = value.reshape(p.shape)
                    changed += 1
    return changed
