"""Draw docs/ansatzes.png, the figure of the ansatz guide (docs/guide/ansatz.md): the activation f(x) of
four freshly initialised edges of each built-in ansatz, and of the guide's two-qubit circuit.

    python docs/draw_ansatzes.py [output.png]
"""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.figure import Figure

from qkan import QKANLayer
from qkan.circuits import BUILTINS, Circuit

EDGES = 4  # initialisations drawn per ansatz (one layer of 1 input and EDGES outputs)
OUTPUT = Path(__file__).resolve().parent / "ansatzes.png"


def entangled() -> Circuit:
    """The two-qubit circuit of the guide's first example (kept once, in docs/probes/entangling_ansatzes.py)."""
    return runpy.run_path(str(Path(__file__).resolve().parent / "probes" / "entangling_ansatzes.py"))["two_qubit"]


def draw(path: str | Path = OUTPUT, reps: int = 3) -> Figure:
    """One panel per ansatz (built-ins at ``reps``): f(x) on [-1, 1], where px's arccos encoding is defined,
    for EDGES initialisations."""
    ansatzes: list[str | Circuit] = [*sorted(BUILTINS), entangled()]
    x = torch.linspace(-1, 1, 201, dtype=torch.float64)[:, None]
    columns = 3
    rows = -(-len(ansatzes) // columns)
    fig, grid = plt.subplots(rows, columns, figsize=(3.2 * columns, 2.6 * rows), sharex=True, sharey=True)
    axes = grid.ravel()
    for ax in axes[len(ansatzes) :]:
        ax.set_visible(False)
    for ax, ansatz in zip(axes, ansatzes):
        circuit_reps = reps if isinstance(ansatz, str) else ansatz.data_reps
        layer = QKANLayer(1, EDGES, reps=circuit_reps, ansatz=ansatz, dtype=torch.float64, seed=0)
        with torch.no_grad():
            values = layer.circuit_values(x)[:, :, 0]
        ax.plot(x[:, 0], values)
        ax.set_title(ansatz if isinstance(ansatz, str) else ansatz.name)
        ax.grid(alpha=0.3)
    for ax in grid[-1]:
        ax.set_xlabel("x")
    for ax in grid[:, 0]:
        ax.set_ylabel("f(x) at init")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return fig


if __name__ == "__main__":
    draw(sys.argv[1] if len(sys.argv) > 1 else OUTPUT)
