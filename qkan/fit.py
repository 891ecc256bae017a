"""A training loop for QKAN on a ``create_dataset`` dict: Adam or LBFGS, tqdm progress, history."""
from __future__ import annotations

from typing import Callable, Optional, Union

import torch
from torch import nn
from tqdm.auto import tqdm

OPTIMIZERS = ("adam", "lbfgs")


def _make_optimizer(model: nn.Module, optimizer: Union[str, torch.optim.Optimizer], lr: float) -> torch.optim.Optimizer:
    if isinstance(optimizer, torch.optim.Optimizer):
        return optimizer
    name = str(optimizer).lower()
    params = [p for p in model.parameters() if p.requires_grad]
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, history_size=10, line_search_fn="strong_wolfe")
    raise ValueError(f"unknown optimizer {optimizer!r}; expected an Optimizer or one of {OPTIMIZERS}")


def fit(model: nn.Module, dataset: dict[str, torch.Tensor], optimizer: Union[str, torch.optim.Optimizer] = "Adam",
        steps: int = 100, lr: float = 1e-2, loss_fn: Optional[Callable] = None, batch: int = -1, log: int = 1,
        seed: int = 0, verbose: bool = True) -> dict[str, list[float]]:
    """Train ``model`` for ``steps`` steps; returns ``{"train_loss": [...], "test_loss": [...]}``,
    one entry every ``log`` steps. ``batch=-1`` trains on the whole training set each step."""
    missing = {"train_input", "train_label", "test_input", "test_label"} - set(dataset)
    if missing:
        raise ValueError(f"dataset is missing {sorted(missing)}; build it with qkan.create_dataset")
    if steps < 1 or log < 1:
        raise ValueError(f"steps and log must be positive, got steps={steps}, log={log}")
    loss_fn = loss_fn or nn.MSELoss()
    opt = _make_optimizer(model, optimizer, lr)
    x_train, y_train = dataset["train_input"], dataset["train_label"]
    n = x_train.shape[0]
    batch = n if batch == -1 or batch > n else batch
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train_loss": [], "test_loss": []}
    bar = tqdm(range(steps), disable=not verbose, desc="fit", dynamic_ncols=True)
    for step in bar:
        idx = torch.randperm(n, generator=gen)[:batch].to(x_train.device)
        xb, yb = x_train[idx], y_train[idx]

        def closure() -> torch.Tensor:
            opt.zero_grad()
            loss = loss_fn(model(xb), yb)
            loss.backward()
            return loss

        train_loss = float(opt.step(closure).detach())
        if (step + 1) % log == 0 or step == steps - 1:
            with torch.no_grad():
                test_loss = loss_fn(model(dataset["test_input"]), dataset["test_label"])
            history["train_loss"].append(train_loss)
            history["test_loss"].append(float(test_loss))
            bar.set_postfix(train=f"{train_loss:.4g}", test=f"{float(test_loss):.4g}")
    return history
