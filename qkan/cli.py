"""The ``qkan`` command line: ``qkan fit`` (the 1-D example), ``bench``, ``train`` and ``quant``. Every
subcommand refuses bad options up front and reports an error as one line (exit 2 for usage, 1 for a failure;
``--debug`` adds the traceback)."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Optional, Sequence

import torch

from . import __version__
from .bench.cli import configure_parser as configure_bench
from .bench.cli import run as run_bench
from .cli_args import Parser, device_name, positive_float, positive_int, ranged, trainable_ansatz
from .cli_errors import add_debug_flag, run_guarded
from .quant.cli import configure_parser as configure_quant
from .quant.cli import run as run_quant
from .training.cli import configure_parser as configure_train
from .training.cli import run as run_train

EPILOG = (
    "Errors print one line on stderr, 'qkan CMD: error: ...', and exit with 2 (bad options or combinations) "
    "or 1 (a failure while running); --debug (before or after CMD) prints the traceback too."
)
MAX_DEFAULT_THREADS = 16  # more intra-op threads rarely help these sizes and oversubscribe shared machines


def configure_fit(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan fit`` options to ``parser``."""
    from qkan.solvers import solver_names

    parser.add_argument("--steps", type=positive_int, default=100, help="Adam steps")
    parser.add_argument("--lr", type=positive_float, default=1e-2, help="learning rate")
    parser.add_argument("--solver", choices=solver_names(), default="exact", help="QKAN solver")
    parser.add_argument(
        "--ansatz",
        type=trainable_ansatz,
        default="pz",
        help="built-in ansatz: pz, rpz, real or mix; px is refused (its arccos encoding needs w*x+c in [-1, 1], "
        "which the trained pre-activations leave)",
    )
    parser.add_argument("--reps", type=positive_int, default=3, help="re-uploads")
    parser.add_argument("--seed", type=ranged(int, 0), default=0, help="random seed (data and weights)")
    parser.add_argument("--device", type=device_name, default="cpu", help="torch device: cpu, cuda, cuda:N")
    parser.add_argument("--out", default="runs/fit", help="folder for fit.png and history.json")
    return parser


def run_fit(args: argparse.Namespace) -> int:
    """Train and plot the 1-D example; print its summary as JSON."""
    from .fit_demo import run_fit_demo

    summary = run_fit_demo(
        steps=args.steps,
        lr=args.lr,
        solver=args.solver,
        ansatz=args.ansatz,
        reps=args.reps,
        seed=args.seed,
        out_dir=args.out,
        device=args.device,
    )
    print(json.dumps(summary, indent=1))
    return 0


SUBCOMMANDS = (
    ("fit", "train QKAN([1,1]) on sin(20x)/(20x) and plot the fit", configure_fit, run_fit),
    ("bench", "time solvers x ansatzes (and baselines), or the GPT mode table", configure_bench, run_bench),
    ("train", "train a model (HQKAN, baselines, GPT) on digits, text or CIFAR", configure_train, run_train),
    ("quant", "post-training quantisation and QAT report on the digits task", configure_quant, run_quant),
)


def build_parser() -> argparse.ArgumentParser:
    """The ``qkan`` parser with its subcommands; each sets ``handler`` to the function that runs it."""
    parser = Parser(prog="qkan", description="Quantum-inspired KAN toolkit", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"qkan {__version__}")
    parser.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="torch CPU threads (default: OMP_NUM_THREADS if set, else the CPUs this process may use, at most "
        f"{MAX_DEFAULT_THREADS})",
    )
    add_debug_flag(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    for name, summary, configure, handler in SUBCOMMANDS:
        command = sub.add_parser(name, help=summary, description=summary, epilog=EPILOG)
        configure(command)
        add_debug_flag(command, subcommand=True)
        command.set_defaults(handler=handler)
    return parser


def available_cpus() -> int:
    """The CPUs this process may run on (its affinity mask where the OS has one, else every CPU)."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def apply_threads(requested: Optional[int]) -> int:
    """Set torch's CPU thread count for this command, so a busy machine is not oversubscribed: ``requested``
    (``--threads``), else OMP_NUM_THREADS's (torch already follows it), else :func:`available_cpus` capped at
    MAX_DEFAULT_THREADS. Returns the count in effect."""
    if requested is None and os.environ.get("OMP_NUM_THREADS"):
        return torch.get_num_threads()
    count = requested if requested is not None else min(available_cpus(), MAX_DEFAULT_THREADS)
    torch.set_num_threads(count)
    return count


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Parse the command line and run its subcommand; returns the exit status."""
    from .plotting import use_file_backend

    args = build_parser().parse_args(argv)
    use_file_backend()  # the subcommands write figures to files: no window needed where none can open
    apply_threads(args.threads)
    return run_guarded(f"qkan {args.command}", args.handler, args)


if __name__ == "__main__":
    sys.exit(main())
