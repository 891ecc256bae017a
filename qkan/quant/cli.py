"""``qkan quant``: the digits quantisation report (float vs PTQ vs QAT for the QKAN head and classical heads)."""

from __future__ import annotations

import argparse


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def configure_parser(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """Add the ``qkan quant`` options to ``parser`` (a subparser) and set its handler to :func:`run`."""
    from .digits_report import SETTINGS

    parser.add_argument(
        "--heads",
        type=_csv,
        default=["qkan", "mlp", "spline"],
        help="comma list of classifier heads: qkan and baselines (mlp, spline, bspline, ...)",
    )
    parser.add_argument(
        "--settings", type=_csv, default=list(SETTINGS), help=f"comma list of columns among: {', '.join(SETTINGS)}"
    )
    parser.add_argument("--epochs", type=int, default=20, help="float training epochs")
    parser.add_argument("--qat-epochs", type=int, default=5, help="fine-tuning epochs of the QAT columns")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--qat-lr", type=float, default=1e-3)
    parser.add_argument(
        "--seeds",
        type=lambda t: [int(v) for v in _csv(t)],
        default=[0],
        help="comma list of seeds; the table shows mean ± std over them",
    )
    parser.add_argument(
        "--sensitivity-bits",
        type=lambda t: [int(v) for v in _csv(t)],
        default=[],
        help="also quantise one role at a time at these bit widths (e.g. 2,3,4), first seed",
    )
    parser.add_argument("--out", default="runs/quant", help="folder for quant_digits.md, .json and .png")
    parser.set_defaults(handler=run)
    return parser


def _print_row(row) -> None:
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

    if any(b < 2 or b > 16 for b in args.sensitivity_bits):
        raise SystemExit(f"qkan quant: --sensitivity-bits must be in 2..16, got {args.sensitivity_bits}")
    for name in ("epochs", "qat_epochs", "batch_size"):
        if getattr(args, name) < 1:
            raise SystemExit(f"qkan quant: --{name.replace('_', '-')} must be positive, got {getattr(args, name)}")
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
    paths = write_report(rows, args.out, config)
    print(f"wrote {paths['markdown']}, {paths['json']}, {paths['plot']}")
    if args.sensitivity_bits:
        sensitivity = []
        for head in args.heads:
            role_rows = run_role_sensitivity(
                head, args.sensitivity_bits, args.epochs, args.batch_size, args.lr, args.seeds[0]
            )
            print(f"\n{head}\n" + sensitivity_markdown(role_rows))
            sensitivity += role_rows
        paths = write_sensitivity(sensitivity, args.out)
        print(f"wrote {paths['markdown']}, {paths['json']}")
    return 0
