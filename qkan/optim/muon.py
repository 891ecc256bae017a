"""Muon (Keller Jordan): orthogonalised momentum for the 2-D weight matrices of a model, AdamW for the rest
(QKAN layer tensors, embeddings, heads, vectors); matrices shared round-robin across data-parallel ranks."""

from __future__ import annotations

import math
from typing import Any, Callable, Iterable, Optional

import torch
import torch.distributed as dist

from ._common import NamedOptimizer, check_hyper

ADAMW_NAME_MARKERS = ("theta", "preacts", "base_weight", "postact", "mask", "wte", "wpe", "embed", "lm_head")
"""Parameter names containing one of these always take the AdamW path."""


def orthogonalise(g: torch.Tensor, steps: int) -> torch.Tensor:
    """The nearest semi-orthogonal matrix to ``g``, approximately: quintic Newton-Schulz in bfloat16 on the
    Frobenius-normalised matrix (coefficients 3.4445, -4.7750, 2.0315)."""
    x = g.bfloat16()
    wide = x.shape[0] <= x.shape[1]
    x = x if wide else x.T
    x = x / (x.norm() + 1e-7)
    for _ in range(steps):
        gram = x @ x.T
        x = 3.4445 * x + (-4.7750 * gram + 2.0315 * (gram @ gram)) @ x
    return (x if wide else x.T).to(g.dtype)


class QKANMuon(NamedOptimizer):
    """Muon on matrices, AdamW (``adamw_lr``, ``adamw_betas``, ``adamw_eps``) elsewhere; routing by name
    and rank (:meth:`is_muon_param`, or ``muon_filter(name, shape)``); pass ``model.named_parameters()``."""

    def __init__(
        self,
        params: Iterable[Any],
        lr: float = 0.02,
        adamw_lr: float = 3e-3,
        momentum: float = 0.95,
        nesterov: bool = True,
        ns_steps: int = 5,
        weight_decay: float = 0.0,
        match_adamw_rms: bool = True,
        adamw_betas: tuple[float, float] = (0.9, 0.999),
        adamw_eps: float = 1e-8,
        muon_filter: Optional[Callable[[str, tuple[int, ...]], bool]] = None,
        rank: Optional[int] = None,
        world_size: Optional[int] = None,
        process_group: Any = None,
    ) -> None:
        check_hyper(adamw_lr, adamw_betas, adamw_eps, weight_decay, eps_may_be_zero=False)
        check_hyper(lr, (momentum, 0.0), adamw_eps, weight_decay, eps_may_be_zero=False)
        if (rank is None) != (world_size is None):
            raise ValueError(f"give rank and world_size together, got rank={rank!r}, world_size={world_size!r}")
        if rank is None:
            distributed = dist.is_available() and dist.is_initialized()
            rank = dist.get_rank(process_group) if distributed else 0
            world_size = dist.get_world_size(process_group) if distributed else 1
        self.rank, self.world_size, self._pg = rank, int(world_size or 1), process_group
        self._muon_filter = muon_filter
        defaults = dict(
            lr=lr,
            adamw_lr=adamw_lr,
            momentum=momentum,
            nesterov=nesterov,
            ns_steps=ns_steps,
            weight_decay=weight_decay,
            match_adamw_rms=match_adamw_rms,
            adamw_betas=adamw_betas,
            adamw_eps=adamw_eps,
        )
        super().__init__(params, defaults)

    @staticmethod
    def is_muon_param(name: str, shape: tuple[int, ...]) -> bool:
        """The default routing: 2-D tensors whose name carries no QKAN/embedding marker."""
        return len(shape) == 2 and not any(marker in name for marker in ADAMW_NAME_MARKERS)

    def _use_muon(self, p: torch.Tensor) -> bool:
        return (self._muon_filter or self.is_muon_param)(self._get_name(p), tuple(p.shape))

    def describe_layout(self) -> list[tuple[str, tuple[int, ...], str]]:
        """(name, shape, "muon" or "adamw") for every parameter."""
        return [
            (self._get_name(p), tuple(p.shape), "muon" if self._use_muon(p) else "adamw")
            for group in self.param_groups
            for p in group["params"]
        ]

    def _muon_update(self, p: torch.Tensor, g: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if "momentum_buffer" not in state:
            state["momentum_buffer"] = torch.zeros_like(p)
            rows, cols = p.shape
            state["scale"] = (
                0.2 * math.sqrt(max(rows, cols)) if group["match_adamw_rms"] else max(1.0, rows / cols) ** 0.5
            )
        buf = state["momentum_buffer"].mul_(group["momentum"]).add_(g)
        direction = g.add(buf, alpha=group["momentum"]) if group["nesterov"] else buf
        if group["weight_decay"]:
            p.mul_(1.0 - group["lr"] * group["weight_decay"])
        p.add_(orthogonalise(direction, group["ns_steps"]), alpha=-group["lr"] * state["scale"])

    def _adamw_update(self, p: torch.Tensor, g: torch.Tensor, group: dict[str, Any]) -> None:
        state = self.state[p]
        if "exp_avg" not in state:
            state.update(step=0, exp_avg=torch.zeros_like(p), exp_avg_sq=torch.zeros_like(p))
        state["step"] += 1
        (beta1, beta2), lr, t = group["adamw_betas"], group["adamw_lr"], state["step"]
        if group["weight_decay"]:
            p.mul_(1.0 - lr * group["weight_decay"])
        state["exp_avg"].lerp_(g, 1.0 - beta1)
        state["exp_avg_sq"].mul_(beta2).addcmul_(g, g, value=1.0 - beta2)
        denom = (state["exp_avg_sq"].sqrt() / math.sqrt(1.0 - beta2**t)).add_(group["adamw_eps"])
        p.addcdiv_(state["exp_avg"], denom, value=-lr / (1.0 - beta1**t))

    @torch.no_grad()
    def step(self, closure: Optional[Callable[[], Any]] = None) -> Any:  # type: ignore[override]
        loss = self._run_closure(closure)
        for group in self.param_groups:
            matrices = [p for p in group["params"] if self._use_muon(p)]
            for p, g in self._grads(group):
                if not self._use_muon(p):
                    self._adamw_update(p, g, group)
            for index, p in enumerate(matrices):
                if index % self.world_size == self.rank and p.grad is not None:
                    self._muon_update(p, p.grad, group)
            if self.world_size > 1:
                for index, p in enumerate(matrices):
                    owner = index % self.world_size
                    src = owner if self._pg is None else dist.get_global_rank(self._pg, owner)
                    dist.broadcast(p.data, src=src, group=self._pg)
        return loss
