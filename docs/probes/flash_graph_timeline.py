"""Where a graphed flash train step's time goes: the step's replay time (CUDA events over 400 replays, median
of 5) and every kernel of one replay in order, with its duration and the gap before it (torch.profiler).
Run on a GPU machine: ``python docs/probes/flash_graph_timeline.py wide fit1d huge [--adam fused] [--json F]``."""

import argparse
import json

import torch
from torch import nn

from qkan import QKAN
from qkan.graphs import make_graphed_train_step

CASES = {"fit1d": ([1, 1], 1000), "wide": ([100, 100], 1000), "huge": ([256, 256], 4096)}
ADAM = {"default": {}, "single": {"foreach": False}, "fused": {"fused": True}}


def graphed_step(width: list[int], batch: int, adam: dict):
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width[0], generator=g).to(dev)
    y = torch.randn(batch, width[-1], generator=g).to(dev)
    model = QKAN(width, reps=3, solver="flash", seed=0, device=dev)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, **adam)
    return make_graphed_train_step(model, nn.functional.mse_loss, opt, x, y), x, y


def replay_ms(step, x, y, replays: int = 400) -> float:
    for _ in range(30):
        step(x, y)
    times = []
    for _ in range(5):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        torch.cuda.synchronize()
        start.record()
        for _ in range(replays):
            step(x, y)
        end.record()
        end.synchronize()
        times.append(start.elapsed_time(end) / replays)
    return sorted(times)[len(times) // 2]


def kernels_of_one_replay(step, x, y) -> list[tuple[str, float, float]]:
    """(name, duration us, gap before it us) of every kernel and copy of one replay, in order."""
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        step(x, y)
        torch.cuda.synchronize()
    events = sorted((e for e in prof.events() if e.device_type.name == "CUDA"), key=lambda e: e.time_range.start)
    rows, previous_end = [], None
    for e in events:
        gap = 0.0 if previous_end is None else e.time_range.start - previous_end
        rows.append((e.name[:90], round(e.time_range.elapsed_us(), 2), round(gap, 2)))
        previous_end = e.time_range.end
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("cases", nargs="+", choices=sorted(CASES))
    parser.add_argument("--adam", choices=sorted(ADAM), default="default")
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    results = {}
    for case in args.cases:
        step, x, y = graphed_step(*CASES[case], ADAM[args.adam])
        ms, rows = replay_ms(step, x, y), kernels_of_one_replay(step, x, y)
        kernel_us = sum(r[1] for r in rows)
        results[case] = {"graphed_ms": ms, "kernel_us": kernel_us, "kernels": len(rows), "rows": rows}
        print(f"{case}: graphed step {ms:.4f} ms, {len(rows)} kernels and copies {kernel_us:.1f} us")
        for name, duration, gap in rows:
            print(f"  {duration:8.2f} us  (gap {gap:6.2f})  {name}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
