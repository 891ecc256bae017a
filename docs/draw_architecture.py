"""Draw docs/architecture.png, the package map on the documentation site's home page (docs/index.md).

    python docs/draw_architecture.py [output.png]

The figure shows the four layers of the code base, from left to right: the circuit IR, the solvers
that compile it, the layers that own the parameters, and the models and tools built on them. Each
arrow points from what is imported to the importer. Edit the tables below and run the script again.
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib.pyplot as plt
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

# (title, import name, folder, lines of content, fill colour)
COLUMNS = [
    (
        "Circuits",
        "qkan.circuits",
        "circuits/",
        [
            "Circuit: ops, angles, readout",
            "gate registry",
            "built-ins: pz rpz real px mix ring2/3",
            "passes, QASM, drawing",
        ],
        "#e8f1fb",
    ),
    ("Solvers", "qkan.solvers", "solvers/", ["Solver / Program contract", "registry; auto picks per batch"], "#fdf0e3"),
    (
        "Layers",
        "qkan",
        "qkan/",
        ["QKANLayer: the seven tensors", "QKAN: stack, prune, refine", "settings, validation", "plots, fit"],
        "#e9f6ec",
    ),
    (
        "Models and tools",
        "qkan.models ...",
        "qkan/*/",
        ["HQKAN, classifier, GPT", "classical baselines", "train, quant, bench", "CLI: qkan / python -m qkan"],
        "#f3ecf8",
    ),
]
SOLVERS = [
    ("exact", "statevector reference"),
    ("flash", "fused CUDA kernels"),
    ("cutn", "tensor networks"),
    ("qiskit", "devices, noise"),
]
ARROWS = ["Circuit", "Program", "nn.Module"]  # what each arrow carries
EDGE = "#44546a"

WIDTH, GAP, TOP, HEIGHT = 2.6, 1.05, 3.55, 3.1  # column width, gap between columns, top and height of a column


def _box(ax, x: float, y: float, w: float, h: float, fill: str, edge: str = EDGE, lw: float = 1.4, pad: float = 0.06):
    ax.add_patch(
        FancyBboxPatch(
            (x, y), w, h, boxstyle=f"round,pad={pad},rounding_size=0.12", facecolor=fill, edgecolor=edge, linewidth=lw
        )
    )


def draw(path: Path) -> Path:
    right = 4 * WIDTH + 3 * GAP
    fig = plt.figure(figsize=(right + 0.4, 4.2))
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(-0.2, right + 0.2)
    ax.set_ylim(-0.4, TOP + 0.3)
    ax.axis("off")
    for n, (title, module, folder, lines, fill) in enumerate(COLUMNS):
        x = n * (WIDTH + GAP)
        _box(ax, x, TOP - HEIGHT, WIDTH, HEIGHT, fill)
        ax.text(x + WIDTH / 2, TOP - 0.25, title, ha="center", va="center", fontsize=14, weight="bold", color="#1f2a38")
        ax.text(
            x + WIDTH / 2,
            TOP - 0.58,
            f"{module}   ({folder})",
            ha="center",
            va="center",
            fontsize=9,
            family="monospace",
            color="#44546a",
        )
        if title == "Solvers":
            for k, (name, what) in enumerate(SOLVERS):
                y = TOP - 1.55 - 0.4 * k
                _box(ax, x + 0.14, y - 0.15, WIDTH - 0.28, 0.3, "white", lw=0.9, pad=0.02)
                ax.text(
                    x + 0.24, y + 0.01, name, ha="left", va="center", fontsize=10, weight="bold", family="monospace"
                )
                ax.text(x + 0.9, y + 0.01, what, ha="left", va="center", fontsize=8.5, color="#333333")
            rows, ys = lines, [TOP - 0.92, TOP - 1.2]
        else:
            rows = lines
            ys = [TOP - 1.0 - 0.48 * k for k in range(len(lines))]
        for y, line in zip(ys, rows):
            ax.text(x + WIDTH / 2, y, line, ha="center", va="center", fontsize=9.5, color="#1f2a38")
        if n < len(COLUMNS) - 1:
            start, end = x + WIDTH + 0.1, x + WIDTH + GAP - 0.1
            mid_y = TOP - HEIGHT / 2
            ax.add_patch(
                FancyArrowPatch(
                    (start, mid_y), (end, mid_y), arrowstyle="-|>", mutation_scale=18, linewidth=2.0, color=EDGE
                )
            )
            ax.text(
                (start + end) / 2,
                mid_y + 0.12,
                ARROWS[n],
                ha="center",
                va="bottom",
                fontsize=9,
                style="italic",
                color=EDGE,
            )
    ax.text(
        0,
        -0.2,
        "Arrows point from what is imported to the importer; nothing imports backwards. "
        "Forward: x (B, I) -> Program.layer_output -> y (B, O).  Details: docs/design.md",
        ha="left",
        va="center",
        fontsize=9,
        color="#44546a",
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path


def main(argv: list[str]) -> int:
    out = Path(argv[0]) if argv else Path(__file__).resolve().parent / "architecture.png"
    print(draw(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
