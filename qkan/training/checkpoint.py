"""Checkpoints that resume a run exactly: model, optimiser, schedule, step, RNG states and the
metrics so far (written atomically, so an interrupted save never leaves a broken file)."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .runs import write_atomically


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
    state = {
        "model": model.state_dict(),
        "optimizer": optimizer.state_dict(),
        "scheduler": scheduler.state_dict(),
        "step": step,
        "rng": rng_state(),
        **extra,
    }
    return write_atomically(path, lambda tmp: torch.save(state, tmp))


def read_checkpoint(path: Path) -> dict[str, Any]:
    """The checkpoint at ``path``, on the CPU (restoring copies its tensors to the parameters' device)."""
    if not path.is_file():
        raise FileNotFoundError(f"no checkpoint to resume from at {path}")
    return dict(torch.load(path, map_location="cpu", weights_only=True))


def restore_checkpoint(
    state: dict[str, Any], model: nn.Module, optimizer: torch.optim.Optimizer, scheduler: Any
) -> None:
    """Put model, optimiser, schedule and RNG back as the checkpoint ``state`` holds them."""
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    scheduler.load_state_dict(state["scheduler"])
    set_rng_state(state["rng"])
