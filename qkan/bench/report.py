"""``qkan bench`` output: the Markdown table, bench.json with the machine described, and bench.png."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch

from .runner import Record

RECORD_COLUMNS = (
    "case",
    "model",
    "solver",
    "ansatz",
    "params",
    "init_ms",
    "forward_ms",
    "host_us",
    "gpu_us",
    "fwd_vs_exact",
    "step_ms",
    "step_vs_exact",
    "graphed_ms",
    "graphed_vs_exact",
    "total_s",
    "peak_mib",
    "avg_mib",
    "loss",
    "max_dev",
    "note",
)


def fmt(value: Any) -> str:
    """A table cell: '-' for None, 4 significant digits for floats."""
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def markdown_table(columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    """A Markdown table of ``rows`` under ``columns`` (cells through ``fmt``; '|' in a cell escaped)."""
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in row) + " |" for row in rows]
    return "\n".join(lines)


def to_markdown(records: Sequence[Record]) -> str:
    return markdown_table(RECORD_COLUMNS, [[getattr(r, c) for c in RECORD_COLUMNS] for r in records])


def machine(device: str) -> dict[str, Any]:
    """Where the numbers come from: device, torch CPU threads, torch version, GPU name, date."""
    return {
        "device": device,
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
        "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
        "date": time.strftime("%Y-%m-%d %H:%M"),
    }


def _ms(value: Optional[float]) -> float:
    """A time for the chart; NaN (no bar) where none was measured."""
    return float("nan") if value is None else value


def plot_records(records: Sequence[Record], path: Path) -> None:
    """Bar chart of forward and train-step time per (case, solver/baseline), log scale."""
    from ..plotting import plt

    done = [r for r in records if r.forward_ms]
    if not done:
        return
    labels = [f"{r.case}\n{r.solver if r.model == 'qkan' else r.model}" for r in done]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(done)), 4))
    pos = torch.arange(len(done)).float()
    ax.bar(pos - 0.2, [_ms(r.forward_ms) for r in done], 0.4, label="forward")
    ax.bar(pos + 0.2, [_ms(r.step_ms) for r in done], 0.4, label="train step")
    ax.set_yscale("log")
    ax.set_ylabel("ms (median)")
    ax.set_xticks(pos.tolist(), labels, fontsize=7)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(records: Sequence[Record], out_dir: Union[str, Path], device: str) -> dict[str, str]:
    """bench.md, bench.json (with the machine described) and bench.png under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "bench.md").write_text(to_markdown(records) + "\n")
    (out / "bench.json").write_text(
        json.dumps({"machine": machine(device), "records": [asdict(r) for r in records]}, indent=1)
    )
    plot_records(records, out / "bench.png")
    return {"markdown": str(out / "bench.md"), "json": str(out / "bench.json"), "plot": str(out / "bench.png")}
