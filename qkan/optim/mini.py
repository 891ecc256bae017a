"""Adam-mini (arXiv:2406.16793) with the QKAN block partition, and its rank-1 curvature sibling."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional

import torch

from ._common import NamedOptimizer, block_mean, check_hyper, expand_blocks


class QKANAdamMini(NamedOptimizer):
    """Adam with one second moment per block (see :func:`qkan.optim._common.block_ndim`): memory N + #blocks
    instead of 2N. Pass ``model.named_parameters()``; bare parameters get the generic per-row rule."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ) -> None:
        check_hyper(lr, betas, eps, weight_decay, eps_may_be_zero=True)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p, g in self._grads(group):
                state = self.state[p]
                if not state:
                    view, ndim = self._block_layout(p)
                    state.update(step=0, block_ndim=ndim, v_view_shape=view)
                    state["exp_avg"] = torch.zeros_like(p)
                    state["exp_avg_sq_block"] = torch.zeros(view[:ndim], dtype=p.dtype, device=p.device)
                state["step"] += 1
                t, view = state["step"], state["v_view_shape"]
                m, v = state["exp_avg"], state["exp_avg_sq_block"]
                if wd:
                    p.mul_(1.0 - lr * wd)
                m.lerp_(g, 1.0 - beta1)
                v.mul_(beta2).add_(block_mean(g * g, view, state["block_ndim"]), alpha=1.0 - beta2)
                denom = (v / (1.0 - beta2**t)).sqrt_().add_(eps)
                p.addcdiv_(m, expand_blocks(denom, view, p.shape), value=-lr / (1.0 - beta1**t))
        return loss


class QKANSpectralMini(NamedOptimizer):
    """Per block b: precondition the mean gradient with (c_b c_b^T + eps I)^-1 (Sherman-Morrison), c_b the
    running mean of the block's gradient; each element's update clipped to [-1, 1]."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-3,
        weight_decay: float = 0.0,
    ) -> None:
        check_hyper(lr, betas, eps, weight_decay, eps_may_be_zero=False)
        super().__init__(params, dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay))

    def describe_layout(self) -> list[tuple[str, tuple[int, ...], int, int]]:
        """(name, shape, leading block axes, number of blocks) for every parameter, before any step."""
        rows = []
        for group in self.param_groups:
            for p in group["params"]:
                view, ndim = self._block_layout(p)
                rows.append((self._get_name(p), tuple(p.shape), ndim, math.prod(view[:ndim])))
        return rows

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        loss = self._run_closure(closure)
        for group in self.param_groups:
            lr, (beta1, beta2), eps, wd = group["lr"], group["betas"], group["eps"], group["weight_decay"]
            for p, g in self._grads(group):
                state = self.state[p]
                if not state:
                    view, ndim = self._block_layout(p)
                    state.update(step=0, block_ndim=ndim, view_shape=view)
                    state["exp_avg"], state["c"] = torch.zeros_like(p), torch.zeros_like(p)
                state["step"] += 1
                t, view = state["step"], state["view_shape"]
                if wd:
                    p.mul_(1.0 - lr * wd)
                state["exp_avg"].lerp_(g, 1.0 - beta1)
                state["c"].lerp_(g, 1.0 - beta2)
                blocks = math.prod(view[: state["block_ndim"]])
                m = (state["exp_avg"] / (1.0 - beta1**t)).reshape(blocks, -1)
                c = (state["c"] / (1.0 - beta2**t)).reshape(blocks, -1)
                coef = (c * m).sum(1, keepdim=True) / (eps + (c * c).sum(1, keepdim=True))
                update = ((m - coef * c) / eps).clamp_(-1.0, 1.0)
                p.add_(update.reshape(p.shape), alpha=-lr)
        return loss
