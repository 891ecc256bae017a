"""The published (pykan-style) ``QKAN.plot``: the network as a diagram, nodes in rows, every edge drawn
through a small plot of its activation, shaded by how much it contributes (tanh(beta * score))."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch
from matplotlib.figure import Figure

METRICS = ("forward_n", "forward_u")
"""Edge scores for shading: output spread / (input spread + 0.1), or the output spread alone."""


def _layer_inputs(model: Any, x0: Optional[torch.Tensor], sampling: int, from_acts: bool) -> list[torch.Tensor]:
    """Per layer, the points its edges are drawn at: the saved activations, or ``x0`` then ``sampling``
    points spanning what the previous layer produced."""
    if from_acts:
        return [a.detach() for a in model.acts[:-1]]
    inputs, x = [], x0
    for layer in model._qkan_layers:
        assert x is not None
        inputs.append(x.detach())
        with torch.no_grad():
            out = layer(x)
        steps = torch.linspace(0.0, 1.0, sampling, device=out.device, dtype=out.dtype)[:, None]
        x = out.amin(0) + (out.amax(0) - out.amin(0)) * steps
    return inputs


def _alphas(
    edge_values: list[torch.Tensor], inputs: list[torch.Tensor], metric: Optional[str], beta: float
) -> list[np.ndarray]:
    """(O, I) opacity per layer: tanh(beta * score), or 1 everywhere without a metric."""
    if metric is not None and metric not in METRICS:
        warnings.warn(
            f"metric = {metric!r} is not one of {METRICS}; drawing every edge opaque", RuntimeWarning, stacklevel=3
        )
        metric = None
    alphas = []
    for edges, x in zip(edge_values, inputs):
        if metric is None or edges.shape[0] < 2:
            alphas.append(np.ones(tuple(edges.shape[1:])))
            continue
        score = edges.std(0)
        if metric == "forward_n":
            score = score / (x.std(0) + 0.1)
        alphas.append(np.tanh(beta * score.cpu().numpy()))
    return alphas


def plot_network(
    model: Any,
    x0: Optional[torch.Tensor] = None,
    sampling: int = 1000,
    from_acts: bool = False,
    scale: float = 0.5,
    beta: float = 3,
    metric: Optional[str] = "forward_n",
    mask: bool = False,
    in_vars: Optional[Sequence[str]] = None,
    out_vars: Optional[Sequence[str]] = None,
    title: Optional[str] = None,
    path: Optional[str] = None,
) -> Figure:
    """The diagram from ``x0`` or (``from_acts``, or no ``x0``) the activations of the last forward with
    ``save_act=True``; ``mask`` hides pruned edges. Saved to exactly ``path`` when given; returns the figure."""
    if x0 is None and not from_acts:
        from_acts = True
    if from_acts and not model.acts:
        raise ValueError("no saved activations to plot: pass x0, or run a forward with save_act=True first")
    inputs = _layer_inputs(model, x0, sampling, from_acts)
    with torch.no_grad():
        edge_values = [layer.edge_values(x) for layer, x in zip(model._qkan_layers, inputs)]
    alphas = _alphas(edge_values, inputs, metric, beta)
    if mask:
        alphas = [a * layer.mask.detach().cpu().numpy() for a, layer in zip(alphas, model._qkan_layers)]
    width, depth, row = model.width, len(model.width), 0.4
    box = 0.4 / max(max(a * b for a, b in zip(width[:-1], width[1:])), 3)
    fig = plt.figure(figsize=(10 * scale, 10 * scale * (depth - 1) * row))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, 1)
    ax.set_ylim(-0.1 * row, (depth - 1 + 0.1) * row)
    ax.axis("off")
    node_size = (1 / max(max(width), 5)) ** 2 * 10000 * scale**2
    for l, n in enumerate(width):
        ax.scatter([(i + 0.5) / n for i in range(n)], [l * row] * n, s=node_size, color="black")
    for l, (n, n_next) in enumerate(zip(width[:-1], width[1:])):
        count = n * n_next
        for i in range(n):
            for j in range(n_next):
                centre, alpha = (i * n_next + j + 0.5) / count, float(alphas[l][j, i])
                ax.plot(
                    [(i + 0.5) / n, centre], [l * row, (l + 0.5) * row - box], color="black", lw=2 * scale, alpha=alpha
                )
                ax.plot(
                    [centre, (j + 0.5) / n_next],
                    [(l + 0.5) * row + box, (l + 1) * row],
                    color="black",
                    lw=2 * scale,
                    alpha=alpha,
                )
                inset = ax.inset_axes((centre - box, (l + 0.5) * row - box, 2 * box, 2 * box), transform=ax.transData)
                order = inputs[l][:, i].argsort()
                inset.plot(
                    inputs[l][order, i].cpu().numpy(),
                    edge_values[l][order, j, i].cpu().numpy(),
                    color="black",
                    alpha=alpha,
                )
                inset.set_xticks([])
                inset.set_yticks([])
                for spine in inset.spines.values():
                    spine.set_alpha(alpha)
    for names, level, n in ((in_vars, -0.08, width[0]), (out_vars, (depth - 1) * row + 0.08, width[-1])):
        for i, name in enumerate(names or []):
            ax.text((i + 0.5) / n, level, str(name), fontsize=40 * scale, ha="center", va="center")
    if title is not None:
        fig.suptitle(title, fontsize=40 * scale)
    if path is not None:
        fig.savefig(path, dpi=120, bbox_inches="tight")
    return fig
