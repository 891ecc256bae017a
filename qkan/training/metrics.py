"""Training records on disk: metrics as JSON and CSV, and a loss/accuracy plot (PNG), each written atomically
(rewritten at every evaluation, so they can be read while the run goes on)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import matplotlib.pyplot as plt

from .runs import write_atomically

CSV_FIELDS = ("step", "epoch", "train_loss", "lr", "elapsed_s", "items_per_s", "eval_loss", "eval_accuracy")


def write_metrics(out_dir: Path, summary: dict[str, Any], history: list[dict], evals: list[dict]) -> dict[str, Path]:
    """metrics.json (summary, every step, every evaluation) and metrics.csv (one row per step, the
    evaluation columns filled on evaluated steps)."""
    by_step = {e["step"]: e for e in evals}

    def write_csv(path: Path) -> None:
        with path.open("w", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS, extrasaction="ignore")
            writer.writeheader()
            for row in history:
                writer.writerow({**row, **by_step.get(row["step"], {})})

    record = json.dumps({**summary, "history": history, "evals": evals}, indent=1)
    return {
        "json": write_atomically(out_dir / "metrics.json", lambda tmp: tmp.write_text(record)),
        "csv": write_atomically(out_dir / "metrics.csv", write_csv),
    }


def plot_metrics(path: Path, history: list[dict], evals: list[dict], title: str) -> Path:
    """Training and evaluation loss against step, and evaluation accuracy when the task has one."""
    has_accuracy = any(e.get("eval_accuracy") is not None for e in evals)
    fig, axes = plt.subplots(1, 2 if has_accuracy else 1, figsize=(11 if has_accuracy else 6, 4), squeeze=False)
    loss_ax = axes[0][0]
    loss_ax.plot([h["step"] for h in history], [h["train_loss"] for h in history], lw=0.8, alpha=0.7, label="train")
    loss_ax.plot([e["step"] for e in evals], [e["eval_loss"] for e in evals], "o-", label="eval")
    loss_ax.set(xlabel="step", ylabel="loss", yscale="log", title=title)
    loss_ax.legend()
    if has_accuracy:
        acc_ax = axes[0][1]
        acc_ax.plot([e["step"] for e in evals], [100 * e["eval_accuracy"] for e in evals], "o-")
        acc_ax.set(xlabel="step", ylabel="test accuracy (%)", title="accuracy")
        acc_ax.grid(alpha=0.3)
    fig.tight_layout()
    write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=120, format="png"))
    plt.close(fig)
    return path
