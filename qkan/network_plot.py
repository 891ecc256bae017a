"""A KAN drawn as a network, in pykan's style: one figure of the whole model, a row of nodes per layer, every edge
drawn as its curve over the input range observed on ``x``, faded by the edge's importance, input and output
variables labelled. Works on QKAN models and layers and on the per-edge baselines (qkan.baselines)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Optional, Sequence

import torch
from torch import nn

if TYPE_CHECKING:
    from matplotlib.figure import Figure

IMPORTANCE = ("activation", "spectrum", "none")
DEFAULT_SAMPLES = 512  # inputs drawn uniformly from [-1, 1]^n_in when no x is given


def network_layers(model: Any) -> list[Any]:
    """The layers with per-edge functions (an ``edge_values`` method) that ``model`` stacks: a QKAN's layers,
    an nn.Sequential or ModuleList of such layers, or one layer."""
    if hasattr(model, "edge_values") and hasattr(model, "in_dim"):
        layers = [model]
    elif isinstance(model, (nn.Sequential, nn.ModuleList)) or isinstance(getattr(model, "layers", None), nn.ModuleList):
        layers = list(model if isinstance(model, (nn.Sequential, nn.ModuleList)) else model.layers)
    else:
        raise TypeError(f"plot_network takes a QKAN, a KAN layer or a Sequential of them, got {type(model).__name__}")
    for layer in layers:
        like = next(layer.parameters())
        try:
            with torch.no_grad():
                layer.edge_values(torch.zeros(1, layer.in_dim, dtype=like.dtype, device=like.device))
        except (AttributeError, NotImplementedError):
            raise TypeError(f"{type(layer).__name__} has no per-edge functions to draw") from None
    return layers


def _edge_importance(layer: Any, h: torch.Tensor, importance: str) -> torch.Tensor:
    """(O, I) importance of every edge: the std of its contribution over ``h`` ("activation"), or its post-
    activation weight times the RMS of its readout's non-constant spectrum ("spectrum", QKAN layers only)."""
    if importance == "none":
        return torch.ones(layer.out_dim, layer.in_dim)
    if importance == "activation":
        with torch.no_grad():
            return layer.edge_values(h).std(dim=0).detach().cpu().double()
    if not hasattr(layer, "edge_spectrum"):
        raise ValueError(f"importance='spectrum' needs QKAN layers; {type(layer).__name__} has no spectrum")
    from .spectrum import energy_by_order

    orders, energy = energy_by_order(layer)
    p = layer.params()
    weight = (p.mask * p.postact_weights).detach().cpu().double().abs()
    return weight * energy[..., orders > 0].sum(-1).sqrt()


def _curves(layer: Any, lo: torch.Tensor, hi: torch.Tensor, n_points: int, like: torch.Tensor):
    """(sweeps (N, I), values (N, O, I)): every input swept over [lo, hi] at once (an edge reads only its own
    input, so one call draws them all)."""
    steps = torch.linspace(0, 1, n_points, dtype=like.dtype, device=like.device)[:, None]
    sweep = lo.to(like) + (hi - lo).to(like) * steps
    with torch.no_grad():
        values = layer.edge_values(sweep)
    return sweep.detach().cpu(), values.detach().cpu()


def _labels(names: Optional[Sequence[str]], count: int, stem: str, what: str) -> list[str]:
    if names is None:
        return [f"${stem}_{{{k + 1}}}$" for k in range(count)]
    names = list(names)
    if len(names) != count:
        raise ValueError(f"{what} must name all {count} {'inputs' if stem == 'x' else 'outputs'}, got {len(names)}")
    return [str(n) for n in names]


def _check(importance: str, beta: float, n_points: int) -> None:
    if importance not in IMPORTANCE:
        raise ValueError(f"importance must be one of {IMPORTANCE}, got {importance!r}")
    if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not (beta > 0 and math.isfinite(beta)):
        raise ValueError(f"beta must be a positive number, got {beta!r}")
    if isinstance(n_points, bool) or not isinstance(n_points, int) or n_points < 2:
        raise ValueError(f"n_points must be an integer >= 2, got {n_points!r}")


def plot_network(
    model: Any,
    x: Optional[torch.Tensor] = None,
    path: Optional[str] = None,
    importance: str = "activation",
    beta: float = 3.0,
    in_vars: Optional[Sequence[str]] = None,
    out_vars: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
    n_points: int = 64,
) -> Figure:
    """The whole network in one figure: nodes per layer (inputs at the bottom), every edge's curve over the
    range its input takes on ``x`` (default: DEFAULT_SAMPLES uniform points in [-1, 1]^n_in), opacity
    tanh(beta * importance / layer maximum) with importance from activations or the spectrum (``importance``),
    variables labelled by ``in_vars``/``out_vars`` (default x_i, y_j). Saved to exactly ``path`` when given."""
    import matplotlib.pyplot as plt  # here, so that importing qkan does not import pyplot

    _check(importance, beta, n_points)
    layers = network_layers(model)
    like = next(layers[0].parameters())
    if x is None:
        gen = torch.Generator().manual_seed(0)
        x = torch.rand(DEFAULT_SAMPLES, layers[0].in_dim, generator=gen, dtype=like.dtype) * 2 - 1
    x = x.to(like.device, like.dtype).reshape(-1, layers[0].in_dim)
    widths = [layers[0].in_dim] + [layer.out_dim for layer in layers]
    inputs = _labels(in_vars, widths[0], "x", "in_vars")
    outputs = _labels(out_vars, widths[-1], "y", "out_vars")
    slots = max(a * b for a, b in zip(widths, widths[1:]))
    fig = plt.figure(figsize=(min(16.0, max(4.0, 0.7 * slots + 1)), 2.2 * len(layers) + 0.8))
    ax = fig.add_axes((0.02, 0.06, 0.96, 0.86 if title else 0.9))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.4, len(layers) + 0.4)
    ax.axis("off")

    def node_x(k: int, n: int) -> float:
        return (k + 0.5) / n

    h = x
    for index, layer in enumerate(layers):
        n_in, n_out = layer.in_dim, layer.out_dim
        lo, hi = h.amin(0), h.amax(0)
        sweep, values = _curves(layer, lo, hi, n_points, like)
        score = _edge_importance(layer, h, importance)
        alpha = torch.tanh(beta * score / score.max().clamp_min(1e-300)) / math.tanh(beta)
        box = min(0.8 / (n_in * n_out), 0.14)
        for i in range(n_in):
            for o in range(n_out):
                a = float(alpha[o, i].clamp(0.03, 1.0))
                cx = (i * n_out + o + 0.5) / (n_in * n_out)
                bottom, top = index + 0.32, index + 0.68
                ax.plot([node_x(i, n_in), cx], [index, bottom], color="k", lw=0.8, alpha=a)
                ax.plot([cx, node_x(o, n_out)], [top, index + 1], color="k", lw=0.8, alpha=a)
                inset = ax.inset_axes((cx - box / 2, bottom, box, top - bottom), transform=ax.transData)
                inset.plot(sweep[:, i], values[:, o, i], color="tab:blue", lw=1.2, alpha=a)
                inset.set_xticks([])
                inset.set_yticks([])
                for spine in inset.spines.values():
                    spine.set_alpha(a)
                inset.patch.set_alpha(0.0)
        with torch.no_grad():
            h = layer(h)
    for row, n in enumerate(widths):
        ax.scatter([node_x(k, n) for k in range(n)], [row] * n, s=60, color="k", zorder=3)
    for k, name in enumerate(inputs):
        ax.text(node_x(k, widths[0]), -0.12, name, ha="center", va="top", fontsize=11)
    for k, name in enumerate(outputs):
        ax.text(node_x(k, widths[-1]), len(layers) + 0.12, name, ha="center", va="bottom", fontsize=11)
    if title:
        fig.suptitle(title, fontsize=11)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
