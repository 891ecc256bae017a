"""A Program as one opaque op under ``torch.compile``: for solvers whose call dynamo cannot trace (cutn's
contraction planning and library calls), ``opaque_apply`` runs the Program eagerly inside a
``torch.library.custom_op`` with a fake (shapes only) and an autograd rule, so a compiled model has no graph
break there. The backward recomputes the Program's forward under autograd (nothing but the inputs is saved,
as cutn's own chunked backward does) and takes its gradients."""

from __future__ import annotations

import itertools
import weakref
from contextlib import contextmanager
from typing import Iterator, Optional

import torch
from torch import Tensor

from .base import Program
from .geometry import LayerParams

METHODS = ("layer_output", "edge_values", "circuit_values")
_PROGRAMS: "weakref.WeakValueDictionary[str, Program]" = weakref.WeakValueDictionary()
_NUMBERS = itertools.count()


def register_opaque(program: Program) -> str:
    """Give ``program`` the key the ops reach it by (``program.opaque_key``; held weakly: a dropped layer's
    Program goes). Called eagerly, when a layer compiles its Program, so a trace only reads the attribute."""
    key = program.opaque_key
    if key is None:
        key = f"{type(program).__name__}-{next(_NUMBERS)}"
        _PROGRAMS[key] = program
        program.opaque_key = key
    return key


def _call(key: str, method: str, x: Tensor, params: tuple[Tensor, ...]) -> Tensor:
    return getattr(_PROGRAMS[key], method)(x, LayerParams(*params))


@torch.library.custom_op("qkan::program_forward", mutates_args=())
def program_forward(
    key: str,
    method: str,
    x: Tensor,
    theta: Tensor,
    pre_w: Tensor,
    pre_c: Tensor,
    pw: Tensor,
    pb: Tensor,
    bw: Tensor,
    mask: Tensor,
) -> Tensor:
    """The Program's ``method`` (one of METHODS) on x and the layer's tensors, without autograd."""
    with torch.no_grad():
        return _call(key, method, x, (theta, pre_w, pre_c, pw, pb, bw, mask)).clone()


@program_forward.register_fake
def _(key, method, x, theta, pre_w, pre_c, pw, pb, bw, mask):
    out_dim, in_dim = mask.shape
    return x.new_empty((x.shape[0], out_dim) if method == "layer_output" else (x.shape[0], out_dim, in_dim))


@contextmanager
def _autograd_restored() -> Iterator[None]:
    """Autograd inside an op's implementation: the dispatcher runs it with autograd's dispatch keys excluded,
    which the backward's recompute needs back (a private torch guard: no public one exists)."""
    keys = torch._C.DispatchKey
    with (
        torch._C._SetExcludeDispatchKeyGuard(keys.AutogradFunctionality, False),
        torch._C._SetExcludeDispatchKeyGuard(keys.ADInplaceOrView, False),
        torch.enable_grad(),
    ):
        yield


@torch.library.custom_op("qkan::program_backward", mutates_args=())
def program_backward(
    key: str,
    method: str,
    gout: Tensor,
    x: Tensor,
    theta: Tensor,
    pre_w: Tensor,
    pre_c: Tensor,
    pw: Tensor,
    pb: Tensor,
    bw: Tensor,
    mask: Tensor,
) -> tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]:
    """Gradients of <gout, method(x, params)> for x and the six trainable tensors (zeros where unused)."""
    inputs = [t.detach().requires_grad_() for t in (x, theta, pre_w, pre_c, pw, pb, bw)]
    with _autograd_restored():
        out = _call(key, method, inputs[0], (*inputs[1:], mask))
        grads = torch.autograd.grad(out, inputs, gout, allow_unused=True)
    g = [torch.zeros_like(t) if d is None else d for d, t in zip(grads, inputs)]
    return g[0], g[1], g[2], g[3], g[4], g[5], g[6]


@program_backward.register_fake
def _(key, method, gout, x, theta, pre_w, pre_c, pw, pb, bw, mask):
    return tuple(torch.empty_like(t) for t in (x, theta, pre_w, pre_c, pw, pb, bw))


def _setup_context(ctx, inputs, output) -> None:
    ctx.key, ctx.method = inputs[0], inputs[1]
    ctx.save_for_backward(*inputs[2:])


def _backward(ctx, gout: Tensor) -> tuple[Optional[Tensor], ...]:
    grads = program_backward(ctx.key, ctx.method, gout, *ctx.saved_tensors)
    return (None, None, *grads, None)  # no gradient for the key, the method or the mask


program_forward.register_autograd(_backward, setup_context=_setup_context)


def opaque_apply(program: Program, method: str, x: Tensor, params: LayerParams) -> Tensor:
    """``program.method(x, params)`` as the opaque op (what a compiled layer calls for a Program that is not
    traceable; :func:`register_opaque` gave it its key)."""
    return program_forward(program.opaque_key, method, x, *params)
