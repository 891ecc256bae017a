"""The flash kernels at torch's boundary: ``torch.library.custom_op``s (forward and backward, with fake
implementations) that autograd, ``torch.compile`` and CUDA-graph capture see as two opaque ops, and a plain
``torch.autograd.Function`` for eager calls (``flash_apply`` picks), since the dispatcher's per-call cost
of a custom op (about 90 us on the H100 machine) exceeds the kernels' own time.

A kernel set is registered under a string key, so one pair of ops serves every circuit. ``edge=False`` is
the layer output y (B, O), ``edge=True`` the raw readout f (B, O, I). The forward also returns the per-edge
table, which the backward reuses (nothing of size B x O x I is saved)."""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from .launch import FlashKernels, GradTuple

GradTensors = tuple[Tensor, Tensor, Tensor, Tensor, Tensor, Tensor, Tensor]  # all seven (the op's schema)


_KERNELS: dict[str, FlashKernels] = {}


def register_kernels(key: str, kernels: FlashKernels) -> str:
    """Make ``kernels`` reachable from the ops under ``key``."""
    _KERNELS[key] = kernels
    return key


@torch.library.custom_op("qkan::flash_forward", mutates_args=())
def flash_forward(
    key: str,
    edge: bool,
    x: Tensor,
    theta: Tensor,
    pre_w: Tensor,
    pre_c: Tensor,
    pw: Tensor,
    pb: Tensor,
    bw: Tensor,
    mask: Tensor,
) -> tuple[Tensor, Tensor]:
    """(y (B, O) or f (B, O, I) in x's dtype, per-edge table (P, I, O)) from contiguous inputs: parameters in the
    compute dtype, x in it too or in bf16/fp16 over float32 parameters."""
    return _KERNELS[key].forward(edge, x, theta, pre_w, pre_c, pw, pb, bw, mask)


@flash_forward.register_fake
def _(key, edge, x, theta, pre_w, pre_c, pw, pb, bw, mask):
    out_dim, in_dim = mask.shape
    shape = (x.shape[0], out_dim, in_dim) if edge else (x.shape[0], out_dim)
    table = theta.new_empty(_KERNELS[key].table_size, in_dim, out_dim)
    return x.new_empty(shape), table


@torch.library.custom_op("qkan::flash_backward", mutates_args=())
def flash_backward(
    key: str,
    edge: bool,
    gout: Tensor,
    x: Tensor,
    table: Tensor,
    theta: Tensor,
    pre_w: Tensor,
    pw: Tensor,
    pb: Tensor,
    mask: Tensor,
) -> GradTensors:
    """(grad x, theta, preacts_weight, preacts_bias, postact_weights, postact_bias, base_weight) for the
    cotangent ``gout`` of flash_forward's output; the last three are zeros for ``edge=True``."""
    gx, g_theta, g_prew, g_prec, g_pw, g_pb, g_bw = _KERNELS[key].backward(
        edge, gout.contiguous(), x, table, theta, pw, pb, mask
    )  # every gradient needed: none is None
    assert gx is not None and g_theta is not None and g_prew is not None and g_prec is not None
    assert g_pw is not None and g_pb is not None and g_bw is not None
    return gx, g_theta, g_prew, g_prec, g_pw, g_pb, g_bw


@flash_backward.register_fake
def _(key, edge, gout, x, table, theta, pre_w, pw, pb, mask):
    return (
        torch.empty_like(x),
        torch.empty_like(theta),
        torch.empty_like(pre_w),
        torch.empty_like(pre_w),
        torch.empty_like(pw),
        torch.empty_like(pw),
        torch.empty_like(pw),
    )


def _setup_context(ctx, inputs, output) -> None:
    key, edge, x, theta, pre_w, pre_c, pw, pb, bw, mask = inputs
    ctx.key, ctx.edge = key, edge
    ctx.save_for_backward(x, output[1], theta, pre_w, pw, pb, mask)


def _input_grads(ctx, grads: GradTuple) -> tuple[Optional[Tensor], ...]:
    """Gradients in the order of flash_forward's inputs (none for the key, the flag and the mask)."""
    gx, g_theta, g_prew, g_prec, g_pw, g_pb, g_bw = grads
    if ctx.edge:
        g_pw = g_pb = g_bw = None
    return None, None, gx, g_theta, g_prew, g_prec, g_pw, g_pb, g_bw, None


def _backward(ctx, gout: Tensor, _gtable: Optional[Tensor]):
    x, table, theta, pre_w, pw, pb, mask = ctx.saved_tensors
    return _input_grads(ctx, flash_backward(ctx.key, ctx.edge, gout, x, table, theta, pre_w, pw, pb, mask))


flash_forward.register_autograd(_backward, setup_context=_setup_context)


class _EagerFlash(torch.autograd.Function):
    """The same kernels and saved tensors as the custom ops, without the dispatcher."""

    @staticmethod
    def forward(ctx, key: str, edge: bool, *tensors: Tensor) -> Tensor:
        output = _KERNELS[key].forward(edge, *tensors)
        _setup_context(ctx, (key, edge, *tensors), output)
        return output[0]

    @staticmethod
    def backward(ctx, gout: Tensor):
        x, table, theta, pre_w, pw, pb, mask = ctx.saved_tensors
        needed = ctx.needs_input_grad[2:9]  # x, theta, preacts w and c, postact w and b, base weight
        return _input_grads(
            ctx, _KERNELS[ctx.key].backward(ctx.edge, gout.contiguous(), x, table, theta, pw, pb, mask, needed)
        )


def flash_apply(key: str, edge: bool, *tensors: Tensor) -> Tensor:
    """y (B, O) or f (B, O, I): the custom op under ``torch.compile``, the kernels alone under no_grad, the
    autograd.Function otherwise."""
    if torch.compiler.is_compiling():
        return flash_forward(key, edge, *tensors)[0]
    if not torch.is_grad_enabled():  # inference: no autograd node to build, so call the kernels directly
        return _KERNELS[key].forward(edge, *tensors)[0]
    return _EagerFlash.apply(key, edge, *tensors)
