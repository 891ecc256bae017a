"""``qkan train``: train an HQKAN model or a classical baseline on a bundled task from the command line.
The same command under ``torchrun --nproc_per_node N`` trains with DistributedDataParallel."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields
from typing import Any

from .config import AMP_DTYPES, COMPILE_MODES, MODELS, OPTIMIZERS, SCHEDULES, TrainConfig
from .tasks import TASK_NAMES
from .trainer import first_line, train


def _json_object(text: str) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"grid\": 8}}', got {text!r}")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan train`` options (defaults from TrainConfig) to ``parser``."""
    d = TrainConfig()
    parser.add_argument(
        "--task",
        choices=TASK_NAMES,
        default=d.task,
        help="digits (scikit-learn 8x8), stdlib (character LM on the Python standard library), "
        "cifar10/cifar100 (local files under --data-dir)",
    )
    parser.add_argument(
        "--model",
        choices=MODELS,
        default=d.model,
        help="hqkan, or the classical block in its place (classifier head / GPT feed-forward)",
    )
    parser.add_argument("--solver", default=d.solver, help="QKAN solver: exact, flash, cutn or auto")
    parser.add_argument("--ansatz", default=d.ansatz, help="built-in ansatz: pz, rpz, real, px, mix")
    parser.add_argument("--reps", type=int, default=d.reps, help="re-uploads (default: 3 in the head, 1 in HQKAN)")
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer)
    parser.add_argument("--lr", type=float, default=d.lr)
    parser.add_argument("--weight-decay", type=float, default=d.weight_decay)
    parser.add_argument("--schedule", choices=SCHEDULES, default=d.schedule)
    parser.add_argument("--grad-clip", type=float, default=d.grad_clip)
    parser.add_argument("--epochs", type=int, default=d.epochs)
    parser.add_argument("--steps", type=int, default=d.steps, help="total steps (overrides --epochs)")
    parser.add_argument("--batch-size", type=int, default=d.batch_size, help="global batch (split over DDP ranks)")
    parser.add_argument("--seed", type=int, default=d.seed)
    parser.add_argument("--device", default=d.device, help="cpu, cuda, cuda:N or auto (default)")
    parser.add_argument("--out", default=d.out, help="folder for checkpoint.pt, metrics.json/.csv, metrics.png")
    parser.add_argument("--eval-every", type=int, default=d.eval_every, help="steps (default: once per epoch)")
    parser.add_argument("--resume", action="store_true", help="continue from OUT/checkpoint.pt when present")
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--no-plot", dest="plot", action="store_false", help="no metrics.png")
    lm = parser.add_argument_group("language model (--task stdlib)")
    lm.add_argument("--block-size", type=int, default=d.block_size)
    lm.add_argument("--n-layer", type=int, default=d.n_layer)
    lm.add_argument("--n-head", type=int, default=d.n_head)
    lm.add_argument("--n-embd", type=int, default=d.n_embd)
    lm.add_argument("--dropout", type=float, default=d.dropout)
    lm.add_argument("--max-chars", type=int, default=d.max_chars, help="use only the first N characters of text")
    parser.add_argument(
        "--data-dir",
        default=d.data_dir,
        help="folder holding cifar-10-batches-py / cifar-100-python (default: $QKAN_DATA or ./data)",
    )
    parser.add_argument(
        "--model-kwargs",
        type=_json_object,
        default={},
        help="JSON options for the head/feed-forward, e.g. '{\"grid\": 8}'",
    )
    speed = parser.add_argument_group("speed")
    speed.add_argument("--compile", action="store_true", help="torch.compile the model")
    speed.add_argument(
        "--compile-mode", choices=COMPILE_MODES, default=d.compile_mode, help="torch.compile mode (with --compile)"
    )
    speed.add_argument(
        "--amp",
        choices=tuple(AMP_DTYPES),
        default=d.amp,
        help="mixed precision: torch.autocast around forward and loss (fp16 adds a GradScaler; CUDA)",
    )
    speed.add_argument(
        "--graphed",
        action="store_true",
        help="capture the whole train step as one CUDA graph and replay it (CUDA, one process)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def run(args: argparse.Namespace) -> int:
    """Train as the parsed arguments say; print the final metrics (main process only). A bad option or
    combination prints one line on stderr and returns 2; a failure while running prints one and returns 1."""
    try:
        summary = train(config_from_args(args))
    except (ValueError, TypeError) as err:
        print(f"qkan train: error: {first_line(err)}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as err:
        print(f"qkan train: error: {first_line(err)}", file=sys.stderr)
        return 1
    if summary.get("files"):
        brief = {k: v for k, v in summary.items() if k not in ("history", "evals", "config")}
        print(json.dumps(brief, indent=1))
    return 0


def main(argv: Any = None) -> int:
    """Entry point for ``python -m qkan.training.cli`` (what torchrun launches without the qkan script)."""
    from ..plotting import use_file_backend

    use_file_backend()
    return run(configure_parser(argparse.ArgumentParser(prog="qkan train")).parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
