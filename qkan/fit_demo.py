"""The published 1-D example: QKAN([1, 1], reps=3, all pre/post/base flags on) fitting
sin(20x)/(20x) on [0, 1]; used by ``qkan fit``."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .data import create_dataset
from .model import QKAN
from .plotting import plt


def sinc20(x: torch.Tensor) -> torch.Tensor:
    """sin(20x)/(20x), equal to 1 at x = 0."""
    z = 20 * x
    return torch.where(z == 0, torch.ones_like(z), torch.sin(z) / torch.where(z == 0, torch.ones_like(z), z))


def run_fit_demo(
    steps: int = 100,
    lr: float = 1e-2,
    solver: str = "exact",
    ansatz: str = "pz",
    reps: int = 3,
    seed: int = 0,
    out_dir: str = "runs/fit",
    device: str = "cpu",
    verbose: bool = True,
) -> dict:
    """Train the 1-D example, write ``fit.png`` (data, fit, losses) and ``history.json``; return the summary."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    data = create_dataset(sinc20, n_var=1, ranges=(0.0, 1.0), train_num=1000, test_num=1000, seed=seed, device=device)
    model = QKAN(
        [1, 1],
        reps=reps,
        ansatz=ansatz,
        solver=solver,
        preact_trainable=True,
        postact_weight_trainable=True,
        postact_bias_trainable=True,
        ba_trainable=True,
        seed=seed,
        device=device,
    )
    history = model.fit(data, optimizer="Adam", steps=steps, lr=lr, verbose=verbose)
    grid = torch.linspace(0, 1, 400, device=device).unsqueeze(1)
    with torch.no_grad():
        pred = model(grid).cpu()
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ax1.plot(grid.cpu(), sinc20(grid.cpu()), "k--", label="sin(20x)/(20x)")
    ax1.plot(grid.cpu(), pred, label=f"QKAN([1,1]) {ansatz}, reps={reps}")
    ax1.set_xlabel("x")
    ax1.legend()
    ax2.semilogy(history["train_loss"], label="train")
    ax2.semilogy(history["test_loss"], label="test")
    ax2.set_xlabel("step")
    ax2.set_ylabel("MSE")
    ax2.legend()
    fig.tight_layout()
    fig.savefig(out / "fit.png", dpi=120)
    plt.close(fig)
    summary = {
        "steps": steps,
        "lr": lr,
        "solver": solver,
        "ansatz": ansatz,
        "reps": reps,
        "final_train_loss": history["train_loss"][-1],
        "final_test_loss": history["test_loss"][-1],
        "plot": str(out / "fit.png"),
    }
    (out / "history.json").write_text(json.dumps({**summary, "history": history}, indent=1))
    return summary
