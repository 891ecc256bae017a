"""Plots of learned activations: a grid of per-edge curves for every layer, all layers in one figure.

Importing this module leaves matplotlib's backend alone (notebooks show their figures inline); command
lines that only write files call :func:`use_file_backend` first."""

from __future__ import annotations

import os
import sys
from typing import Any, Callable, Optional, Union

import matplotlib
import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure, SubFigure

from .checks import check_materialised


def use_file_backend() -> bool:
    """Switch matplotlib to the non-interactive Agg backend when nothing could show a window: no display
    (Linux without DISPLAY or WAYLAND_DISPLAY), not inside IPython and no MPLBACKEND chosen by the user.
    Returns whether it switched. For command lines that write figures to files; call before the first figure."""
    if os.environ.get("MPLBACKEND") or _inside_ipython():
        return False
    if sys.platform in ("darwin", "win32") or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return False
    matplotlib.use("Agg")
    return True


def _inside_ipython() -> bool:
    ipython = sys.modules.get("IPython")
    return ipython is not None and getattr(ipython, "get_ipython", lambda: None)() is not None


def _input_ranges(x: Optional[torch.Tensor], in_dim: int) -> torch.Tensor:
    """(in_dim, 2): each input's [min, max] over ``x``, or [-1, 1] without data."""
    if x is None:
        return torch.tensor([[-1.0, 1.0]]).repeat(in_dim, 1)
    return torch.stack((x.amin(0), x.amax(0)), dim=1).detach().cpu()


def _grid_size(out_dim: int, in_dim: int) -> tuple[float, float]:
    """Width and height in inches of an out_dim x in_dim edge grid."""
    return 1.6 * in_dim + 1, 1.2 * out_dim + 1


def draw_edges(
    target: Union[Figure, SubFigure],
    edge_fn: Callable[[torch.Tensor], torch.Tensor],
    in_ranges: torch.Tensor,
    out_dim: int,
    in_dim: int,
    title: str,
    n_points: int = 200,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
) -> None:
    """Draw one panel per edge (o, i) into ``target``: ``edge_fn(x)`` -> (N, O, I) evaluated on a sweep of
    input i over ``in_ranges[i]`` (other inputs fixed at the range midpoint)."""
    axes = target.subplots(out_dim, in_dim, squeeze=False)
    mid = in_ranges.mean(dim=1)
    for i in range(in_dim):
        sweep = torch.linspace(float(in_ranges[i, 0]), float(in_ranges[i, 1]), n_points, dtype=dtype, device=device)
        x = mid.to(dtype=dtype, device=device).repeat(n_points, 1)
        x[:, i] = sweep
        with torch.no_grad():
            values = edge_fn(x)[:, :, i].cpu()
        for o in range(out_dim):
            ax = axes[o][i]
            ax.plot(sweep.cpu(), values[:, o], lw=1.2)
            ax.set_xticks([])
            ax.set_yticks([])
            if o == out_dim - 1:
                ax.set_xlabel(f"in {i}", fontsize=7)
            if i == 0:
                ax.set_ylabel(f"out {o}", fontsize=7)
    target.suptitle(title, fontsize=9)
    width, height = target.bbox.width / target.dpi, target.bbox.height / target.dpi
    # fixed margins in inches instead of a layout engine, which takes minutes on grids of ~1000 panels
    target.subplots_adjust(
        left=0.45 / width, right=1 - 0.1 / width, bottom=0.35 / height, top=1 - 0.4 / height, wspace=0.1, hspace=0.1
    )


def edge_grid(
    edge_fn: Callable[[torch.Tensor], torch.Tensor],
    in_ranges: torch.Tensor,
    out_dim: int,
    in_dim: int,
    title: str,
    n_points: int = 200,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
) -> Figure:
    """A new figure holding :func:`draw_edges`'s panels (one per edge)."""
    fig = plt.figure(figsize=_grid_size(out_dim, in_dim))
    draw_edges(fig, edge_fn, in_ranges, out_dim, in_dim, title, n_points, dtype, device)
    return fig


def _layer_title(layer: Any, index: Optional[int] = None) -> str:
    prefix = "" if index is None else f"layer {index}: "
    return f"{prefix}{layer.circuit.name}, reps={layer.reps}"


def _draw_layer(target: Union[Figure, SubFigure], layer: Any, x: Optional[torch.Tensor], n_points: int, title: str):
    """A QKAN layer's edge panels drawn into ``target`` over the range of ``x``."""
    draw_edges(
        target,
        layer.edge_values,
        _input_ranges(x, layer.in_dim),
        layer.out_dim,
        layer.in_dim,
        title,
        n_points,
        layer.theta.dtype,
        layer.theta.device,
    )


def plot_layer(layer: Any, path: Optional[str] = None, x: Optional[torch.Tensor] = None, n_points: int = 200) -> Figure:
    """One QKAN layer's per-edge curves over the range of ``x`` (default [-1, 1]); saved to exactly
    ``path`` when given. Returns the figure."""
    check_materialised(layer, "plot")
    fig = plt.figure(figsize=_grid_size(layer.out_dim, layer.in_dim))
    _draw_layer(fig, layer, x, n_points, _layer_title(layer))
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig


def plot_model(model: Any, path: Optional[str] = None, x: Optional[torch.Tensor] = None, n_points: int = 200) -> Figure:
    """One figure with a panel (an edge grid) per QKAN layer, stacked top to bottom. Input ranges come from
    ``x`` (propagated through the layers) or default to [-1, 1]. Saved to exactly ``path`` when given."""
    check_materialised(model, "plot")
    layers = list(model.layers)
    sizes = [_grid_size(layer.out_dim, layer.in_dim) for layer in layers]
    fig = plt.figure(figsize=(max(w for w, _ in sizes), sum(h for _, h in sizes)))
    panels = fig.subfigures(len(layers), 1, squeeze=False, height_ratios=[h for _, h in sizes])[:, 0]
    h = x
    for index, (layer, panel) in enumerate(zip(layers, panels)):
        _draw_layer(panel, layer, h, n_points, _layer_title(layer, index))
        if h is not None:
            with torch.no_grad():
                h = layer(h)
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
