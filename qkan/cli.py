"""The ``qkan`` command line: ``qkan fit`` (the 1-D example) and the other subcommands."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Optional, Sequence


def _fit(args: argparse.Namespace) -> int:
    from .fit_demo import run_fit_demo

    summary = run_fit_demo(steps=args.steps, lr=args.lr, solver=args.solver, ansatz=args.ansatz, reps=args.reps,
                           seed=args.seed, out_dir=args.out, device=args.device)
    print(json.dumps(summary, indent=1))
    return 0


def _bench(args: argparse.Namespace) -> int:
    from .bench import run_bench, to_markdown, write_outputs

    device = args.device or ("cuda" if __import__("torch").cuda.is_available() else "cpu")
    records = run_bench(cases=args.cases, solvers=args.solvers, ansatzes=args.ansatz, baselines=args.baselines,
                        device=device, repeats=args.repeats, loss_steps=args.loss_steps, tiny=args.tiny,
                        graphed=args.graphed)
    print(to_markdown(records))
    skipped = [r for r in records if r.note.startswith("skipped")]
    for r in skipped:
        print(f"{r.case}/{r.solver or r.model}: {r.note}")
    paths = write_outputs(records, args.out, device)
    print(f"wrote {paths['markdown']}, {paths['json']}, {paths['plot']}")
    return 0


def _csv(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


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

    bench = sub.add_parser("bench", help="time solvers x ansatzes (and baselines) on the published cases")
    bench.add_argument("--cases", type=_csv, default=None,
                       help="comma list of fit1d,wide,huge,hqkan,gpt (default: by device)")
    bench.add_argument("--solvers", type=_csv, default=["exact", "flash", "cutn"])
    bench.add_argument("--ansatz", type=_csv, default=["pz"],
                       help="comma list of built-in names or path.py:NAME (a Circuit or a function of reps)")
    bench.add_argument("--baselines", type=_csv, default=[], help="comma list of classical baselines to add")
    bench.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    bench.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median)")
    bench.add_argument("--loss-steps", type=int, default=None,
                       help="Adam steps for the loss column (default: the case's, at most 5 on CPU)")
    bench.add_argument("--tiny", action="store_true", help="every case at tiny sizes (a quick smoke run)")
    bench.add_argument("--graphed", action="store_true",
                       help="also time the train step captured as a CUDA graph (qkan.make_graphed_train_step)")
    bench.add_argument("--out", default="runs/bench", help="folder for bench.md, bench.json and bench.png")
    bench.set_defaults(handler=_bench)

    from .training.cli import configure_parser as configure_train, run as run_train

    train = sub.add_parser("train", help="train a model (HQKAN, baselines, GPT) on digits, text or CIFAR")
    configure_train(train)
    train.set_defaults(handler=run_train)

    from .quant.cli import configure_parser as configure_quant, run as run_quant

    quant = sub.add_parser("quant", help="post-training quantisation and QAT report on the digits task")
    configure_quant(quant)
    quant.set_defaults(handler=run_quant)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
