"""The quantisation report on scikit-learn digits: the digits HQKAN classifier with a QKAN head and with
classical heads (MLP, SplineKAN, ...), each trained in float, then PTQ at W8A8 / W4A8 (round-to-nearest
and GPTQ) / W4A4 and QAT at W4A4 (LSQ, DSQ) from the float weights; test accuracy side by side."""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch
from torch import nn
from tqdm.auto import tqdm

from ..models import HQKANClassifier
from ..training.tasks import ClassificationTask, make_task
from ..training.trainer import make_schedule
from .convert import copy_model, quantize
from .sensitivity import role_sensitivity
from .spec import QuantSpec, uniform_spec

CALIBRATION_IMAGES = 256


@dataclass(frozen=True)
class Setting:
    """One column of the report: a spec, and whether it is fine-tuned (QAT) after quantisation."""

    name: str
    spec: Optional[QuantSpec]  # None: the float model
    qat: bool = False


SETTINGS: dict[str, Setting] = {
    s.name: s
    for s in (
        Setting("float", None),
        Setting("float +FT", None, qat=True),  # the float model fine-tuned as long as the QAT columns, for reference
        Setting("W8A8 PTQ", uniform_spec(8, 8)),
        Setting("W4A8 PTQ", uniform_spec(4, 8, scheme="mse")),
        Setting("W4A8 GPTQ", uniform_spec(4, 8, scheme="mse", gptq=True)),
        Setting("W4A4 PTQ", uniform_spec(4, 4, scheme="mse", act_scheme="mse")),
        Setting("W4A4 QAT-LSQ", uniform_spec(4, 4, scheme="mse", act_scheme="mse", qat="lsq"), qat=True),
        Setting("W4A4 QAT-DSQ", uniform_spec(4, 4, scheme="mse", act_scheme="mse", qat="dsq"), qat=True),
    )
}


@dataclass
class ReportRow:
    head: str
    seed: int
    setting: str
    accuracy: float
    loss: float
    seconds: float


def train_steps(
    model: nn.Module,
    task: ClassificationTask,
    steps: int,
    lr: float,
    batch_size: int,
    seed: int,
    desc: str,
    progress: bool,
) -> None:
    """AdamW with the trainer's cosine schedule, on the task's seeded batches."""
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=lr)
    schedule = make_schedule(optimizer, "cosine", steps)
    model.train()
    for step in tqdm(range(steps), desc=desc, disable=not progress, leave=False):
        x, y = task.batch(seed, step, batch_size)
        loss, _ = task.loss(model, x, y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        schedule.step()
    model.eval()


@torch.no_grad()
def test_metrics(model: nn.Module, task: ClassificationTask, batch_size: int = 512) -> tuple[float, float]:
    """(accuracy, mean cross-entropy) on the test split."""
    model.eval()
    correct, loss_sum, count = 0, 0.0, 0
    for x, y in task.eval_batches(batch_size):
        loss, n_correct = task.loss(model, x, y)
        correct, loss_sum, count = correct + int(n_correct), loss_sum + float(loss) * len(y), count + len(y)
    return correct / count, loss_sum / count


def train_float(
    task: ClassificationTask, head: str, epochs: int, lr: float, batch_size: int, seed: int, progress: bool
) -> HQKANClassifier:
    """The digits classifier with ``head``, initialised from ``seed`` and trained in float."""
    torch.manual_seed(seed)
    model = HQKANClassifier.for_digits(head=head)
    train_steps(model, task, epochs * task.steps_per_epoch(batch_size), lr, batch_size, seed, f"{head} float", progress)
    return model


def run_digits_report(
    heads: Sequence[str] = ("qkan", "mlp", "spline"),
    settings: Sequence[str] = tuple(SETTINGS),
    epochs: int = 20,
    qat_epochs: int = 5,
    batch_size: int = 64,
    lr: float = 3e-3,
    qat_lr: float = 1e-3,
    seeds: Sequence[int] = (0,),
    progress: bool = True,
    on_row: Optional[Callable[[ReportRow], None]] = None,
) -> list[ReportRow]:
    """Per seed, train each head's classifier in float, then evaluate every setting; QAT fine-tunes from
    the float weights for ``qat_epochs``. Calibration: the first CALIBRATION_IMAGES training images."""
    unknown = [s for s in settings if s not in SETTINGS]
    if unknown:
        raise ValueError(f"unknown settings {unknown}; expected some of {list(SETTINGS)}")
    task = _digits_task()
    per_epoch = task.steps_per_epoch(batch_size)
    calibration = task.x_train[:CALIBRATION_IMAGES]
    rows = []
    for seed, head in [(seed, head) for seed in seeds for head in heads]:
        start = time.perf_counter()
        float_model = train_float(task, head, epochs, lr, batch_size, seed, progress)
        float_seconds = time.perf_counter() - start
        for name in settings:
            setting = SETTINGS[name]
            start = time.perf_counter()
            if setting.spec is None:
                model, seconds_offset = (copy_model(float_model), 0.0) if setting.qat else (float_model, float_seconds)
            else:
                model, seconds_offset = quantize(float_model, setting.spec, calibration), 0.0
            if setting.qat:
                train_steps(
                    model, task, qat_epochs * per_epoch, qat_lr, batch_size, seed + 1, f"{head} {name}", progress
                )
            accuracy, loss = test_metrics(model, task)
            row = ReportRow(head, seed, name, accuracy, loss, seconds_offset + time.perf_counter() - start)
            rows.append(row)
            if on_row is not None:
                on_row(row)
    return rows


def _digits_task() -> ClassificationTask:
    task = make_task("digits")
    assert isinstance(task, ClassificationTask)
    return task


def run_role_sensitivity(
    head: str = "qkan",
    bits: Sequence[int] = (2, 3, 4),
    epochs: int = 20,
    batch_size: int = 64,
    lr: float = 3e-3,
    seed: int = 0,
    progress: bool = True,
) -> list[dict]:
    """Test accuracy of the float-trained ``head`` classifier with one role at a time quantised (PTQ, MSE
    ranges), per bit width: which branch needs the bits."""
    task = _digits_task()
    model = train_float(task, head, epochs, lr, batch_size, seed, progress)
    rows = role_sensitivity(model, bits, lambda m: test_metrics(m, task)[0], task.x_train[:CALIBRATION_IMAGES])
    return [{"head": head, "seed": seed, "float": test_metrics(model, task)[0], **row} for row in rows]


def sensitivity_markdown(rows: Sequence[dict]) -> str:
    """Roles as rows, bit widths as columns, test accuracy in percent (float accuracy in the title row)."""
    bits = sorted({r["bits"] for r in rows})
    lines = [
        f"| role (float {100 * rows[0]['float']:.2f}) | " + " | ".join(f"{b} bits" for b in bits) + " |",
        "|---|" + "---|" * len(bits),
    ]
    for role in dict.fromkeys(r["role"] for r in rows):
        cells = {r["bits"]: f"{100 * r['metric']:.2f}" for r in rows if r["role"] == role}
        lines.append(f"| {role} | " + " | ".join(cells.get(b, "") for b in bits) + " |")
    return "\n".join(lines)


def _accuracies(rows: Sequence[ReportRow], head: str, setting: str) -> list[float]:
    return [r.accuracy for r in rows if r.head == head and r.setting == setting]


def _cell(accuracies: list[float]) -> str:
    """Mean test accuracy in percent, with the standard deviation over seeds when there are several."""
    if not accuracies:
        return ""
    values = 100 * torch.tensor(accuracies, dtype=torch.float64)
    return f"{values.mean():.2f}" + (f" ± {values.std():.2f}" if len(accuracies) > 1 else "")


def to_markdown(rows: Sequence[ReportRow]) -> str:
    """Heads as rows, settings as columns: test accuracy in percent (mean ± std over seeds)."""
    settings = list(dict.fromkeys(r.setting for r in rows))
    heads = list(dict.fromkeys(r.head for r in rows))
    lines = ["| head | " + " | ".join(settings) + " |", "|---|" + "---|" * len(settings)]
    for head in heads:
        cells = [_cell(_accuracies(rows, head, s)) for s in settings]
        lines.append(f"| {head} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_report(rows: Sequence[ReportRow], path: Path) -> None:
    """Grouped bars: one group per head, one bar per setting (mean accuracy, std over seeds as error bars)."""
    from ..plotting import plt

    settings = list(dict.fromkeys(r.setting for r in rows))
    heads = list(dict.fromkeys(r.head for r in rows))
    width = 0.8 / len(settings)
    fig, ax = plt.subplots(figsize=(max(6.0, 1.6 * len(heads) + 2) + 2, 4))
    for k, setting in enumerate(settings):
        values = [
            100 * torch.tensor(_accuracies(rows, h, setting) or [float("nan")], dtype=torch.float64) for h in heads
        ]
        ax.bar(
            [i + k * width for i in range(len(heads))],
            [float(v.mean()) for v in values],
            width,
            yerr=[float(v.std()) if v.numel() > 1 else 0.0 for v in values],
            label=setting,
        )
    lowest = min(100 * r.accuracy for r in rows)
    ax.set_ylim(max(0.0, lowest - 5), 100)
    ax.set_xticks([i + 0.4 - width / 2 for i in range(len(heads))], heads)
    ax.set_ylabel("test accuracy (%)")
    ax.set_title("digits: float vs quantised")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_report(rows: Sequence[ReportRow], out_dir: str, config: dict) -> dict[str, str]:
    """quant_digits.md (the table), quant_digits.json (rows and run settings) and quant_digits.png in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown, data, plot = out / "quant_digits.md", out / "quant_digits.json", out / "quant_digits.png"
    seeds = sorted({r.seed for r in rows})
    markdown.write_text(
        f"Test accuracy (%) on scikit-learn digits (360 test images), seeds {seeds}\n\n" + to_markdown(rows) + "\n"
    )
    data.write_text(json.dumps({"config": config, "rows": [asdict(r) for r in rows]}, indent=1))
    plot_report(rows, plot)
    return {"markdown": str(markdown), "json": str(data), "plot": str(plot)}


def write_sensitivity(rows: Sequence[dict], out_dir: str) -> dict[str, str]:
    """quant_roles.md (one table per head) and quant_roles.json in ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    markdown, data = out / "quant_roles.md", out / "quant_roles.json"
    tables = [
        f"### {head}\n\n" + sensitivity_markdown([r for r in rows if r["head"] == head])
        for head in dict.fromkeys(r["head"] for r in rows)
    ]
    markdown.write_text(
        "Test accuracy (%) on digits with one role quantised (PTQ, MSE ranges), the rest float\n\n"
        + "\n\n".join(tables)
        + "\n"
    )
    data.write_text(json.dumps(list(rows), indent=1))
    return {"markdown": str(markdown), "json": str(data)}
