"""The training loop behind ``qkan train``: builds the task and model from a TrainConfig, trains with
tqdm progress, evaluates, checkpoints (resume continues the same curve), writes metrics and a plot,
and runs unchanged under ``torchrun`` (DDP)."""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Callable, Optional, Union, cast

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..models import GPT, HQKANClassifier
from .checkpoint import read_checkpoint, restore_checkpoint, save_checkpoint
from .config import AMP_DTYPES, TrainConfig
from .ddp import DistContext, all_reduce_sum, init_distributed, shutdown, wrap_model
from .metrics import plot_metrics, write_metrics
from .runs import CHECKPOINT_NAME, config_overrides, prepare_run_folder
from .tasks import ClassificationTask, Task, make_task


def build_model(config: TrainConfig, task: Task) -> nn.Module:
    """The HQKAN classifier (digits variant for 8x8 input) or the GPT, with the configured block."""
    quantum = config.model == "hqkan"
    reps: dict[str, Any] = {} if config.reps is None else {"reps": config.reps}
    if isinstance(task, ClassificationTask):
        options: dict[str, Any] = dict(
            n_classes=task.n_classes,
            head="qkan" if quantum else config.model,
            solver=config.solver,
            ansatz=config.ansatz,
            head_kwargs=config.model_kwargs or None,
            **reps,
        )
        if tuple(task.x_train.shape[1:]) == (1, 8, 8):
            return HQKANClassifier.for_digits(**options)
        return HQKANClassifier(in_channels=task.x_train.shape[1], **options)
    return GPT(
        task.vocab_size,
        task.block_size,
        n_layer=config.n_layer,
        n_head=config.n_head,
        n_embd=config.n_embd,
        mlp=config.model,
        dropout=config.dropout,
        solver=config.solver,
        ansatz=config.ansatz,
        mlp_kwargs=config.model_kwargs or None,
        **reps,
    )


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
        optimizer, lambda step: 0.1 + 0.45 * (1 + math.cos(math.pi * min(step, total_steps) / total_steps))
    )


def count_parameters(model: nn.Module) -> int:
    """Trainable parameters, shared tensors counted once."""
    return sum(p.numel() for p in {id(p): p for p in model.parameters() if p.requires_grad}.values())


@torch.no_grad()
def evaluate(model: nn.Module, task: Task, batch_size: int, ctx: DistContext) -> dict[str, Optional[float]]:
    """Mean loss (and accuracy for classification) over the evaluation set, shared out over ranks."""
    was_training = model.training
    model.eval()
    loss_sum, count = torch.zeros((), dtype=torch.float64, device=ctx.device), 0
    correct: Union[int, torch.Tensor] = 0
    for x, y in task.eval_batches(batch_size, ctx.rank, ctx.world):
        loss, n_correct = task.loss(model, x, y)
        loss_sum += loss.double() * x.shape[0]
        correct = correct if n_correct is None else correct + n_correct
        count += x.shape[0]
    totals = torch.stack(
        [
            loss_sum,
            torch.as_tensor(correct, dtype=torch.float64, device=ctx.device),
            torch.tensor(float(count), dtype=torch.float64, device=ctx.device),
        ]
    )
    model.train(was_training)
    loss_sum, correct, count = all_reduce_sum(totals, ctx).tolist()
    accuracy = correct / count if isinstance(task, ClassificationTask) else None
    return {"eval_loss": loss_sum / count, "eval_accuracy": accuracy}


def first_line(err: BaseException) -> str:
    """An exception's message on one line (its first), or its type's name when it has none."""
    return (str(err).strip().splitlines() or [type(err).__name__])[0]


def graph_loss(output: Any, y: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of a classifier's logits (B, C) or a language model's (logits (B, T, V), _)."""
    logits = output[0] if isinstance(output, tuple) else output
    return F.cross_entropy(logits.flatten(0, -2), y.flatten())


def speed_options(config: TrainConfig) -> str:
    """The active --compile/--amp/--graphed options, as a command line would spell them ("eager" if none)."""
    parts = [
        f"--compile --compile-mode {config.compile_mode}" if config.compile else "",
        f"--amp {config.amp}" if config.amp else "",
        "--graphed" if config.graphed else "",
    ]
    return " ".join(p for p in parts if p) or "eager"


class StepRunner:
    """One optimiser step on a batch, returning the loss tensor: eager (on a compiled net, under autocast,
    with fp16 loss scaling, as configured) or, with ``graphed``, a replay of the whole step captured as a
    CUDA graph on the first batch (qkan.make_graphed_train_step). A failure of the first step names the
    options, model and solver."""

    def __init__(
        self, net: nn.Module, task: Task, optimizer: torch.optim.Optimizer, config: TrainConfig, device: torch.device
    ):
        self.net, self.task, self.optimizer, self.config, self.device = net, task, optimizer, config, device
        self.scaler = torch.amp.GradScaler(device.type) if config.amp == "fp16" else None
        self.graphed: Optional[Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = None
        self.steps = 0

    def __call__(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        self.steps += 1
        if self.steps > 1:
            return self._step(x, y)
        try:
            return self._step(x, y)
        except Exception as err:  # noqa: BLE001 - compile, autocast and capture fail in many types; one line names them
            raise RuntimeError(
                f"{speed_options(self.config)} failed on the first step of model "
                f"{self.config.model} (solver {self.config.solver}): "
                f"{first_line(err)}"
            ) from err

    def _step(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        if self.config.graphed:
            if self.graphed is None:
                from ..graphs import make_graphed_train_step

                self.graphed = make_graphed_train_step(
                    self.net,
                    graph_loss,
                    self.optimizer,
                    x,
                    y,
                    autocast=AMP_DTYPES[self.config.amp] if self.config.amp else None,
                    grad_clip=self.config.grad_clip,
                )
            return self.graphed(x, y)
        amp_context = (
            torch.autocast(self.device.type, dtype=AMP_DTYPES[self.config.amp])
            if self.config.amp
            else contextlib.nullcontext()
        )
        with amp_context:
            loss, _ = self.task.loss(self.net, x, y)
        self.optimizer.zero_grad(set_to_none=True)
        if self.scaler is not None:
            self.scaler.scale(loss).backward()
            if self.config.grad_clip:
                self.scaler.unscale_(self.optimizer)
                nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
            self.scaler.step(self.optimizer)
            self.scaler.update()
            return loss
        loss.backward()
        if self.config.grad_clip:
            nn.utils.clip_grad_norm_(self.net.parameters(), self.config.grad_clip)
        self.optimizer.step()
        return loss

    def state_dict(self) -> Optional[dict[str, Any]]:
        """The GradScaler's state (fp16), for the checkpoint; None otherwise."""
        return None if self.scaler is None else self.scaler.state_dict()

    def load_state_dict(self, state: Optional[dict[str, Any]]) -> None:
        if self.scaler is not None and state:
            self.scaler.load_state_dict(state)


def train_step(
    runner: StepRunner, task: Task, schedule: Any, config: TrainConfig, ctx: DistContext, step: int
) -> float:
    """One optimiser step on this rank's share of global batch ``step``; returns the global mean loss."""
    x, y = task.batch(config.seed, step, config.batch_size, ctx.rank, ctx.world)
    loss = runner(x, y)
    schedule.step()
    return all_reduce_sum(loss.detach().float(), ctx).item() / ctx.world


def _float_learning_rates(optimizer: torch.optim.Optimizer) -> None:
    """A graphed run keeps its learning rates as device tensors (qkan.graphs.prepare_for_capture); a run that
    resumes its checkpoint gets plain floats back (a graphed one converts them again)."""
    for group in optimizer.param_groups:
        if torch.is_tensor(group["lr"]):
            group["lr"] = float(group["lr"])


def resume_run(
    config: TrainConfig, path: Path, model: nn.Module, optimizer: torch.optim.Optimizer, schedule: Any
) -> dict[str, Any]:
    """Restore the checkpoint at ``path`` after checking ``config`` against the config it was saved with
    (runs.config_overrides); overridden rates take effect at once. Returns the checkpoint, its "overrides"
    extended by this resume's."""
    state = read_checkpoint(path)
    overrides = config_overrides(config, state.get("config", {}), state["step"])
    restore_checkpoint(state, model, optimizer, schedule)
    _float_learning_rates(optimizer)
    if overrides:  # the optimiser and schedule states hold the checkpoint's rates
        schedule.base_lrs = [config.lr for _ in optimizer.param_groups]
        for group, factor in zip(optimizer.param_groups, schedule.lr_lambdas):
            lr = config.lr * factor(schedule.last_epoch)
            group.update(initial_lr=config.lr, lr=lr, weight_decay=config.weight_decay)
    state["overrides"] = [*state.get("overrides", []), *overrides]
    return state


def train(config: TrainConfig) -> dict[str, Any]:
    """Run (or resume) training as configured; returns the summary written to metrics.json."""
    config.check()
    ctx = init_distributed(config.device)
    try:
        config.check_device(ctx.device, ctx.world)
        prepare_run_folder(config, ctx.is_main)
        return _train(config, ctx)
    finally:
        shutdown(ctx)


def _train(config: TrainConfig, ctx: DistContext) -> dict[str, Any]:
    torch.manual_seed(config.seed)
    task = make_task(
        config.task, block_size=config.block_size, max_chars=config.max_chars, data_dir=config.data_dir
    ).to(ctx.device)
    model = build_model(config, task).to(ctx.device)
    optimizer = make_optimizer(config, model)
    per_epoch = task.steps_per_epoch(config.batch_size)
    total = config.steps or config.epochs * per_epoch
    schedule = make_schedule(optimizer, config.schedule, total)
    eval_every = config.eval_every or per_epoch
    out = Path(config.out)

    state: dict[str, Any] = {"step": 0, "elapsed_s": 0.0, "history": [], "evals": [], "overrides": []}
    if config.resume:
        state = resume_run(config, out / CHECKPOINT_NAME, model, optimizer, schedule)
    step, elapsed, history, evals = state["step"], state["elapsed_s"], state["history"], state["evals"]
    net = wrap_model(model, ctx)
    if config.compile:
        net = cast(nn.Module, torch.compile(net, mode=config.compile_mode))  # a Module's compile is a Module
    runner = StepRunner(net, task, optimizer, config, ctx.device)
    runner.load_state_dict(state.get("grad_scaler"))

    def summary() -> dict[str, Any]:
        return {
            "config": asdict(config),
            "task": task.info,
            "parameters": count_parameters(model),
            "steps": step,
            "complete": step >= total,
            "overrides": state["overrides"],
            "world_size": ctx.world,
            "device": str(ctx.device),
            "train_seconds": elapsed,
            "final_train_loss": history[-1]["train_loss"] if history else None,
            **(evals[-1] if evals else {}),
        }

    def checkpoint() -> None:
        """Save where the run stands (main process), so that it can be resumed from here."""
        extra = {"elapsed_s": elapsed, "history": history, "evals": evals, "config": asdict(config)}
        extra.update(grad_scaler=runner.state_dict(), overrides=state["overrides"])
        save_checkpoint(out / CHECKPOINT_NAME, model, optimizer, schedule, step, extra)

    items = task.items_per_batch(config.batch_size)
    unit = "tok" if task.kind == "lm" else "img"
    bar = tqdm(
        total=total,
        initial=step,
        desc=f"{config.task}/{config.model}",
        unit="step",
        disable=not (ctx.is_main and config.progress),
    )
    net.train()
    last_eval: dict[str, str] = {}
    while step < total:
        start = time.perf_counter()
        lr = float(optimizer.param_groups[0]["lr"])
        train_loss = train_step(runner, task, schedule, config, ctx, step)
        seconds = time.perf_counter() - start
        elapsed += seconds
        step += 1
        history.append(
            {
                "step": step,
                "epoch": step / per_epoch,
                "train_loss": train_loss,
                "lr": lr,
                "elapsed_s": elapsed,
                "items_per_s": items / seconds,
            }
        )
        postfix = {"loss": f"{train_loss:.4f}", f"{unit}/s": f"{items / seconds:,.0f}"}
        if step % eval_every == 0 or step == total:
            evals.append({"step": step, **evaluate(model, task, config.batch_size, ctx)})
            last_eval = {"eval": f"{evals[-1]['eval_loss']:.4f}"}
            if evals[-1]["eval_accuracy"] is not None:
                last_eval["acc"] = f"{evals[-1]['eval_accuracy']:.3f}"
            if ctx.is_main:  # the checkpoint first: the metrics never run ahead of what a resume restores
                checkpoint()
                write_metrics(out, summary(), history, evals)
        bar.set_postfix(**postfix, **last_eval, refresh=False)
        bar.update(1)
    bar.close()
    result = summary()
    if ctx.is_main:
        result["files"] = {k: str(v) for k, v in write_metrics(out, result, history, evals).items()}
        if config.plot:
            result["files"]["plot"] = str(
                plot_metrics(out / "metrics.png", history, evals, f"{config.task} / {config.model}")
            )
    result["history"], result["evals"] = history, evals
    return result
