"""The run folder of ``qkan train`` (``--out``): which files a run owns, when a folder may be used (a new
run never writes over another one unless told), how a resumed run's options are checked against its
checkpoint, and atomic writes (a reader never sees a half-written file)."""

from __future__ import annotations

import os
from dataclasses import asdict, fields
from pathlib import Path
from typing import Any, Callable

from .config import TrainConfig

CHECKPOINT_NAME = "checkpoint.pt"
RUN_FILES = (CHECKPOINT_NAME, "metrics.json", "metrics.csv", "metrics.png")  # what --overwrite may delete
# options that steer the run but not what it learns: free to change on resume
CONTROL_OPTIONS = frozenset(
    {
        "out",
        "resume",
        "overwrite",
        "override_config",
        "progress",
        "plot",
        "device",
        "data_dir",
        "eval_every",
        "compile",
        "compile_mode",
        "amp",
        "graphed",
    }
)
# options the checkpoint's weights and optimiser state belong to: no override can change them
FIXED_OPTIONS = (
    *("task", "model", "optimizer", "ansatz", "reps", "model_kwargs"),
    *("n_layer", "n_head", "n_embd", "block_size"),
)


def option_name(field_name: str) -> str:
    """The command-line spelling of a TrainConfig field: batch_size -> --batch-size."""
    return "--" + field_name.replace("_", "-")


def temp_path(path: Path) -> Path:
    """Where ``path`` is written before it replaces the old file (same folder, so os.replace is atomic)."""
    return path.with_name(path.name + ".tmp")


def write_atomically(path: Path, write: Callable[[Path], object]) -> Path:
    """``write(temporary path)``, then move it onto ``path`` in one step."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    write(tmp)
    os.replace(tmp, path)
    return path


def prepare_run_folder(config: TrainConfig, is_main: bool) -> None:
    """Refuse a folder that already holds files unless ``resume`` or ``overwrite``, and ``resume`` without a
    checkpoint; ``overwrite`` deletes the previous run's files (only those RUN_FILES names, on the main process)."""
    out = Path(config.out)
    if config.resume and config.overwrite:
        raise ValueError("--resume and --overwrite exclude each other: continue the run or start it over")
    if config.resume:
        if not (out / CHECKPOINT_NAME).is_file():
            raise ValueError(f"--resume: no {CHECKPOINT_NAME} in {out}; drop --resume to start a new run there")
        return
    if out.is_dir() and any(out.iterdir()) and not config.overwrite:
        raise ValueError(
            f"--out {out} is not empty; pass --resume to continue the run there or --overwrite to start it over"
        )
    if config.overwrite and is_main:
        for name in RUN_FILES:
            for path in (out / name, temp_path(out / name)):
                path.unlink(missing_ok=True)


def resumed_config(config: TrainConfig, saved: dict[str, Any], given: set[str]) -> TrainConfig:
    """The configuration a resumed command line describes: the checkpoint's options, except the control
    options and those in ``given`` (typed on the command line), which keep their values from ``config``."""
    keep = CONTROL_OPTIONS | given
    return TrainConfig(
        **{
            f.name: getattr(config, f.name) if f.name in keep or f.name not in saved else saved[f.name]
            for f in fields(TrainConfig)
        }
    )


def config_overrides(config: TrainConfig, saved: dict[str, Any], step: int) -> list[dict[str, Any]]:
    """The options in which ``config`` differs from the checkpoint's ``saved`` config, as records for the
    run's metadata. A difference is refused (ValueError naming the option and both values) unless
    ``config.override_config``; the options in FIXED_OPTIONS are refused even then."""
    current = asdict(config)
    changed = [
        name
        for name, value in current.items()
        if name not in CONTROL_OPTIONS and name in saved and saved[name] != value
    ]
    for name in changed:
        what = f"{option_name(name)} {current[name]!r} differs from the checkpoint's {saved[name]!r}"
        if name in FIXED_OPTIONS:
            raise ValueError(f"{what}, and the saved weights belong to the latter; use --overwrite to start over")
        if not config.override_config:
            raise ValueError(f"{what}; pass --override-config to resume with the new value")
    return [{"option": option_name(n), "checkpoint": saved[n], "value": current[n], "step": step} for n in changed]
