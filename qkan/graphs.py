"""CUDA-graph training steps: capture one train step of any model (QKAN layers, HQKAN, the GPT) once, replay it.

A replay costs one graph launch instead of dozens of kernel launches, which is what dominates a
small layer's train step in eager PyTorch. Inputs are copied into static buffers captured with the
graph, so every call must use the example's shapes and dtypes (another shape raises, never replays).

Two call forms, told apart by the argument after the model:

* ours, ``make_graphed_train_step(model, loss_fn, optimizer, example_x, example_y)``: the graph holds
  forward, loss, backward and ``optimizer.step()``; a replay is a whole train step.
* the published qkan's, ``make_graphed_train_step(model, sample_input, sample_target, loss_fn, optimizer)``:
  the graph holds zero_grad (in place), forward, loss and backward; the caller runs ``optimizer.step()``
  after each replay, as the published package documents.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

import torch
from torch import Tensor, nn

WARMUP_STEPS = 3  # eager steps on a side stream before capture (allocator pools, lazy state, kernel loads)
FEW_TENSORS = 4  # an optimizer over at most this many trainable tensors gets its per-tensor kernels (foreach=False)
# unless foreach was asked for: the multi-tensor kernels run one block per 65536-element chunk, so the one
# 80k-element theta of QKAN([100,100]) got 2 blocks (H200, Adam: graphed step 0.194 -> 0.147 ms)
OUR_ARGS = ("loss_fn", "optimizer", "example_x", "example_y")
PUBLISHED_ARGS = ("sample_input", "sample_target", "loss_fn", "optimizer", "warmup")
AUTOCAST_DTYPES = (torch.bfloat16,)  # fp16 needs a GradScaler, whose inf check reads the device from the host

LossFn = Callable[[Any, Tensor], Tensor]


@dataclass(frozen=True)
class StepCall:
    """The arguments of one make_graphed_train_step call, in either form; ``published`` tells which."""

    loss_fn: LossFn
    optimizer: torch.optim.Optimizer
    x: Tensor
    y: Tensor
    published: bool
    warmup: int = WARMUP_STEPS


def parse_call(args: tuple, named: dict[str, Any], warmup: int = WARMUP_STEPS) -> StepCall:
    """Read the arguments after ``model``: the published form when the first is a tensor or
    ``sample_input``/``sample_target`` are named, else ours; TypeError on a missing, repeated or unknown one."""
    published = (bool(args) and torch.is_tensor(args[0])) or "sample_input" in named or "sample_target" in named
    names = PUBLISHED_ARGS if published else OUR_ARGS
    form = (
        "published (model, sample_input, sample_target, loss_fn, optimizer[, warmup])"
        if published
        else "(model, loss_fn, optimizer, example_x, example_y)"
    )
    if len(args) > len(names):
        raise TypeError(
            f"make_graphed_train_step{form} takes at most {len(names)} arguments after model, got {len(args)}"
        )
    values = dict(zip(names, args))
    for key, value in named.items():
        if key not in names:
            raise TypeError(
                f"make_graphed_train_step got an unexpected argument {key!r}; the form {form} takes {list(names)}"
            )
        if key in values:
            raise TypeError(f"make_graphed_train_step got {key!r} twice (by position and by name)")
        values[key] = value
    values.setdefault("warmup", warmup)
    missing = [n for n in names if n not in values]
    if missing:
        raise TypeError(f"make_graphed_train_step{form} is missing {missing}")
    x, y = (
        (values["sample_input"], values["sample_target"]) if published else (values["example_x"], values["example_y"])
    )
    call = StepCall(values["loss_fn"], values["optimizer"], x, y, published, values["warmup"])
    _check_types(call, names)
    return call


def _check_types(call: StepCall, names: tuple[str, ...]) -> None:
    x_name, y_name = ("sample_input", "sample_target") if "sample_input" in names else ("example_x", "example_y")
    for name, value in ((x_name, call.x), (y_name, call.y)):
        if not torch.is_tensor(value):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if not callable(call.loss_fn):
        raise TypeError(f"loss_fn must be callable as loss_fn(output, target), got {type(call.loss_fn).__name__}")
    if not isinstance(call.optimizer, torch.optim.Optimizer):
        raise TypeError(f"optimizer must be a torch.optim.Optimizer, got {type(call.optimizer).__name__}")
    if not isinstance(call.warmup, int) or isinstance(call.warmup, bool) or call.warmup < 1:
        raise ValueError(f"warmup must be a positive integer, got {call.warmup!r}")


class GraphedStep:
    """A captured train step: copies (x, y) into the static buffers and replays the graph; returns the
    loss buffer (overwritten by the next replay: clone it to keep it). ``includes_optimizer_step`` is
    False for the published form, whose caller runs ``optimizer.step()`` after each replay."""

    def __init__(self, graph: Any, static_x: Tensor, static_y: Tensor, loss: Tensor, includes_optimizer_step: bool):
        self.graph, self.static_x, self.static_y, self.loss = graph, static_x, static_y, loss
        self.includes_optimizer_step = includes_optimizer_step

    def __call__(self, x: Tensor, y: Tensor) -> Tensor:
        for name, given, static in (("input", x, self.static_x), ("target", y, self.static_y)):
            if not torch.is_tensor(given):
                raise TypeError(f"a graphed step takes tensors, got {type(given).__name__} for the {name}")
            if given.shape != static.shape or given.dtype != static.dtype:
                raise ValueError(
                    f"a graphed step replays the captured shapes: the {name} must be "
                    f"{tuple(static.shape)} {static.dtype}, got {tuple(given.shape)} {given.dtype}; "
                    "capture another step (make_graphed_train_step) for this shape"
                )
        self.static_x.copy_(x)
        self.static_y.copy_(y)
        self.graph.replay()
        return self.loss


def _snapshot(model: nn.Module, optimizer: torch.optim.Optimizer) -> tuple[list[Tensor], dict]:
    params = [p.detach().clone() for p in model.parameters()]
    state = {id(v): v.detach().clone() for s in optimizer.state.values() for v in s.values() if torch.is_tensor(v)}
    return params, state


def _restore(model: nn.Module, optimizer: torch.optim.Optimizer, snapshot: tuple[list[Tensor], dict]) -> None:
    """Put parameters and optimizer state back in place (same storage, so the graph still sees them);
    state created by the warm-up steps is zeroed, as a fresh optimizer would start."""
    params, state = snapshot
    with torch.no_grad():
        for p, saved in zip(model.parameters(), params):
            p.copy_(saved)
        for s in optimizer.state.values():
            for v in s.values():
                if torch.is_tensor(v):
                    v.copy_(state[id(v)]) if id(v) in state else v.zero_()


def prepare_for_capture(optimizer: torch.optim.Optimizer) -> None:
    """Switch ``optimizer`` to ``capturable=True`` where it has that option (its step counts move to the
    parameters' device, and a float learning rate becomes a 0-d tensor there, so a scheduler that changes it
    between replays is seen by the graph instead of the rate frozen at capture) and, over at most FEW_TENSORS
    trainable tensors with ``foreach`` left unset, to its per-tensor kernels."""
    few = sum(p.requires_grad for group in optimizer.param_groups for p in group["params"]) <= FEW_TENSORS
    for group in optimizer.param_groups:
        if few and "foreach" in group and group["foreach"] is None and not group.get("fused"):
            group["foreach"] = False
        if "capturable" not in group or not group["params"]:
            continue
        group["capturable"] = True
        device = group["params"][0].device
        if not torch.is_tensor(group["lr"]):
            group["lr"] = torch.tensor(float(group["lr"]), device=device)
        elif group["lr"].device != device:
            group["lr"] = group["lr"].to(device)
        for p in group["params"]:  # steps taken eagerly live on the CPU; capturable ones on the device
            state = optimizer.state.get(p, {})
            if torch.is_tensor(state.get("step")) and state["step"].device != p.device:
                state["step"] = state["step"].to(p.device)


def _check_capture(
    model: nn.Module, call: StepCall, autocast: Optional[torch.dtype], grad_clip: Optional[float]
) -> None:
    for name, tensor in (("input", call.x), ("target", call.y)):
        if tensor.device.type != "cuda":
            raise ValueError(
                f"make_graphed_train_step needs CUDA tensors (CUDA graphs), got the {name} on {tensor.device}"
            )
    off = sorted({str(p.device) for p in model.parameters() if p.device.type != "cuda"})
    if off:
        raise ValueError(f"make_graphed_train_step needs the model on CUDA, found parameters on {off}")
    if autocast is not None and autocast not in AUTOCAST_DTYPES:
        raise ValueError(
            f"autocast must be None or torch.bfloat16, got {autocast!r} (float16 needs a GradScaler, "
            "whose overflow check reads the device from the host and so cannot be captured)"
        )
    if grad_clip is not None and not (isinstance(grad_clip, (int, float)) and grad_clip > 0):
        raise ValueError(f"grad_clip must be None or a positive number, got {grad_clip!r}")


def make_graphed_train_step(
    model: nn.Module,
    *args: Any,
    warmup: int = WARMUP_STEPS,
    autocast: Optional[torch.dtype] = None,
    grad_clip: Optional[float] = None,
    **named: Any,
) -> GraphedStep:
    """Return ``step(x, y) -> loss`` replaying one captured train step of ``model`` on CUDA.

    Ours, ``(model, loss_fn, optimizer, example_x, example_y)``: zero grads, ``loss_fn(model(x), y)``, backward
    and ``optimizer.step()`` in one graph. The optimizer is prepared as ``prepare_for_capture`` says (capturable,
    device learning rate, per-tensor kernels over few tensors). Gradients are set to None before each step, so
    the captured backward writes them instead of zeroing and adding; after a replay they hold that step's
    gradients. Warm-up steps run before capture; parameters and optimizer state are restored afterwards, so
    the first replay is the first real step.

    Published, ``(model, sample_input, sample_target, loss_fn, optimizer[, warmup])``: the model is put in train
    mode and the graph holds ``optimizer.zero_grad(set_to_none=False)``, forward, loss and backward; call
    ``optimizer.step()`` after each replay (and never set the gradients to None between replays).

    ``loss_fn`` gets the model's output as it is (a tuple for the GPT). ``autocast=torch.bfloat16`` runs forward
    and loss under ``torch.autocast``; ``grad_clip`` clips the global gradient norm inside the graph.
    ValueError: tensors or parameters off CUDA, a replay with another shape or dtype; TypeError: bad arguments."""
    call = parse_call(args, named, warmup)
    _check_capture(model, call, autocast, grad_clip)
    optimizer, device = call.optimizer, call.x.device
    if call.published:
        model.train()
    else:
        prepare_for_capture(optimizer)
    static_x, static_y = call.x.detach().clone(), call.y.detach().clone()
    params = [p for group in optimizer.param_groups for p in group["params"]]

    def train_step() -> Tensor:
        optimizer.zero_grad(set_to_none=not call.published)
        cast = torch.autocast("cuda", dtype=autocast, cache_enabled=False) if autocast else contextlib.nullcontext()
        with cast:
            loss = call.loss_fn(model(static_x), static_y)
        loss.backward()
        if grad_clip is not None:
            nn.utils.clip_grad_norm_(params, grad_clip)
        if not call.published:
            optimizer.step()
        return loss

    snapshot = None if call.published else _snapshot(model, optimizer)
    side = torch.cuda.Stream(device=device)
    side.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(side):
        for _ in range(call.warmup):
            train_step()
    torch.cuda.current_stream(device).wait_stream(side)

    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        static_loss = train_step()
    if snapshot is not None:
        _restore(model, optimizer, snapshot)
    return GraphedStep(graph, static_x, static_y, static_loss, includes_optimizer_step=not call.published)
