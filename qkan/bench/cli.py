"""``qkan bench`` options and runner: the solver table over the named cases, or with ``--gpt-modes`` the
GPT-2-small train step in eager/compile/bf16/compile+bf16 against the Linear-bottleneck floor."""

from __future__ import annotations

import argparse
from typing import Optional, Sequence

import torch

from qkan.solvers import solver_names

from ..baselines import BASELINES
from ..cli_args import ANSATZ_NAMES, Parser, ansatz_file, csv_of, device_or_auto, positive_int
from ..cli_errors import add_debug_flag, run_guarded
from ..cli_output import print_written
from .baselines import baselines_markdown, run_baselines, write_baselines
from .cases import CASE_NAMES
from .gpt_modes import MODES, VARIANTS, gpt_modes_markdown, run_gpt_modes, write_gpt_modes
from .report import to_markdown, write_outputs
from .runner import run_bench


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan bench`` options to ``parser``; unknown names and out-of-range numbers are refused here."""
    parser.add_argument(
        "--cases",
        type=csv_of("case", (*CASE_NAMES, "baselines")),
        default=None,
        help="comma list of cases (default: fit1d,wide,hqkan on CPU; every case on CUDA); 'baselines' adds the "
        "classical layers against their reference implementations",
    )
    parser.add_argument(
        "--solvers", type=csv_of("solver", solver_names()), default=["exact", "flash", "cutn"], help="comma list"
    )
    parser.add_argument(
        "--ansatz",
        type=csv_of("ansatz", ANSATZ_NAMES, also=ansatz_file, also_text="path.py:NAME (an existing file)"),
        default=["pz"],
        help="comma list of built-in names or path.py:NAME (a Circuit or a function of reps)",
    )
    parser.add_argument(
        "--baselines", type=csv_of("baseline", BASELINES), default=[], help="comma list of classical baselines to add"
    )
    parser.add_argument("--device", type=device_or_auto, default="auto", help="cpu, cuda or auto (CUDA when available)")
    parser.add_argument("--repeats", type=positive_int, default=5, help="timed repeats per measurement (median)")
    parser.add_argument(
        "--loss-steps",
        type=positive_int,
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
    gpt.add_argument("--variants", type=csv_of("variant", VARIANTS), default=list(VARIANTS), help="comma list")
    gpt.add_argument("--modes", type=csv_of("mode", MODES), default=list(MODES), help="comma list")
    return parser


def run(args: argparse.Namespace) -> int:
    """Run the bench the parsed arguments ask for, print its table and the files it wrote."""
    device = args.device if args.device != "auto" else ("cuda" if torch.cuda.is_available() else "cpu")
    print(f"device: {device}, torch threads: {torch.get_num_threads()}")
    if args.gpt_modes:
        modes = run_gpt_modes(args.variants, args.modes, device, tiny=args.tiny, repeats=args.repeats)
        print(gpt_modes_markdown(modes))
        print_written(write_gpt_modes(modes, args.out, device, tiny=args.tiny).values())
        return 0
    cases = args.cases
    if cases and "baselines" in cases:
        rows = run_baselines(torch.device(device), repeats=args.repeats, tiny=args.tiny)
        print(baselines_markdown(rows))
        print_written([write_baselines(rows, args.out, device)])
        cases = [c for c in cases if c != "baselines"]
        if not cases:
            return 0
    records = run_bench(
        cases=cases,
        solvers=args.solvers,
        ansatzes=args.ansatz,
        baselines=args.baselines,
        device=device,
        repeats=args.repeats,
        loss_steps=args.loss_steps,
        tiny=args.tiny,
        graphed=args.graphed,
    )
    print(to_markdown(records))
    for r in records:
        if r.note.startswith("skipped"):
            print(f"{r.case}/{r.solver or r.model}: {r.note}")
    print_written(write_outputs(records, args.out, device).values())
    return 0


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point for ``python -m qkan.bench.cli`` (the same options as ``qkan bench``, and ``--debug``)."""
    parser = configure_parser(Parser(prog="qkan bench"))
    add_debug_flag(parser)
    return run_guarded(parser.prog, run, parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
