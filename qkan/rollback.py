"""Failed calls leave a model as it was: :class:`ModuleSnapshot` records what an in-place operation may change
(each module's class, attributes, parameter and buffer objects, hooks, train/eval flag, and the values of the
tensors it writes) and puts all of it back when the operation raises (issue 22, "nothing half-done")."""

from __future__ import annotations

import copy
from contextlib import contextmanager
from typing import Any, Iterator, Mapping

import torch
from torch import nn


class ModuleSnapshot:
    """The structure of every module under ``model`` (shallow: the same parameter and submodule objects), plus
    copies of the tensor values saved with :meth:`save_values` before they are written in place."""

    def __init__(self, model: nn.Module):
        self._modules = [(module, type(module), _shallow_state(module)) for module in model.modules()]
        self._values: list[tuple[torch.Tensor, torch.Tensor]] = []

    def save_values(self, *tensors: torch.Tensor) -> None:
        """Keep a copy of each tensor's current values (call before writing into it in place)."""
        self._values.extend((t, t.detach().clone()) for t in tensors)

    def restore(self) -> None:
        """Put every recorded module and saved value back as it was when recorded."""
        for module, cls, state in self._modules:
            module.__class__ = cls  # torch parametrizations swap a module's class
            module.__dict__.clear()
            module.__dict__.update(_shallow_state_of(state))
        with torch.no_grad():
            for tensor, values in reversed(self._values):
                tensor.copy_(values)


def _shallow_state(module: nn.Module) -> dict[str, Any]:
    """``module.__dict__`` with its containers (parameters, buffers, submodules, hooks) copied one level."""
    return _shallow_state_of(module.__dict__)


def _shallow_state_of(state: dict[str, Any]) -> dict[str, Any]:
    return {k: copy.copy(v) if isinstance(v, (dict, list, set)) else v for k, v in state.items()}


@contextmanager
def restored_on_failure(model: nn.Module, values: bool = False) -> Iterator[ModuleSnapshot]:
    """Run the block against ``model``; if it raises, ``model`` gets back its recorded structure (and, with
    ``values``, every parameter's and buffer's values) before the exception propagates."""
    snapshot = ModuleSnapshot(model)
    if values:
        snapshot.save_values(*model.parameters(), *model.buffers())
    try:
        yield snapshot
    except BaseException:
        snapshot.restore()
        raise


class AllOrNothingLoad(nn.Module):
    """An nn.Module whose ``load_state_dict`` is all or nothing: torch's copies every entry that fits before it
    raises on the others (missing, unexpected, wrong shape); here such a refusal leaves the module as it was."""

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False) -> Any:
        with restored_on_failure(self, values=True):
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
