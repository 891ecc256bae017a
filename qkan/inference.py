"""CUDA-graph inference under the published ``qkan.inference`` names: capture a module's no-grad forward once
per input shape and replay it (one launch instead of dozens). Anywhere a graph cannot apply (training mode,
gradients on, a CPU input, more arguments) the module runs eagerly, so a wrapped model stays usable as is."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

from .checks import check_positive_int
from .graphs import WARMUP_STEPS, make_graphed_train_step
from .optim._common import NamedOptimizer

__all__ = [
    "CompiledInference",
    "compile_inference",
    "graph_submodules",
    "make_graphed_inference",
    "make_graphed_train_step",
]


class _Captured:
    """One captured forward: static input and output buffers around a CUDA graph."""

    @torch.no_grad()
    def __init__(self, module: nn.Module, sample: Tensor, warmup: int):
        self.static_input = sample.detach().clone()
        device = sample.device
        side = torch.cuda.Stream(device=device)
        side.wait_stream(torch.cuda.current_stream(device))
        with torch.cuda.stream(side):
            for _ in range(max(1, warmup)):
                module(self.static_input)
        torch.cuda.current_stream(device).wait_stream(side)
        self.graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(self.graph):
            self.static_output = module(self.static_input)

    def replay(self, x: Tensor) -> Tensor:
        """The module's output for ``x`` (the output buffer: the next replay overwrites it)."""
        self.static_input.copy_(x)
        self.graph.replay()
        return self.static_output


def make_graphed_inference(
    model: nn.Module, sample_input: Tensor, warmup: int = WARMUP_STEPS
) -> Callable[[Tensor], Tensor]:
    """``replay(x)``: ``model(x)`` without gradients through one CUDA graph captured on ``sample_input``;
    ``x`` must have its shape and dtype (ValueError otherwise, and for a CPU sample)."""
    if not isinstance(sample_input, Tensor) or not sample_input.is_cuda:
        where = sample_input.device if isinstance(sample_input, Tensor) else type(sample_input).__name__
        raise ValueError(f"make_graphed_inference needs a CUDA sample_input (CUDA graphs), got {where}")
    captured = _Captured(model, sample_input, check_positive_int("warmup", warmup))

    def replay(x: Tensor) -> Tensor:
        static = captured.static_input
        if not isinstance(x, Tensor) or x.shape != static.shape or x.dtype != static.dtype:
            got = (tuple(x.shape), x.dtype) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"the graph replays shape {tuple(static.shape)} {static.dtype}, got {got}")
        return captured.replay(x)

    return replay


class CompiledInference(nn.Module):
    """``module`` with its eval, no-grad forwards on one CUDA tensor captured per (shape, dtype, device), up to
    ``max_shapes`` graphs (later shapes run eagerly); everything else runs ``module`` eagerly. Call
    :meth:`clear_cache` after replacing parameter tensors (in-place edits are seen by the graphs)."""

    def __init__(self, module: nn.Module, max_shapes: int = 8, warmup: int = WARMUP_STEPS) -> None:
        super().__init__()
        if not isinstance(module, nn.Module):
            raise TypeError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        self.module = module
        self.max_shapes = check_positive_int("max_shapes", max_shapes)
        self.warmup = check_positive_int("warmup", warmup)
        self._graphs: dict[tuple, _Captured] = {}
        self.training = module.training

    def train(self, mode: bool = True) -> "CompiledInference":
        self._graphs.clear()
        return super().train(mode)

    def clear_cache(self) -> None:
        """Drop every captured graph."""
        self._graphs.clear()

    def forward(self, x: Any, *args: Any, **kwargs: Any) -> Any:
        graphable = isinstance(x, Tensor) and x.is_cuda and not x.requires_grad
        if self.training or torch.is_grad_enabled() or args or kwargs or not graphable:
            return self.module(x, *args, **kwargs)
        key = (tuple(x.shape), x.dtype, x.device)
        captured = self._graphs.get(key)
        if captured is None:
            if len(self._graphs) >= self.max_shapes:
                return self.module(x)
            captured = self._graphs[key] = _Captured(self.module, x, self.warmup)
        return captured.replay(x)


def compile_inference(module: nn.Module, max_shapes: int = 8, warmup: int = WARMUP_STEPS) -> CompiledInference:
    """``CompiledInference(module, max_shapes, warmup)``."""
    return CompiledInference(module, max_shapes=max_shapes, warmup=warmup)


def graph_submodules(
    model: nn.Module,
    sample_input: Any,
    predicate: Callable[[nn.Module], bool],
    max_shapes: int = 8,
    warmup: int = WARMUP_STEPS,
) -> nn.Module:
    """Wrap (in place) every submodule for which ``predicate`` holds in :class:`CompiledInference`, put
    ``model`` in eval mode and run ``sample_input`` once without gradients (capturing on CUDA); returns model."""
    if not callable(predicate):
        raise TypeError(f"predicate must be a callable (module) -> bool, got {predicate!r}")
    targets = [
        (parent, name, child)
        for parent in model.modules()
        for name, child in parent.named_children()
        if predicate(child)
    ]
    for parent, name, child in targets:
        setattr(parent, name, CompiledInference(child, max_shapes=max_shapes, warmup=warmup))
    model.eval()
    with torch.no_grad():
        model(sample_input)
    return model


def _reallocate_params_on_stream(model: nn.Module, optimizer: Optional[torch.optim.Optimizer] = None) -> None:
    """The published private helper, kept for scripts that call it: give every parameter of ``model`` fresh
    storage (allocated on the current stream, its attributes and gradient kept; a tied parameter stays tied)
    and point ``optimizer`` at the new tensors: its param groups, its state and a named optimizer's name map."""
    fresh: dict[int, nn.Parameter] = {}
    for module in model.modules():
        for name, old in list(module._parameters.items()):
            if old is None:
                continue
            if id(old) not in fresh:
                new = nn.Parameter(old.detach().clone(), requires_grad=old.requires_grad)
                new.__dict__.update(old.__dict__)
                new.grad = None if old.grad is None else old.grad.detach().clone()
                fresh[id(old)] = new
            module._parameters[name] = fresh[id(old)]
    if optimizer is None:
        return
    for group in optimizer.param_groups:
        group["params"] = [fresh.get(id(p), p) for p in group["params"]]
    moved_state = {fresh.get(id(p), p): state for p, state in optimizer.state.items()}
    optimizer.state.clear()
    optimizer.state.update(moved_state)
    if isinstance(optimizer, NamedOptimizer):
        optimizer.carry_names(fresh)
