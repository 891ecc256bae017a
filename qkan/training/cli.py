"""``qkan train``: train an HQKAN model or a classical baseline on a bundled task from the command line.
The same command under ``torchrun --nproc_per_node N`` trains with DistributedDataParallel."""

from __future__ import annotations

import argparse
import json
from dataclasses import fields
from pathlib import Path
from typing import Any, Optional, Sequence, Union

from qkan.solvers import solver_names

from ..cli_args import Parser, device_or_auto, nonnegative_float, positive_float, positive_int, ranged, trainable_ansatz
from ..cli_errors import add_debug_flag, run_guarded
from .checkpoint import read_checkpoint
from .config import AMP_DTYPES, COMPILE_MODES, MODELS, OPTIMIZERS, SCHEDULES, TrainConfig
from .runs import CHECKPOINT_NAME, resumed_config
from .tasks import TASK_NAMES
from .trainer import train

GIVEN = "given_options"  # the namespace attribute naming the options typed on the command line


class _Recording(argparse.Action):
    """An action that also adds its option to the namespace's GIVEN set: on --resume, only the options
    typed on the command line replace the checkpoint's (the rest are its values, not our defaults)."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Union[str, Sequence[Any], None],
        option_string: Optional[str] = None,
    ) -> None:
        super().__call__(parser, namespace, values, option_string)
        setattr(namespace, GIVEN, {*getattr(namespace, GIVEN, ()), self.dest})


class _Store(_Recording, argparse._StoreAction):
    pass


class _StoreTrue(_Recording, argparse._StoreTrueAction):
    pass


class _StoreFalse(_Recording, argparse._StoreFalseAction):
    pass


def _json_object(text: str) -> dict[str, Any]:
    """An argument type: a JSON object (the --model-kwargs options)."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not valid JSON ({err}): {text!r}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"expected a JSON object such as '{{\"grid\": 8}}', got {text!r}")
    return value


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan train`` options (defaults from TrainConfig) to ``parser``; unknown names and
    out-of-range numbers are refused here."""
    d = TrainConfig()
    for name, action in ((None, _Store), ("store", _Store), ("store_true", _StoreTrue), ("store_false", _StoreFalse)):
        parser.register("action", name, action)  # None: an add_argument without action=
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
    parser.add_argument("--solver", choices=solver_names(), default=d.solver, help="QKAN solver")
    parser.add_argument(
        "--ansatz",
        type=trainable_ansatz,
        default=d.ansatz,
        help="built-in ansatz: pz, rpz, real or mix; px is refused (its arccos encoding needs inputs in [-1, 1], "
        "which the hidden features do not keep)",
    )
    parser.add_argument(
        "--reps", type=positive_int, default=d.reps, help="re-uploads (default: 3 in the head, 1 in HQKAN)"
    )
    parser.add_argument("--optimizer", choices=OPTIMIZERS, default=d.optimizer, help="optimizer")
    parser.add_argument("--lr", type=positive_float, default=d.lr, help="peak learning rate")
    parser.add_argument("--weight-decay", type=nonnegative_float, default=d.weight_decay, help="weight decay")
    parser.add_argument("--schedule", choices=SCHEDULES, default=d.schedule, help="learning-rate schedule")
    parser.add_argument(
        "--grad-clip", type=positive_float, default=d.grad_clip, help="max gradient norm (default: no clipping)"
    )
    parser.add_argument("--epochs", type=positive_int, default=d.epochs, help="passes over the training data")
    parser.add_argument(
        "--steps", type=positive_int, default=d.steps, help="total steps, overriding --epochs (default: from --epochs)"
    )
    parser.add_argument(
        "--batch-size", type=positive_int, default=d.batch_size, help="global batch (split over DDP ranks)"
    )
    parser.add_argument("--seed", type=ranged(int, 0), default=d.seed, help="random seed")
    parser.add_argument(
        "--device", type=device_or_auto, default=d.device, help="cpu, cuda, cuda:N or auto (the default)"
    )
    parser.add_argument("--out", default=d.out, help="folder for checkpoint.pt, metrics.json/.csv, metrics.png")
    parser.add_argument(
        "--eval-every",
        type=positive_int,
        default=d.eval_every,
        help="steps between evaluations (default: once per epoch)",
    )
    parser.add_argument(
        "--resume",
        action="store_true",
        help="continue the run in OUT from its checkpoint.pt; options not given keep the checkpoint's values",
    )
    parser.add_argument(
        "--overwrite",
        action="store_true",
        help="start over in an OUT that holds a run (deletes its checkpoint/metrics)",
    )
    parser.add_argument(
        "--override-config",
        action="store_true",
        help="with --resume, let given options replace differing checkpoint values (recorded in metrics.json)",
    )
    parser.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    parser.add_argument("--no-plot", dest="plot", action="store_false", help="no metrics.png")
    lm = parser.add_argument_group("language model (--task stdlib)")
    lm.add_argument("--block-size", type=positive_int, default=d.block_size, help="context length (characters)")
    lm.add_argument("--n-layer", type=positive_int, default=d.n_layer, help="transformer blocks")
    lm.add_argument("--n-head", type=positive_int, default=d.n_head, help="attention heads")
    lm.add_argument("--n-embd", type=positive_int, default=d.n_embd, help="embedding width")
    lm.add_argument("--dropout", type=ranged(float, 0.0, 1.0), default=d.dropout, help="dropout probability")
    lm.add_argument(
        "--max-chars", type=positive_int, default=d.max_chars, help="use only the first N characters (default: all)"
    )
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
        help="mixed precision: torch.autocast around forward and loss (fp16 adds a GradScaler; CUDA; default: off)",
    )
    speed.add_argument(
        "--graphed",
        action="store_true",
        help="capture the whole train step as one CUDA graph and replay it (CUDA, one process)",
    )
    return parser


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The TrainConfig the parsed options describe."""
    return TrainConfig(**{f.name: getattr(args, f.name) for f in fields(TrainConfig)})


def run(args: argparse.Namespace) -> int:
    """Train as the parsed arguments say; print the final metrics (main process only)."""
    config = config_from_args(args)
    checkpoint = Path(config.out) / CHECKPOINT_NAME
    if config.resume and checkpoint.is_file():
        saved = read_checkpoint(checkpoint).get("config", {})
        config = resumed_config(config, saved, set(getattr(args, GIVEN, ())))
    summary = train(config)
    if summary.get("files"):
        brief = {k: v for k, v in summary.items() if k not in ("history", "evals", "config")}
        print(json.dumps(brief, indent=1))
    return 0


def main(argv: Any = None) -> int:
    """Entry point for ``python -m qkan.training.cli`` (what torchrun launches without the qkan script): the
    options of ``qkan train`` and ``--debug``."""
    from ..plotting import use_file_backend

    use_file_backend()
    parser = configure_parser(Parser(prog="qkan train"))
    add_debug_flag(parser)
    return run_guarded(parser.prog, run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
