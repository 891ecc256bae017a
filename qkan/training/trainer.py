"""The training loop behind ``qkan train``: builds the task and model from a TrainConfig, trains with
tqdm progress, evaluates, checkpoints (resume continues the same curve), writes metrics and a plot,
and runs unchanged under ``torchrun`` (DDP)."""
from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Optional

import torch
from torch import nn
from tqdm.auto import tqdm

from ..models import GPT, HQKANClassifier
from .checkpoint import load_checkpoint, save_checkpoint
from .ddp import DistContext, all_reduce_sum, init_distributed, shutdown, wrap_model
from .metrics import plot_metrics, write_metrics
from .tasks import ClassificationTask, Task, make_task

MODELS = ("hqkan", "mlp", "spline", "bspline", "rational", "fastkan")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "cosine")
CHECKPOINT_NAME = "checkpoint.pt"
RUN_IDENTITY = ("task", "model", "seed", "batch_size")  # a resumed run must agree on these


@dataclass
class TrainConfig:
    """Everything a run depends on. ``model`` names the QKAN part ("hqkan") or the classical block
    that replaces it: the classifier's head, or the GPT's feed-forward."""

    task: str = "digits"
    model: str = "hqkan"
    solver: str = "exact"
    ansatz: str = "pz"
    reps: Optional[int] = None  # None: the model's default (3 in the classifier head, 1 in HQKAN)
    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 0.0
    schedule: str = "cosine"
    grad_clip: Optional[float] = None
    epochs: int = 20
    steps: Optional[int] = None  # overrides epochs
    batch_size: int = 64
    seed: int = 0
    device: Optional[str] = None  # None/"auto": CUDA when available
    out: str = "runs/train"
    eval_every: Optional[int] = None  # steps; default once per epoch
    resume: bool = False
    progress: bool = True
    plot: bool = True
    # language-model settings
    block_size: int = 64
    n_layer: int = 2
    n_head: int = 4
    n_embd: int = 64
    dropout: float = 0.0
    max_chars: Optional[int] = None
    data_dir: Optional[str] = None
    model_kwargs: dict[str, Any] = field(default_factory=dict)

    def check(self) -> None:
        for name, allowed in (("model", MODELS), ("optimizer", OPTIMIZERS), ("schedule", SCHEDULES)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"unknown {name} {getattr(self, name)!r}; expected one of {list(allowed)}")
        for name in ("epochs", "batch_size", "block_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"steps must be positive, got {self.steps}")


def build_model(config: TrainConfig, task: Task) -> nn.Module:
    """The HQKAN classifier (digits variant for 8x8 input) or the GPT, with the configured block."""
    quantum = config.model == "hqkan"
    reps = {} if config.reps is None else {"reps": config.reps}
    if isinstance(task, ClassificationTask):
        options = dict(n_classes=task.n_classes, head="qkan" if quantum else config.model, solver=config.solver,
                       ansatz=config.ansatz, head_kwargs=config.model_kwargs or None, **reps)
        if tuple(task.x_train.shape[1:]) == (1, 8, 8):
            return HQKANClassifier.for_digits(**options)
        return HQKANClassifier(in_channels=task.x_train.shape[1], **options)
    return GPT(task.vocab_size, task.block_size, n_layer=config.n_layer, n_head=config.n_head, n_embd=config.n_embd,
               mlp=config.model, dropout=config.dropout, solver=config.solver, ansatz=config.ansatz,
               mlp_kwargs=config.model_kwargs or None, **reps)


def make_optimizer(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    params = [p for p in model.parameters() if p.requires_grad]
    if config.optimizer == "sgd":
        return torch.optim.SGD(params, lr=config.lr, momentum=0.9, weight_decay=config.weight_decay)
    optimizer = torch.optim.AdamW if config.optimizer == "adamw" else torch.optim.Adam
    return optimizer(params, lr=config.lr, weight_decay=config.weight_decay)


def make_schedule(optimizer: torch.optim.Optimizer, kind: str, total_steps: int) -> torch.optim.lr_scheduler.LambdaLR:
    """Constant, or cosine decay from the base rate to a tenth of it over the run."""
    if kind == "constant":
        return torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0)
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: 0.1 + 0.45 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps)))


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, shared tensors counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, batch_size: int, ctx: DistContext) -> dict[str, Optional[float]]:
    """Mean loss (and accuracy for classification) over the evaluation set, shared out over ranks."""
    was_training = model.training
    model.eval()
    loss_sum, correct, count = torch.zeros((), dtype=torch.float64, device=ctx.device), 0, 0
    for x, y in task.eval_batches(batch_size, ctx.rank, ctx.world):
        loss, n_correct = task.loss(model, x, y)
        loss_sum += loss.double() * x.shape[0]
        correct = correct if n_correct is None else correct + n_correct
        count += x.shape[0]
    totals = torch.stack([loss_sum, torch.as_tensor(correct, dtype=torch.float64, device=ctx.device),
                          torch.tensor(float(count), dtype=torch.float64, device=ctx.device)])
    model.train(was_training)
    loss_sum, correct, count = all_reduce_sum(totals, ctx).tolist()
    accuracy = correct / count if isinstance(task, ClassificationTask) else None
    return {"eval_loss": loss_sum / count, "eval_accuracy": accuracy}


def train_step(net: nn.Module, task: Task, optimizer: torch.optim.Optimizer, schedule: Any, config: TrainConfig,
               ctx: DistContext, step: int) -> float:
    """One optimiser step on this rank's share of global batch ``step``; returns the global mean loss."""
    x, y = task.batch(config.seed, step, config.batch_size, ctx.rank, ctx.world)
    loss, _ = task.loss(net, x, y)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if config.grad_clip:
        nn.utils.clip_grad_norm_(net.parameters(), config.grad_clip)
    optimizer.step()
    schedule.step()
    return all_reduce_sum(loss.detach(), ctx).item() / ctx.world


def train(config: TrainConfig) -> dict[str, Any]:
    """Run (or resume) training as configured; returns the summary written to metrics.json."""
    config.check()
    ctx = init_distributed(config.device)
    try:
        return _train(config, ctx)
    finally:
        shutdown(ctx)


def _train(config: TrainConfig, ctx: DistContext) -> dict[str, Any]:
    torch.manual_seed(config.seed)
    task = make_task(config.task, block_size=config.block_size, max_chars=config.max_chars,
                     data_dir=config.data_dir).to(ctx.device)
    model = build_model(config, task).to(ctx.device)
    optimizer = make_optimizer(config, model)
    per_epoch = task.steps_per_epoch(config.batch_size)
    total = config.steps or config.epochs * per_epoch
    schedule = make_schedule(optimizer, config.schedule, total)
    eval_every = config.eval_every or per_epoch
    out = Path(config.out)
    checkpoint_path = out / CHECKPOINT_NAME

    step, elapsed, history, evals = 0, 0.0, [], []
    if config.resume and checkpoint_path.is_file():
        state = load_checkpoint(checkpoint_path, model, optimizer, schedule,
                                expect={key: getattr(config, key) for key in RUN_IDENTITY})
        step, elapsed, history, evals = state["step"], state["elapsed_s"], state["history"], state["evals"]
    net = wrap_model(model, ctx)
    items = task.items_per_batch(config.batch_size)
    unit = "tok" if task.kind == "lm" else "img"
    bar = tqdm(total=total, initial=step, desc=f"{config.task}/{config.model}", unit="step",
               disable=not (ctx.is_main and config.progress))
    net.train()
    last_eval: dict[str, str] = {}
    while step < total:
        start = time.perf_counter()
        lr = optimizer.param_groups[0]["lr"]
        train_loss = train_step(net, task, optimizer, schedule, config, ctx, step)
        seconds = time.perf_counter() - start
        elapsed += seconds
        step += 1
        history.append({"step": step, "epoch": step / per_epoch, "train_loss": train_loss, "lr": lr,
                        "elapsed_s": elapsed, "items_per_s": items / seconds})
        postfix = {"loss": f"{train_loss:.4f}", f"{unit}/s": f"{items / seconds:,.0f}"}
        if step % eval_every == 0 or step == total:
            evals.append({"step": step, **evaluate(model, task, config.batch_size, ctx)})
            last_eval = {"eval": f"{evals[-1]['eval_loss']:.4f}"}
            if evals[-1]["eval_accuracy"] is not None:
                last_eval["acc"] = f"{evals[-1]['eval_accuracy']:.3f}"
            if ctx.is_main:
                save_checkpoint(checkpoint_path, model, optimizer, schedule, step,
                                {"elapsed_s": elapsed, "history": history, "evals": evals,
                                 "config": asdict(config)})
        bar.set_postfix(**postfix, **last_eval, refresh=False)
        bar.update(1)
    bar.close()
    summary = {"config": asdict(config), "task": task.info, "parameters": count_parameters(model), "steps": step,
               "world_size": ctx.world, "device": str(ctx.device), "train_seconds": elapsed,
               "final_train_loss": history[-1]["train_loss"] if history else None, **(evals[-1] if evals else {})}
    if ctx.is_main:
        paths = write_metrics(out, summary, history, evals)
        summary["files"] = {k: str(v) for k, v in paths.items()}
        if config.plot:
            summary["files"]["plot"] = str(plot_metrics(out / "metrics.png", history, evals,
                                                        f"{config.task} / {config.model}"))
    summary["history"], summary["evals"] = history, evals
    return summary
