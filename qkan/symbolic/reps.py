"""Spectrum tools: every edge's energy by order, the smallest reps that keeps a share of it, and a cheaper model
with those reps fitted to compute the same function (docs/math.md, "Fourier form").

The order of a term is the L1 norm of its frequency vector over the data variables, in units of the data
multiples: for the built-ins, the number of re-uploads the term needs, so a circuit with r re-uploads has terms
of order <= r only. Energy is Parseval's: mean of z^2 over a period = sum |c|^2, here summed per order.
"""

from __future__ import annotations

import copy
from typing import Any, NamedTuple, Optional

import torch

from qkan.circuits import BUILTINS

from .fourier import layer_spectrum

ORDER_DECIMALS = 9
FIT_POINTS = 256  # grid points per input over its observed range when a lowered layer is fitted
EXACT_LOSS = 1e-26  # a fitting loss this small is rounding: the start is kept, the other starts skipped
GRID_POINTS = 16384  # nodes of the regular grid over the data's bounding box on which the deviation is bounded


def check_keep(keep: object) -> float:
    """``keep`` as a float in (0, 1], or ValueError naming it."""
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ValueError(f"keep must be a share of energy in (0, 1], got {keep!r}")
    return float(keep)


def _layers(model: Any) -> list[Any]:
    from qkan.layer import QKANLayer
    from qkan.model import QKAN

    if isinstance(model, QKANLayer):
        return [model]
    if isinstance(model, QKAN):
        return list(model._qkan_layers)
    raise TypeError(f"expected a qkan.QKAN or qkan.QKANLayer, got {type(model).__name__}")


def energy_by_order(layer: Any) -> tuple[torch.Tensor, torch.Tensor]:
    """(orders (K,), energy (O, I, K)): every edge's sum of |c|^2 over the terms of each order, <Z>'s spectrum."""
    spectrum = layer_spectrum(layer)
    order = spectrum.modes.abs().sum(dim=1).round(decimals=ORDER_DECIMALS)
    orders, index = torch.unique(order, return_inverse=True)
    power = spectrum.coefficients.abs().square()
    energy = torch.zeros(*power.shape[:2], len(orders), dtype=torch.float64).index_add_(-1, index, power)
    return orders, energy


def _live(layer: Any) -> torch.Tensor:
    """(O, I) edges that reach the output (mask * post-activation weight non-zero)."""
    p = layer.params()
    return (p.mask * p.postact_weights).detach().cpu() != 0


def kept_share(orders: torch.Tensor, energy: torch.Tensor, reps: int) -> torch.Tensor:
    """(O, I): the share of every edge's non-constant energy in orders 1..reps (1 where it has none)."""
    ac = energy[..., orders > 0].sum(-1)
    kept = energy[..., (orders > 0) & (orders <= reps + 1e-9)].sum(-1)
    return torch.where(ac > 0, kept / ac.clamp_min(1e-300), torch.ones_like(ac))


def layer_reps(layer: Any, keep: float) -> int:
    """The smallest reps >= 1 whose orders keep ``keep`` of every live edge's non-constant energy."""
    orders, energy = energy_by_order(layer)
    live = _live(layer)
    for reps in range(1, layer.reps + 1):
        if bool((kept_share(orders, energy, reps)[live] >= keep - 1e-12).all()):
            return reps
    return layer.reps


def suggest_reps(model: Any, keep: float = 0.999) -> list[int]:
    """Per layer, the smallest reps that keeps ``keep`` of every live edge's non-constant spectral energy."""
    keep = check_keep(keep)
    return [layer_reps(layer, keep) for layer in _layers(model)]


def report(model: Any) -> str:
    """A Markdown table: per layer and edge, the share of non-constant energy of each order."""
    lines = []
    for index, layer in enumerate(_layers(model)):
        orders, energy = energy_by_order(layer)
        ac = orders > 0
        total = energy[..., ac].sum(-1, keepdim=True).clamp_min(1e-300)
        shares = energy[..., ac] / total
        head = " | ".join(f"order {float(o):g}" for o in orders[ac])
        lines += [f"| layer | edge (o, i) | {head} |", "|---|---|" + "---|" * int(ac.sum())]
        for o in range(layer.out_dim):
            for i in range(layer.in_dim):
                cells = " | ".join(f"{float(s):.3g}" for s in shares[o, i])
                lines.append(f"| {index} | ({o}, {i}) | {cells} |")
    return "\n".join(lines)


class LoweredReps(NamedTuple):
    """What :func:`lower_reps` returns: the cheaper model, its reps per layer, and a bound on its deviation from
    the original over the bounding box of the given inputs (see :func:`_deviation_bound`)."""

    model: Any
    reps: list[int]
    max_deviation: float


def _initial_thetas(layer: Any, reps: int) -> list[torch.Tensor]:
    """Starting points for a layer with fewer re-uploads: the first reps + 1 rows (exact where the dropped
    re-uploads only add phases, as after ``refine``), and the first reps rows with the old final row."""
    theta = layer.theta.detach()
    rows = theta.shape[-2]
    if rows == layer.reps:  # no final row (real)
        return [theta[..., :reps, :].clone()]
    return [theta[..., : reps + 1, :].clone(), torch.cat((theta[..., :reps, :], theta[..., -1:, :]), dim=-2)]


def _fit(layer: Any, new: Any, grid: torch.Tensor, steps: int) -> float:
    """Fit ``new``'s circuit parameters to ``layer``'s edge functions on ``grid``; returns the final loss
    (a start that is already exact to rounding is kept as it is)."""
    with torch.no_grad():
        target = layer.circuit_values(grid)
        weight = (layer.mask * layer.postact_weights).detach().abs()
        start = float(((new.circuit_values(grid) - target).square().mean(0) * weight).sum())
    if start < EXACT_LOSS:
        return start
    params = [p for p in (new.theta, new.preacts_weight, new.preacts_bias) if p.requires_grad]
    optimizer = torch.optim.LBFGS(
        params, max_iter=steps, tolerance_grad=1e-15, tolerance_change=1e-18, line_search_fn="strong_wolfe"
    )

    def loss_fn() -> torch.Tensor:
        optimizer.zero_grad()
        loss = ((new.circuit_values(grid) - target).square().mean(0) * weight).sum()
        loss.backward()
        return loss

    optimizer.step(loss_fn)
    with torch.no_grad():
        return float(((new.circuit_values(grid) - target).square().mean(0) * weight).sum())


def _lowered_layer(layer: Any, reps: int, inputs: torch.Tensor, steps: int) -> Any:
    """A layer with ``reps`` re-uploads fitted to ``layer`` over the observed range of its ``inputs``."""
    from qkan.layer import QKANLayer

    lo, hi = inputs.amin(0), inputs.amax(0)
    grid = lo + (hi - lo) * torch.linspace(0, 1, FIT_POINTS, dtype=inputs.dtype, device=inputs.device)[:, None]
    best, best_loss = None, float("inf")
    for start in _initial_thetas(layer, reps):
        new = QKANLayer.from_settings(layer.in_dim, layer.out_dim, layer.settings().replace(reps=reps))
        with torch.no_grad():
            new.theta.copy_(start)
            for name in ("preacts_weight", "preacts_bias"):
                getattr(new, name).copy_(getattr(layer, name)[..., :reps])
            for name in ("base_weight", "postact_weights", "postact_bias", "mask"):
                getattr(new, name).copy_(getattr(layer, name))
        loss = _fit(layer, new, grid, steps)
        if loss < best_loss:
            best, best_loss = new, loss
        if loss < EXACT_LOSS:
            break
    return best


def _deviation_bound(model: Any, lowered: Any, x: torch.Tensor) -> float:
    """A bound on max |lowered - model| over the bounding box of ``x``: the largest deviation on a regular grid
    (GRID_POINTS nodes in all) plus, per node, sum_j |d deviation / d x_j| * h_j / 2, the most it can grow from
    the nearest node (the gradient's sup estimated by its grid values)."""
    lo, hi = x.amin(0), x.amax(0)
    per_axis = max(2, int(GRID_POINTS ** (1 / x.shape[1])))
    axes = [torch.linspace(float(a), float(b), per_axis, dtype=x.dtype, device=x.device) for a, b in zip(lo, hi)]
    grid = torch.cartesian_prod(*axes).reshape(-1, x.shape[1]).requires_grad_(True)
    deviation = lowered(grid) - model(grid)
    growth = torch.zeros(grid.shape[0], dtype=x.dtype, device=x.device)
    for k in range(deviation.shape[1]):
        (slope,) = torch.autograd.grad(deviation[:, k].sum(), grid, retain_graph=True)
        growth = torch.maximum(growth, (slope.abs() * (hi - lo) / (per_axis - 1) / 2).sum(1))
    with torch.no_grad():
        on_x = (lowered(x) - model(x)).abs().max()
    return max(float(on_x), float((deviation.detach().abs().amax(1) + growth).max()))


def lower_reps(model: Any, keep: float = 0.999, x: Optional[torch.Tensor] = None, steps: int = 200) -> LoweredReps:
    """A QKAN with the reps :func:`suggest_reps` gives each layer, its circuits fitted (L-BFGS, float64) to the
    original's edges over the range of the inputs ``x`` (B, n_in) each layer sees, and a bound on the deviation
    from the original over the bounding box of ``x``. Built-in ansatzes only. The original is left
    as it was."""
    from qkan.model import QKAN

    keep = check_keep(keep)
    if not isinstance(model, QKAN):
        raise TypeError(f"lower_reps takes a qkan.QKAN, got {type(model).__name__}")
    layers = list(model._qkan_layers)
    if not all(isinstance(layer.ansatz, str) for layer in layers):
        raise ValueError(f"lower_reps needs built-in ansatzes ({sorted(BUILTINS)}); a user Circuit has fixed reps")
    if not isinstance(x, torch.Tensor) or x.dim() != 2 or x.shape[1] != model.width[0] or x.shape[0] < 2:
        shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
        raise ValueError(f"x must be a tensor of shape (B, {model.width[0]}) with B >= 2 inputs, got {shape}")
    reference = copy.deepcopy(model).to(torch.float64)
    inputs = x.detach().to(reference.device, torch.float64)
    new_layers: list[Any] = []
    reps = suggest_reps(reference, keep)
    h = inputs
    for layer, r in zip(reference._qkan_layers, reps):
        new_layers.append(copy.deepcopy(layer) if r == layer.reps else _lowered_layer(layer, r, h, steps))
        with torch.no_grad():
            h = layer(h)
    lowered = QKAN.from_layers(new_layers, model.save_act, model.norm_out)
    deviation = _deviation_bound(reference, lowered, inputs)
    return LoweredReps(lowered.to(layers[0].theta.dtype), reps, deviation)
