"""A training loop for QKAN on a ``create_dataset`` dict: Adam or LBFGS, tqdm progress, history.

Every argument and the dataset are checked before the first step, and a run that fails later (an error
in a step, or a loss that turns NaN/inf) puts the model and the optimizer back as they were before
``fit`` and raises: a failed call changes nothing."""

from __future__ import annotations

import copy
import math
from numbers import Integral, Real
from typing import Callable, Mapping, Optional, Union, cast

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from .checks import check_positive_int
from .data import check_seed

OPTIMIZERS = ("adam", "lbfgs")
DATASET_KEYS = ("train_input", "train_label", "test_input", "test_label")


class FitDiverged(ValueError):
    """The loss became NaN or inf at ``step`` (1-based); ``history`` holds the entries logged before it."""

    def __init__(self, message: str, step: int, history: dict[str, list[float]]):
        super().__init__(message)
        self.step, self.history = step, history


def _mse(output: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
    """The default loss: MSE, refusing an output and label of different shapes (they would broadcast)."""
    if output.shape != label.shape:
        raise ValueError(
            f"the model's output has shape {tuple(output.shape)} but its labels have shape "
            f"{tuple(label.shape)}; with the default MSE loss they must match"
        )
    return F.mse_loss(output, label)


def _declared_widths(model: nn.Module) -> tuple[Optional[int], Optional[int]]:
    """(input width, output width) where the model states them: QKAN's ``width``, a layer's in_dim/out_dim."""
    width = getattr(model, "width", None)
    if isinstance(width, (list, tuple)) and len(width) >= 2 and all(isinstance(w, int) for w in width):
        return width[0], width[-1]
    in_dim, out_dim = getattr(model, "in_dim", None), getattr(model, "out_dim", None)
    if isinstance(in_dim, int) and isinstance(out_dim, int):
        return in_dim, out_dim
    return None, None


def _check_tensors(dataset: Mapping[str, torch.Tensor], default_loss: bool) -> None:
    """Each entry a tensor, inputs floating (labels too for the default loss), at least one row."""
    for key in DATASET_KEYS:
        value = dataset[key]
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"dataset[{key!r}] must be a torch.Tensor, got {type(value).__name__}")
        if (key.endswith("input") or default_loss) and not value.dtype.is_floating_point:
            raise TypeError(f"dataset[{key!r}] must be a floating tensor, got {value.dtype}")
        if value.dim() == 0 or value.shape[0] == 0:
            raise ValueError(f"dataset[{key!r}] must have at least one row, got shape {tuple(value.shape)}")


def _check_dataset(model: nn.Module, dataset: object, default_loss: bool) -> None:
    """Refuse a dataset ``fit`` cannot train on: every message names the entry, its value and what fits."""
    if not isinstance(dataset, Mapping):
        raise TypeError(f"dataset must be a dict with keys {DATASET_KEYS}, got {type(dataset).__name__}")
    missing = set(DATASET_KEYS) - set(dataset)
    if missing:
        raise ValueError(f"dataset is missing {sorted(missing)}; build it with qkan.create_dataset")
    _check_tensors(dataset, default_loss)
    shapes = {key: tuple(dataset[key].shape) for key in DATASET_KEYS}
    for split in ("train", "test"):
        if shapes[f"{split}_label"][0] != shapes[f"{split}_input"][0]:
            raise ValueError(
                f"dataset[{split + '_label'!r}] has {shapes[split + '_label'][0]} rows but "
                f"dataset[{split + '_input'!r}] has {shapes[split + '_input'][0]}; they must match"
            )
    for kind in ("input", "label"):
        if shapes[f"test_{kind}"][1:] != shapes[f"train_{kind}"][1:]:
            raise ValueError(
                f"dataset['test_{kind}'] has shape {shapes['test_' + kind]} but dataset['train_{kind}'] "
                f"has {shapes['train_' + kind]}; their widths must match"
            )
    in_width, out_width = _declared_widths(model)
    rank = len(shapes["train_input"])
    if in_width is not None and (rank < 2 or shapes["train_input"][-1] != in_width):
        raise ValueError(
            f"dataset['train_input'] has shape {shapes['train_input']} but the model takes (batch, ..., {in_width})"
        )
    if default_loss and out_width is not None and shapes["train_label"] != shapes["train_input"][:-1] + (out_width,):
        raise ValueError(
            f"dataset['train_label'] has shape {shapes['train_label']} but the model gives "
            f"{shapes['train_input'][:-1] + (out_width,)}; with the default MSE loss they must match"
        )
    _check_placement(model, dataset)


def _check_placement(model: nn.Module, dataset: Mapping[str, torch.Tensor]) -> None:
    """All entries on the model's device, inputs in its dtype, every value finite."""
    param = next(model.parameters(), None)
    device = dataset["train_input"].device if param is None else param.device
    for key in DATASET_KEYS:
        value = dataset[key]
        if value.device != device:
            raise ValueError(f"dataset[{key!r}] is on {value.device} but the model is on {device}")
        if key.endswith("input") and param is not None and param.is_floating_point() and value.dtype != param.dtype:
            raise TypeError(f"dataset[{key!r}] is {value.dtype} but the model's parameters are {param.dtype}")
        if not bool(torch.isfinite(value).all()):
            raise ValueError(f"dataset[{key!r}] contains NaN or inf")


def _check_options(
    steps: object, lr: object, batch: object, log: object, loss_fn: object, verbose: object
) -> tuple[int, float, int, int]:
    """Refuse bad loop options; returns steps, lr, batch (-1: the whole training set) and log as Python numbers."""
    steps, log = check_positive_int("steps", steps), check_positive_int("log", log)
    if isinstance(lr, bool) or not isinstance(lr, Real):
        raise TypeError(f"lr must be a real number, got {type(lr).__name__}")
    if not (math.isfinite(lr) and float(lr) > 0):
        raise ValueError(f"lr must be positive and finite, got {lr!r}")
    if loss_fn is not None and not callable(loss_fn):
        raise TypeError(f"loss_fn must be None (MSE) or a callable (output, label) -> loss, got {loss_fn!r}")
    if not isinstance(verbose, bool):
        raise TypeError(f"verbose must be True or False, got {verbose!r}")
    if isinstance(batch, bool) or not isinstance(batch, Integral) or not (batch == -1 or int(batch) >= 1):
        raise ValueError(f"batch must be a positive integer or -1 (the whole training set), got {batch!r}")
    return steps, float(lr), int(batch), log


def _make_optimizer(model: nn.Module, optimizer: Union[str, torch.optim.Optimizer], lr: float) -> torch.optim.Optimizer:
    """Adam or LBFGS over the trainable parameters, or ``optimizer`` itself once it holds only the model's."""
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ValueError(f"model has no trainable parameters; nothing for fit to train ({type(model).__name__})")
    if isinstance(optimizer, torch.optim.Optimizer):
        owned = {id(p) for p in model.parameters()}
        foreign = sum(id(p) not in owned for group in optimizer.param_groups for p in group["params"])
        if foreign:
            raise ValueError(
                f"optimizer holds {foreign} tensor(s) that are not parameters of this model; "
                "build it from model.parameters()"
            )
        return optimizer
    name = optimizer.lower() if isinstance(optimizer, str) else None
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":
        return torch.optim.LBFGS(params, lr=lr, history_size=10, line_search_fn="strong_wolfe")
    raise ValueError(f"unknown optimizer {optimizer!r}; expected an Optimizer or one of {OPTIMIZERS}")


class _Snapshot:
    """The model's state (parameters, buffers, gradients) and the optimizer's, to put back on failure."""

    def __init__(self, model: nn.Module, optimizer: torch.optim.Optimizer):
        self.model, self.optimizer = model, optimizer
        self.model_state = {k: v.clone() for k, v in model.state_dict().items()}
        self.grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
        self.optimizer_state = copy.deepcopy(optimizer.state_dict())

    def restore(self) -> None:
        """Put every saved state back in place (the tensors the optimizer holds stay the same objects)."""
        self.model.load_state_dict(self.model_state)
        for p, grad in zip(self.model.parameters(), self.grads):
            p.grad = grad
        self.optimizer.load_state_dict(self.optimizer_state)


def _train(
    model: nn.Module,
    dataset: Mapping[str, torch.Tensor],
    opt: torch.optim.Optimizer,
    steps: int,
    loss_fn: Callable,
    batch: int,
    log: int,
    seed: int,
    verbose: bool,
) -> dict[str, list[float]]:
    """The loop itself; raises FitDiverged at the first NaN/inf train or test loss."""
    x_train, y_train = dataset["train_input"], dataset["train_label"]
    n = x_train.shape[0]
    batch = n if batch == -1 or batch > n else batch
    gen = torch.Generator().manual_seed(seed)
    history: dict[str, list[float]] = {"train_loss": [], "test_loss": []}
    with tqdm(range(steps), disable=not verbose, desc="fit", dynamic_ncols=True) as bar:
        for step in bar:
            idx = torch.randperm(n, generator=gen)[:batch].to(x_train.device)
            xb, yb = x_train[idx], y_train[idx]

            def closure(xb: torch.Tensor = xb, yb: torch.Tensor = yb) -> torch.Tensor:
                opt.zero_grad()
                loss = loss_fn(model(xb), yb)
                loss.backward()
                return loss

            # torch's stub types a closure's loss as float; step hands back the closure's loss tensor
            stepped = cast(torch.Tensor, opt.step(closure))  # type: ignore[arg-type]
            train_loss = _finite_loss("train", stepped, step, history)
            if (step + 1) % log == 0 or step == steps - 1:
                with torch.no_grad():
                    test_loss = _finite_loss(
                        "test", loss_fn(model(dataset["test_input"]), dataset["test_label"]), step, history
                    )
                history["train_loss"].append(train_loss)
                history["test_loss"].append(test_loss)
                bar.set_postfix(train=f"{train_loss:.4g}", test=f"{test_loss:.4g}")
    return history


def _finite_loss(split: str, loss: torch.Tensor, step: int, history: dict[str, list[float]]) -> float:
    """``loss`` as a float, or FitDiverged naming the split and step ``step + 1`` (1-based)."""
    value = float(loss.detach())
    if not math.isfinite(value):
        raise FitDiverged(
            f"the {split} loss became {value} at step {step + 1}; the model and optimizer are back "
            "to their state before fit (try a smaller learning rate)",
            step + 1,
            history,
        )
    return value


def fit(
    model: nn.Module,
    dataset: dict[str, torch.Tensor],
    optimizer: Union[str, torch.optim.Optimizer] = "Adam",
    steps: int = 100,
    lr: float = 1e-2,
    loss_fn: Optional[Callable] = None,
    batch: int = -1,
    log: int = 1,
    seed: int = 0,
    verbose: bool = True,
) -> dict[str, list[float]]:
    """Train ``model`` for ``steps`` steps; returns ``{"train_loss": [...], "test_loss": [...]}``,
    one entry every ``log`` steps and at the last. ``batch=-1`` trains on the whole training set each step.
    ``optimizer`` is "Adam", "LBFGS" (with ``lr``) or an Optimizer over the model's parameters (``lr`` unused).

    The default loss is MSE: labels floating and shaped like the output. A custom ``loss_fn`` takes any label
    form (e.g. class indices) with one row per input. Bad arguments raise ValueError/TypeError before any
    step. A failure during training (an exception in a step, or :class:`FitDiverged` at the first NaN/inf
    train or test loss, with the history so far) restores the model's parameters, buffers and gradients
    and the optimizer's state from before the call, then raises; KeyboardInterrupt is not caught (the steps
    done are kept). The snapshot costs one copy of the model's and the optimizer's state."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    steps, lr, batch, log = _check_options(steps, lr, batch, log, loss_fn, verbose)
    seed = check_seed(seed)
    _check_dataset(model, dataset, loss_fn is None)
    opt = _make_optimizer(model, optimizer, lr)
    snapshot = _Snapshot(model, opt)
    try:
        return _train(model, dataset, opt, steps, loss_fn or _mse, batch, log, seed, verbose)
    except Exception:
        snapshot.restore()
        raise
