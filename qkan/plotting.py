"""Plots of learned activations: a grid of per-edge curves for every layer.

Importing this module leaves matplotlib's backend alone (notebooks show their figures inline); command
lines that only write files call :func:`use_file_backend` first."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Optional

import matplotlib
import matplotlib.pyplot as plt
import torch


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


def edge_grid(
    edge_fn,
    in_ranges: torch.Tensor,
    out_dim: int,
    in_dim: int,
    title: str,
    n_points: int = 200,
    dtype: torch.dtype = torch.float32,
    device: Optional[torch.device] = None,
):
    """Figure with one panel per edge (o, i): ``edge_fn(x)`` -> (N, O, I) evaluated on a sweep of
    input i over ``in_ranges[i]`` (other inputs fixed at the range midpoint)."""
    fig, axes = plt.subplots(out_dim, in_dim, figsize=(1.6 * in_dim + 1, 1.2 * out_dim + 1), squeeze=False)
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
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    return fig


def plot_model(model, path: Optional[str] = None, x: Optional[torch.Tensor] = None, n_points: int = 200) -> list:
    """One edge grid per QKAN layer. Input ranges come from ``x`` (propagated through the layers)
    or default to [-1, 1]. With ``path``, saves ``path`` (one layer) or ``stem_layerL.png``."""
    figures = []
    h = x
    for l, layer in enumerate(model.layers):
        fig = layer.plot(x=h, n_points=n_points)
        fig.suptitle(f"layer {l}: {layer.circuit.name}, reps={layer.reps}", fontsize=9)
        figures.append(fig)
        if h is not None:
            with torch.no_grad():
                h = layer(h)
    if path is not None:
        target = Path(path)
        for l, fig in enumerate(figures):
            out = target if len(figures) == 1 else target.with_name(f"{target.stem}_layer{l}{target.suffix or '.png'}")
            fig.savefig(out, dpi=120)
    return figures
