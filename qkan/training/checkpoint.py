"""Checkpoints that resume a run exactly: model, optimiser, schedule, step, RNG states and the
metrics so far (written atomically, so an interrupted save never leaves a broken file)."""

from __future__ import annotations

import os
import random
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn


def rng_state() -> dict[str, Any]:
    state = {"torch": torch.get_rng_state(), "python": random.getstate()}
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def set_rng_state(state: dict[str, Any]) -> None:
    torch.set_rng_state(state["torch"])
    random.setstate(state["python"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def save_checkpoint(
    path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any, step: int, extra: dict[str, Any]
) -> Path:
    """Write everything needed to continue from ``step`` (``extra``: metrics, elapsed time, config)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "rng": rng_state(),
        **extra,
    }
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    return path


def load_checkpoint(
    path: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    expect: Optional[dict[str, Any]] = None,
) -> dict[str, Any]:
    """Restore model, optimiser, schedule and RNG from ``path``; returns the checkpoint (step, extras).
    ``expect``: config entries the saved run must share (else ValueError). Loaded on the CPU: the
    model and optimiser copy their tensors to the parameters' device."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from at {path}")
    state = torch.load(path, map_location="cpu", weights_only=True)
    saved = {key: state.get("config", {}).get(key) for key in expect or {}}
    if saved != (expect or {}):
        raise ValueError(
            f"{path} belongs to another run ({saved}, this run has {expect}); "
            "use another output folder or start without resume"
        )
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
    return state
