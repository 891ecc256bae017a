"""A first-order optimizer for the first part of a run, then L-BFGS to polish the minimum (the pykan
schedule); both driven by the same closure."""

from __future__ import annotations

from typing import Any, Callable, Iterable, Optional

import torch
from torch.optim import Optimizer

LBFGS_DEFAULTS: dict[str, Any] = dict(
    lr=1.0, max_iter=20, history_size=100, tolerance_grad=1e-7, line_search_fn="strong_wolfe"
)
"""torch.optim.LBFGS arguments of the polishing phase unless ``lbfgs_kwargs`` overrides them."""


class LBFGSFinisher:
    """``early`` for ``int(pct_early * total_steps)`` steps, then ``torch.optim.LBFGS`` over ``params``;
    ``step(closure)`` needs a closure that zeroes gradients, runs forward and backward and returns the loss."""

    def __init__(
        self,
        early: Optimizer,
        params: Iterable[torch.nn.Parameter],
        total_steps: int,
        pct_early: float = 0.7,
        lbfgs_kwargs: Optional[dict[str, Any]] = None,
    ) -> None:
        if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
            raise ValueError(f"total_steps must be a positive integer, got {total_steps!r}")
        if not (isinstance(pct_early, (int, float)) and 0.0 < pct_early <= 1.0):
            raise ValueError(f"pct_early must be in (0, 1], got {pct_early!r}")
        if not isinstance(early, Optimizer):
            raise TypeError(f"early must be a torch.optim.Optimizer, got {type(early).__name__}")
        self.early, self.total_steps, self.pct_early = early, total_steps, pct_early
        self.switch_at = int(pct_early * total_steps)
        self._params = list(params)
        self._lbfgs_kwargs = {**LBFGS_DEFAULTS, **(lbfgs_kwargs or {})}
        self._lbfgs: Optional[torch.optim.LBFGS] = None
        self._step_count = 0

    @property
    def using_lbfgs(self) -> bool:
        """Whether the next step runs L-BFGS."""
        return self._step_count >= self.switch_at

    @property
    def current(self) -> Optimizer:
        """The optimizer that takes the next step (L-BFGS is built at the switch)."""
        if not self.using_lbfgs:
            return self.early
        if self._lbfgs is None:
            self._lbfgs = torch.optim.LBFGS(self._params, **self._lbfgs_kwargs)
        return self._lbfgs

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        """The current optimizer's parameter groups (so schedulers and loops can read them)."""
        return self.current.param_groups

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.current.zero_grad(set_to_none=set_to_none)

    def step(self, closure: Callable[[], torch.Tensor]) -> torch.Tensor:
        """One step of the current optimizer; returns the closure's loss."""
        if not callable(closure):
            raise TypeError("LBFGSFinisher.step needs a closure that re-evaluates the loss")
        loss = self.current.step(closure)  # type: ignore[arg-type]
        self._step_count += 1
        return loss  # type: ignore[return-value]

    def state_dict(self) -> dict[str, Any]:
        lbfgs = None if self._lbfgs is None else self._lbfgs.state_dict()
        return dict(
            step_count=self._step_count,
            total_steps=self.total_steps,
            pct_early=self.pct_early,
            early=self.early.state_dict(),
            lbfgs=lbfgs,
        )

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.early.load_state_dict(state["early"])
        if state.get("lbfgs") is not None:
            self._lbfgs = torch.optim.LBFGS(self._params, **self._lbfgs_kwargs)
            self._lbfgs.load_state_dict(state["lbfgs"])
        self._step_count, self.total_steps, self.pct_early = (
            state["step_count"],
            state["total_steps"],
            state["pct_early"],
        )
        self.switch_at = int(self.pct_early * self.total_steps)


def adam_then_lbfgs(
    model: torch.nn.Module,
    total_steps: int,
    lr_adam: float = 1e-2,
    pct_adam: float = 0.7,
    use_adam_mini: bool = True,
    lbfgs_kwargs: Optional[dict[str, Any]] = None,
) -> LBFGSFinisher:
    """QKANAdamMini (or torch Adam with ``use_adam_mini=False``) for ``pct_adam`` of ``total_steps``,
    then L-BFGS."""
    from .mini import QKANAdamMini

    if not isinstance(model, torch.nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    early: Optimizer = (
        QKANAdamMini(model.named_parameters(), lr=lr_adam)
        if use_adam_mini
        else torch.optim.Adam(model.parameters(), lr=lr_adam)
    )
    return LBFGSFinisher(early, model.parameters(), total_steps, pct_adam, lbfgs_kwargs)
