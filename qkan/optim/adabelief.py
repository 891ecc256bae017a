"""AdaBelief (Zhuang et al. 2020): Adam whose denominator tracks the variance of the gradient around its
running mean; per element (AdaBelief, TritonAdaBelief) or per Adam-mini block (QKANBeliefMini)."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional

import torch

from ._common import NamedOptimizer, block_mean, check_hyper, expand_blocks


def _belief_update(
    p: torch.Tensor, g: torch.Tensor, m: torch.Tensor, s: torch.Tensor, group: dict[str, Any]
) -> torch.Tensor:
    """Decay, update the mean ``m`` in place and return the squared residual (g - m)^2 in ``s``'s dtype;
    the caller folds it into its variance ``s`` (per element or per block)."""
    lr, wd = group["lr"], group["weight_decay"]
    beta1 = group["betas"][0]
    if wd:
        p.mul_(1.0 - lr * wd)
    m.lerp_(g.to(m.dtype), 1.0 - beta1)
    resid = g - m
    return (resid * resid).to(s.dtype)


def _apply(p: torch.Tensor, m: torch.Tensor, denom_sq: torch.Tensor, step: int, group: dict[str, Any]) -> None:
    """p -= lr * m_hat / (sqrt(s_hat) + eps) with bias corrections for ``step``."""
    beta1, beta2 = group["betas"]
    bc1, sqrt_bc2 = 1.0 - beta1**step, math.sqrt(1.0 - beta2**step)
    denom = denom_sq.sqrt().add_(group["eps"] * sqrt_bc2)
    p.addcdiv_(m.to(p.dtype), denom.to(p.dtype), value=-group["lr"] * sqrt_bc2 / bc1)


def _belief_defaults(
    lr: float, betas: tuple[float, float], eps: float, weight_decay: float, state_dtype: Optional[torch.dtype]
) -> dict[str, Any]:
    """The checked param-group defaults of the AdaBelief family."""
    check_hyper(lr, betas, eps, weight_decay, eps_may_be_zero=False)
    if state_dtype is not None and not (isinstance(state_dtype, torch.dtype) and state_dtype.is_floating_point):
        raise TypeError(f"state_dtype must be None or a floating torch.dtype, got {state_dtype!r}")
    return dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, state_dtype=state_dtype)


class AdaBelief(NamedOptimizer):
    """AdaBelief with decoupled weight decay; ``lr=1e-2`` by default (QKAN's noisy gradients suit it).
    State per parameter: ``exp_avg`` and ``exp_avg_var``."""

    _mean_key, _var_key = "exp_avg", "exp_avg_var"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, _belief_defaults(lr, betas, eps, weight_decay, None))

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        loss = self._run_closure(closure)
        for group in self.param_groups:
            for p, g in self._grads(group):
                state = self.state[p]
                if not state:
                    dtype = group["state_dtype"] or p.dtype
                    state["step"] = 0
                    state[self._mean_key] = torch.zeros_like(p, dtype=dtype)
                    state[self._var_key] = torch.zeros_like(p, dtype=dtype)
                state["step"] += 1
                m, s = state[self._mean_key], state[self._var_key]
                sq = _belief_update(p, g, m, s, group)
                s.mul_(group["betas"][1]).add_(sq, alpha=1.0 - group["betas"][1])
                _apply(p, m, s, state["step"], group)
        return loss


class TritonAdaBelief(AdaBelief):
    """AdaBelief with an optional ``state_dtype`` (bfloat16 halves its memory); state keys ``m`` and ``s``.
    Here every device runs the eager update (the published one fuses it into a Triton kernel on CUDA)."""

    _mean_key, _var_key = "m", "s"

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0.0,
        state_dtype: Optional[torch.dtype] = None,
    ) -> None:
        NamedOptimizer.__init__(self, params, _belief_defaults(lr, betas, eps, weight_decay, state_dtype))


class QKANBeliefMini(NamedOptimizer):
    """AdaBelief whose variance is one number per Adam-mini block (see :func:`block_ndim`); pass
    ``model.named_parameters()`` for the QKAN partition (bare parameters: one block per tensor row)."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 1e-2,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-16,
        weight_decay: float = 0.0,
        state_dtype: Optional[torch.dtype] = None,
    ) -> None:
        super().__init__(params, _belief_defaults(lr, betas, eps, weight_decay, state_dtype))

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        loss = self._run_closure(closure)
        for group in self.param_groups:
            for p, g in self._grads(group):
                state = self.state[p]
                if not state:
                    view, ndim = self._block_layout(p)
                    dtype = group["state_dtype"] or p.dtype
                    state.update(step=0, block_ndim=ndim, view_shape=view)
                    state["exp_avg"] = torch.zeros_like(p, dtype=dtype)
                    state["exp_avg_var_block"] = torch.zeros(view[:ndim], dtype=dtype, device=p.device)
                state["step"] += 1
                m, s = state["exp_avg"], state["exp_avg_var_block"]
                sq = _belief_update(p, g, m, s, group)
                s.mul_(group["betas"][1]).add_(
                    block_mean(sq, state["view_shape"], state["block_ndim"]), alpha=1.0 - group["betas"][1]
                )
                _apply(p, m, expand_blocks(s, state["view_shape"], p.shape), state["step"], group)
        return loss
