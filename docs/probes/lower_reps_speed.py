"""What qkan.lower_reps buys on the flash solver: a QKAN whose spectrum needs 3 re-uploads but is built with
more (``refine``, which keeps the function exactly) is lowered back (exactly: the stated bound is rounding), and
both run forward (no_grad) and forward + backward in float32 with the flash solver, timed as ``qkan bench``
times (qkan.bench.time_ms: CUDA events, median). Lowering runs on the GPU in float64 with the exact solver.
Run on a GPU machine: ``python docs/probes/lower_reps_speed.py [--reps 8] [--width 4 32 4] [--batch 4096]``."""

import argparse

import torch

from qkan import QKAN, lower_reps
from qkan.bench import time_ms

REPEATS = 21


def timings(model: QKAN, x: torch.Tensor) -> tuple[float, float]:
    """(forward ms, forward + backward ms) of ``model`` on ``x``."""

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def train_step() -> None:
        model.zero_grad(set_to_none=True)
        model(x).square().mean().backward()

    return time_ms(forward, x.device, REPEATS), time_ms(train_step, x.device, REPEATS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=8, help="re-uploads of the model before lowering (> 3)")
    parser.add_argument("--width", type=int, nargs="+", default=[4, 32, 4])
    parser.add_argument("--batch", type=int, default=4096)
    args = parser.parse_args()
    device = torch.device("cuda")
    big = QKAN(args.width, reps=3, seed=0, dtype=torch.float64, device=device).refine(args.reps)
    x = torch.rand(1024, args.width[0], dtype=torch.float64, device=device) * 2 - 1
    lowered = lower_reps(big, keep=0.999, x=x)
    print(f"reps {args.reps} -> {lowered.reps}, stated deviation bound {lowered.max_deviation:.2e}")
    xb = torch.rand(args.batch, args.width[0], device=device) * 2 - 1
    rows = []
    for name, model in (("original", big), ("lowered", lowered.model)):
        model = model.to(device, torch.float32)
        model.solver = "flash"
        rows.append((name, *timings(model, xb)))
    print("| model | forward ms | forward+backward ms |\n|---|---|---|")
    for name, fwd, step in rows:
        print(f"| {name} | {fwd:.3f} | {step:.3f} |")
    print(f"speed-up: forward {rows[0][1] / rows[1][1]:.2f}x, forward+backward {rows[0][2] / rows[1][2]:.2f}x")


if __name__ == "__main__":
    main()
