"""``qkan bench`` options and runner: the solver table over the named cases, or with ``--gpt-modes`` the
GPT-2-small train step in eager/compile/bf16/compile+bf16 against the Linear-bottleneck floor."""

from __future__ import annotations

import argparse
import sys
from typing import Optional, Sequence

import torch

from ..training.trainer import first_line
from .cases import CASE_NAMES
from .gpt_modes import MODES, VARIANTS, gpt_modes_markdown, run_gpt_modes, write_gpt_modes
from .report import to_markdown, write_outputs
from .runner import run_bench


def _csv(text: str) -> list[str]:
    return [t for t in text.split(",") if t]


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan bench`` options to ``parser``."""
    parser.add_argument(
        "--cases", type=_csv, default=None, help=f"comma list of {','.join(CASE_NAMES)} (default: by device)"
    )
    parser.add_argument("--solvers", type=_csv, default=["exact", "flash", "cutn"])
    parser.add_argument(
        "--ansatz",
        type=_csv,
        default=["pz"],
        help="comma list of built-in names or path.py:NAME (a Circuit or a function of reps)",
    )
    parser.add_argument("--baselines", type=_csv, default=[], help="comma list of classical baselines to add")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--repeats", type=int, default=5, help="timed repeats per measurement (median)")
    parser.add_argument(
        "--loss-steps",
        type=int,
        default=None,
        help="Adam steps for the loss column (default: the case's, at most 5 on CPU)",
    )
    parser.add_argument("--tiny", action="store_true", help="every case at tiny sizes (a quick smoke run)")
    parser.add_argument(
        "--graphed",
        action="store_true",
        help="also time the train step captured as a CUDA graph (qkan.make_graphed_train_step)",
    )
    parser.add_argument("--out", default="runs/bench", help="folder for the tables, JSON and plot")
    gpt = parser.add_argument_group("GPT mode table (--gpt-modes)")
    gpt.add_argument(
        "--gpt-modes",
        action="store_true",
        help="time the GPT-2-small train step per feed-forward and mode instead (gpt_modes.md/.json)",
    )
    gpt.add_argument("--variants", type=_csv, default=list(VARIANTS), help=f"comma list of {','.join(VARIANTS)}")
    gpt.add_argument("--modes", type=_csv, default=list(MODES), help=f"comma list of {','.join(MODES)}")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the bench the parsed arguments ask for, print its table and where the files went. A bad option
    prints one line on stderr and returns 2; a failure while running prints one and returns 1."""
    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    try:
        if args.gpt_modes:
            modes = run_gpt_modes(args.variants, args.modes, device, tiny=args.tiny, repeats=args.repeats)
            print(gpt_modes_markdown(modes))
            paths = write_gpt_modes(modes, args.out, device, tiny=args.tiny)
            print(f"wrote {paths['markdown']}, {paths['json']}")
            return 0
        records = run_bench(
            cases=args.cases,
            solvers=args.solvers,
            ansatzes=args.ansatz,
            baselines=args.baselines,
            device=device,
            repeats=args.repeats,
            loss_steps=args.loss_steps,
            tiny=args.tiny,
            graphed=args.graphed,
        )
    except (ValueError, TypeError) as err:
        print(f"qkan bench: error: {first_line(err)}", file=sys.stderr)
        return 2
    except (RuntimeError, OSError) as err:
        print(f"qkan bench: error: {first_line(err)}", file=sys.stderr)
        return 1
    print(to_markdown(records))
    for r in records:
        if r.note.startswith("skipped"):
            print(f"{r.case}/{r.solver or r.model}: {r.note}")
    paths = write_outputs(records, args.out, device)
    print(f"wrote {paths['markdown']}, {paths['json']}, {paths['plot']}")
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for ``python -m qkan.bench.cli`` (the same options as ``qkan bench``)."""
    return run(configure_parser(argparse.ArgumentParser(prog="qkan bench")).parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
