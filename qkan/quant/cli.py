"""``qkan quant``: the digits quantisation report (float vs PTQ vs QAT for the QKAN head and classical heads)."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ..baselines import BASELINES
from ..cli_args import csv_of, ints_of, positive_float, positive_int, ranged
from ..cli_output import print_written

if TYPE_CHECKING:
    from .digits_report import ReportRow


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan quant`` options to ``parser`` (a subparser) and set its handler to :func:`run`; unknown
    names and out-of-range numbers are refused here."""
    from .digits_report import SETTINGS

    parser.add_argument(
        "--heads",
        type=csv_of("head", ("qkan", *BASELINES)),
        default=["qkan", "mlp", "spline"],
        help="comma list of classifier heads: qkan and classical baselines",
    )
    parser.add_argument("--settings", type=csv_of("setting", SETTINGS), default=list(SETTINGS), help="comma list")
    parser.add_argument("--epochs", type=positive_int, default=20, help="float training epochs")
    parser.add_argument("--qat-epochs", type=positive_int, default=5, help="fine-tuning epochs of the QAT columns")
    parser.add_argument("--batch-size", type=positive_int, default=64, help="batch size")
    parser.add_argument("--lr", type=positive_float, default=3e-3, help="learning rate of the float training")
    parser.add_argument("--qat-lr", type=positive_float, default=1e-3, help="learning rate of the QAT fine-tuning")
    parser.add_argument(
        "--seeds",
        type=ints_of(ranged(int, 0)),
        default=[0],
        help="comma list of seeds; the table shows mean ± std over them",
    )
    parser.add_argument(
        "--sensitivity-bits",
        type=ints_of(ranged(int, 2, 16)),
        default=[],
        help="also quantise one role at a time at these bit widths in 2..16 (e.g. 2,3,4), first seed",
    )
    parser.add_argument("--out", default="runs/quant", help="folder for quant_digits.md, .json and .png")
    parser.set_defaults(handler=run)
    return parser


def _print_row(row: ReportRow) -> None:
    """One finished (head, seed, setting) as it completes, so a long report shows progress."""
    print(
        f"{row.head:>8} seed {row.seed} {row.setting:<14} acc {100 * row.accuracy:6.2f}%  loss {row.loss:.4f}  "
        f"{row.seconds:6.1f}s",
        flush=True,
    )


def run(args: argparse.Namespace) -> int:
    """Run the report, print the table and write it; returns the exit status."""
    from .digits_report import (
        run_digits_report,
        run_role_sensitivity,
        sensitivity_markdown,
        to_markdown,
        write_report,
        write_sensitivity,
    )

    config = {
        k: getattr(args, k)
        for k in ("heads", "settings", "epochs", "qat_epochs", "batch_size", "lr", "qat_lr", "seeds")
    }
    rows = run_digits_report(
        heads=args.heads,
        settings=args.settings,
        epochs=args.epochs,
        qat_epochs=args.qat_epochs,
        batch_size=args.batch_size,
        lr=args.lr,
        qat_lr=args.qat_lr,
        seeds=args.seeds,
        on_row=_print_row,
    )
    print(to_markdown(rows))
    print_written(write_report(rows, args.out, config).values())
    if args.sensitivity_bits:
        sensitivity = []
        for head in args.heads:
            role_rows = run_role_sensitivity(
                head, args.sensitivity_bits, args.epochs, args.batch_size, args.lr, args.seeds[0]
            )
            print(f"\n{head}\n" + sensitivity_markdown(role_rows))
            sensitivity += role_rows
        print_written(write_sensitivity(sensitivity, args.out).values())
    return 0
