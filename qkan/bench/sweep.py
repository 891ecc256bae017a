"""``qkan.bench.sweep``: forward and train-step time and memory of QKAN([w, w]) over batch and width,
with each solver's own memory estimate, and its plot."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
from tqdm.auto import tqdm

from qkan.circuits import Circuit
from qkan.solvers import get_solver

from ..layer import Ansatz
from ..model import QKAN
from .cases import load_ansatz, regression_case, reps_for
from .runner import run_one


def sweep(
    ansatz: Union[str, Circuit] = "pz",
    solvers: Sequence[str] = ("exact",),
    batches: Sequence[int] = (64, 256),
    widths: Sequence[int] = (4, 16),
    device: Union[str, torch.device, None] = None,
    repeats: int = 3,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """Forward and train-step time of QKAN([w, w]) for every (solver, batch, width), with peak extra
    memory measured on CUDA and the solver's own estimate (``Solver.estimate_bytes``) everywhere."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ansatz = load_ansatz(ansatz)
    rows = []
    grid = [(s, b, w) for s in solvers for b in batches for w in widths]
    for solver, batch, width in tqdm(grid, desc="sweep", disable=not progress):
        case = regression_case(f"{width}x{width}", [width, width], batch, "")
        try:
            rec = run_one(case, solver, ansatz, device, repeats, loss_steps=1)
        except (ValueError, ImportError, RuntimeError) as err:
            rows.append({"solver": solver, "batch": batch, "width": width, "note": f"skipped: {err}"})
            continue
        layer = _sweep_layer(ansatz, width, solver, device)
        estimate = get_solver(solver).estimate_bytes(layer.circuit, layer.geometry, layer.theta.dtype, batch)
        rows.append(
            {
                "solver": solver,
                "batch": batch,
                "width": width,
                "forward_ms": rec.forward_ms,
                "step_ms": rec.step_ms,
                "peak_mib": rec.peak_mib,
                "estimated_mib": estimate / 2**20,
            }
        )
    return rows


def _sweep_layer(ansatz: Ansatz, width: int, solver: str, device: torch.device):
    """The first layer of the sweep's model, for its circuit and geometry."""
    return QKAN([width, width], reps=reps_for(ansatz), solver=solver, ansatz=ansatz, device=device).layers[0]


def plot_sweep(rows: Sequence[dict[str, Any]], path: Optional[Union[str, Path]] = None):
    """Train-step time and memory (measured, else estimated) against batch, one line per (solver, width)."""
    from ..plotting import plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    done = [r for r in rows if "step_ms" in r]
    for solver, width in sorted({(r["solver"], r["width"]) for r in done}):
        sel = sorted((r for r in done if r["solver"] == solver and r["width"] == width), key=lambda r: r["batch"])
        batches = [r["batch"] for r in sel]
        ax_t.loglog(batches, [r["step_ms"] for r in sel], marker="o", label=f"{solver}, {width}x{width}")
        memory = [r["peak_mib"] if r["peak_mib"] is not None else r["estimated_mib"] for r in sel]
        ax_m.loglog(batches, memory, marker="o", label=f"{solver}, {width}x{width}")
    ax_t.set_xlabel("batch")
    ax_t.set_ylabel("train step (ms, median)")
    ax_m.set_xlabel("batch")
    ax_m.set_ylabel("peak extra memory (MiB; estimated on CPU)")
    ax_t.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
