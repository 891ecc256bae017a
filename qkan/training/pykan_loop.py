"""``QKAN.train_``: the published (pykan-style) training loop, with its keywords and defaults: sparsity
regularisation on saved activations, theta gradient clipping and L1, periodic auto-pruning, and a history
with ``train_loss``, ``test_loss`` and ``reg`` per step. Checks and the all-or-nothing failure handling
are ``qkan.fit``'s."""

from __future__ import annotations

import math
import warnings
from numbers import Real
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from ..checks import check_positive_int
from ..fit import _check_dataset, _finite_loss, _Snapshot
from ..optim import LBFGSFinisher

REG_METRICS = ("edge_forward_dr_n", "edge_forward_dr_u", "edge_forward_sum")
"""Published regularisation metrics supported here: per-edge output spread over the batch, divided by the
input spread + 0.1 (dr_n), not divided (dr_u), or divided and not differentiated (sum)."""


def _check_number(name: str, value: object, minimum: float = 0.0) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value) or value < minimum:
        raise ValueError(f"{name} must be a finite number >= {minimum}, got {value!r}")
    return float(value)


def _forward_with_scales(model: Any, x: torch.Tensor, metric: str) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The model's output and, per layer, the (O, I) edge scales ``metric`` regularises; saves activations
    like a forward with ``save_act``."""
    h = x.reshape(-1, x.shape[-1])
    model.acts, model.edge_acts, scales = [h.detach()], [], []
    for layer in model._qkan_layers:
        edges = layer.edge_values(h)
        spread = edges.std(dim=0) if edges.shape[0] > 1 else edges.abs()[0]
        if metric != "edge_forward_dr_u":
            spread = spread / ((h.std(dim=0) if h.shape[0] > 1 else torch.zeros_like(h[0])) + 0.1)
        scales.append(spread.detach() if metric == "edge_forward_sum" else spread)
        h = edges.sum(dim=2)
        model.edge_acts.append(edges.detach())
        model.acts.append(h.detach())
    if model.norm_out:
        h = F.normalize(h, p=model.norm_out, dim=1)
    return (h if x.dim() == 2 else h.reshape(*x.shape[:-1], h.shape[-1])), scales


def regularisation(
    model: Any, scales: list[torch.Tensor], l1: float, entropy: float, coef: float, coefdiff: float
) -> torch.Tensor:
    """pykan's sparsity term: l1 and row/column entropy of every layer's edge scales, plus the l1 and
    smoothness of the post-activation weights."""
    total = torch.zeros((), device=model.device, dtype=model._qkan_layers[0].theta.dtype)
    for vec in scales:
        p_row = vec / (vec.sum(dim=1, keepdim=True) + 1)
        p_col = vec / (vec.sum(dim=0, keepdim=True) + 1)
        ent_row = -(p_row * torch.log2(p_row + 1e-4)).sum(dim=1).mean()
        ent_col = -(p_col * torch.log2(p_col + 1e-4)).sum(dim=0).mean()
        total = total + l1 * vec.sum() + entropy * (ent_row + ent_col)
    if coef or coefdiff:
        for layer in model._qkan_layers:
            pw = layer.postact_weights
            total = total + coef * pw.abs().mean(dim=1).sum() + coefdiff * torch.diff(pw).abs().mean(dim=1).sum()
    return total


def auto_prune(model: Any, threshold: float) -> None:
    """Mask every edge whose theta has total magnitude below ``threshold`` (grouped layers have no per-edge
    theta and are left alone)."""
    with torch.no_grad():
        for layer in model._qkan_layers:
            if layer.group == -1:
                weak = layer.theta.abs().flatten(2).sum(dim=2) < threshold
                layer.mask.masked_fill_(weak, 0.0)


def train_(
    model: Any,
    dataset: dict[str, torch.Tensor],
    optimizer: Any = None,
    closure: Optional[Callable[[], torch.Tensor]] = None,
    scheduler: Any = None,
    steps: int = 10,
    log: int = 1,
    loss_fn: Optional[Callable] = None,
    batch: int = -1,
    lamb: float = 0.0,
    lamb_l1: float = 1.0,
    lamb_entropy: float = 2.0,
    lamb_coef: float = 0.0,
    lamb_coefdiff: float = 0.0,
    reg_metric: str = "edge_forward_dr_n",
    verbose: bool = True,
    clip_theta_grad_norm: Optional[float] = None,
    lamb_theta_l1: float = 0.0,
    prune_every: int = 0,
    prune_threshold: float = 1e-3,
) -> dict[str, list[float]]:
    """Train for ``steps`` steps (default Adam, lr 5e-4, MSE) on ``batch`` random rows (-1: all) each step;
    returns ``train_loss``, ``test_loss`` and ``reg`` per step. ``lamb`` weights the regularisation (needs
    ``save_act=True``, else it is turned off with a RuntimeWarning). A failed run leaves model and optimizer
    as they were and raises."""
    steps, log = check_positive_int("steps", steps), check_positive_int("log", log)
    if isinstance(batch, bool) or not (batch == -1 or (isinstance(batch, int) and batch >= 1)):
        raise ValueError(f"batch must be a positive integer or -1 (the whole set), got {batch!r}")
    if reg_metric not in REG_METRICS:
        raise ValueError(f"reg_metric must be one of {REG_METRICS}, got {reg_metric!r}")
    lamb, lamb_l1, lamb_entropy = (
        _check_number(n, v) for n, v in (("lamb", lamb), ("lamb_l1", lamb_l1), ("lamb_entropy", lamb_entropy))
    )
    lamb_coef, lamb_coefdiff = _check_number("lamb_coef", lamb_coef), _check_number("lamb_coefdiff", lamb_coefdiff)
    lamb_theta_l1, prune_threshold = (
        _check_number("lamb_theta_l1", lamb_theta_l1),
        _check_number("prune_threshold", prune_threshold),
    )
    if clip_theta_grad_norm is not None:
        clip_theta_grad_norm = _check_number("clip_theta_grad_norm", clip_theta_grad_norm)
    if isinstance(prune_every, bool) or not isinstance(prune_every, int) or prune_every < 0:
        raise ValueError(f"prune_every must be 0 (off) or a positive integer, got {prune_every!r}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be None (MSE) or a callable (output, label) -> loss, got {loss_fn!r}")
    _check_dataset(model, dataset, default_loss=False)
    if lamb > 0 and not model.save_act:
        warnings.warn("regularisation needs save_act=True; training with lamb=0", RuntimeWarning, stacklevel=3)
        lamb = 0.0
    loss_fn = loss_fn or torch.nn.MSELoss()
    opt = optimizer if optimizer is not None else torch.optim.Adam(model.parameters(), lr=5e-4)
    snapshot = _Snapshot(model, opt.early if isinstance(opt, LBFGSFinisher) else opt)
    try:
        return _loop(model, dataset, opt, closure, scheduler, steps, log, loss_fn, batch, verbose, locals())
    except Exception:
        snapshot.restore()
        raise


def _loop(
    model: Any,
    dataset: dict[str, torch.Tensor],
    opt: Any,
    closure: Any,
    scheduler: Any,
    steps: int,
    log: int,
    loss_fn: Callable,
    batch: int,
    verbose: bool,
    options: dict[str, Any],
) -> dict[str, list[float]]:
    thetas = [layer.theta for layer in model._qkan_layers]
    n_train, n_test = dataset["train_input"].shape[0], dataset["test_input"].shape[0]
    history: dict[str, list[float]] = {"train_loss": [], "test_loss": [], "reg": []}
    wants_closure = isinstance(opt, (torch.optim.LBFGS, LBFGSFinisher))
    with tqdm(range(steps), disable=not verbose, desc="train_", dynamic_ncols=True) as bar:
        for step in bar:
            model.train()
            rows = torch.randperm(n_train)[: n_train if batch == -1 else min(batch, n_train)]
            test_rows = torch.randperm(n_test)[: n_test if batch == -1 else min(batch, n_test)]
            terms: dict[str, torch.Tensor] = {}

            def objective(rows: torch.Tensor = rows, terms: dict[str, torch.Tensor] = terms) -> torch.Tensor:
                opt.zero_grad()
                x, y = dataset["train_input"][rows], dataset["train_label"][rows]
                if model.save_act:
                    pred, scales = _forward_with_scales(model, x, options["reg_metric"])
                    reg = regularisation(
                        model,
                        scales,
                        options["lamb_l1"],
                        options["lamb_entropy"],
                        options["lamb_coef"],
                        options["lamb_coefdiff"],
                    )
                else:
                    pred, reg = model(x), torch.zeros(())
                terms["train"], terms["reg"] = loss_fn(pred, y), reg
                total = terms["train"] + options["lamb"] * reg
                if options["lamb_theta_l1"]:
                    total = total + options["lamb_theta_l1"] * sum(t.abs().sum() for t in thetas)
                total.backward()
                if options["clip_theta_grad_norm"] is not None:
                    torch.nn.utils.clip_grad_norm_(thetas, max_norm=options["clip_theta_grad_norm"])
                return total

            if wants_closure:
                opt.step(closure or objective)
            else:
                objective()
                opt.step(closure) if closure is not None else opt.step()
            if options["prune_every"] and (step + 1) % options["prune_every"] == 0:
                auto_prune(model, options["prune_threshold"])
            model.eval()
            with torch.no_grad():
                test = loss_fn(model(dataset["test_input"][test_rows]), dataset["test_label"][test_rows])
            if scheduler is not None:
                scheduler.step(test)
            train_loss = _finite_loss("train", terms["train"], step, history)
            history["train_loss"].append(train_loss)
            history["test_loss"].append(_finite_loss("test", test, step, history))
            history["reg"].append(float(terms["reg"].detach()))
            if step % log == 0:
                bar.set_postfix(train=f"{train_loss:.4g}", test=f"{history['test_loss'][-1]:.4g}")
    return history
