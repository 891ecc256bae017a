"""The ``qkan`` command line: ``qkan fit`` (the 1-D example) and the other subcommands."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence


def _fit(args: argparse.Namespace) -> int:
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="qkan", description="Quantum-inspired KAN toolkit")
    sub = parser.add_subparsers(dest="command", required=True)
    fit = sub.add_parser("fit", help="train QKAN([1,1]) on sin(20x)/(20x) and plot the fit")
    fit.add_argument("--steps", type=int, default=100)
    fit.add_argument("--lr", type=float, default=1e-2)
    fit.add_argument("--solver", default="exact")
    fit.add_argument("--ansatz", default="pz")
    fit.add_argument("--reps", type=int, default=3)
    fit.add_argument("--seed", type=int, default=0)
    fit.add_argument("--device", default="cpu")
    fit.add_argument("--out", default="runs/fit", help="folder for fit.png and history.json")
    fit.set_defaults(handler=_fit)

    from .bench.cli import configure_parser as configure_bench
    from .bench.cli import run as run_bench_cli

    bench = sub.add_parser("bench", help="time solvers x ansatzes (and baselines), or the GPT mode table")
    configure_bench(bench)
    bench.set_defaults(handler=run_bench_cli)

    from .training.cli import configure_parser as configure_train
    from .training.cli import run as run_train

    train = sub.add_parser("train", help="train a model (HQKAN, baselines, GPT) on digits, text or CIFAR")
    configure_train(train)
    train.set_defaults(handler=run_train)

    from .quant.cli import configure_parser as configure_quant
    from .quant.cli import run as run_quant

    quant = sub.add_parser("quant", help="post-training quantisation and QAT report on the digits task")
    configure_quant(quant)
    quant.set_defaults(handler=run_quant)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    from .plotting import use_file_backend

    args = build_parser().parse_args(argv)
    use_file_backend()  # the subcommands write figures to files: no window needed where none can open
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
