"""QKAN([100,100]) at batch 1000 on flash against nn.Linear(100,100), one train step each (forward, MSE, backward,
Adam), in one process and interleaved, for issue targets stated as ratios: the eager fp32 step, the bf16 autocast
step and the graphed step (qkan.make_graphed_train_step). Prints one JSON line per round and the medians; run on
the GPU machine (python docs/probes/linear_step.py)."""

from __future__ import annotations

import json
import statistics

import torch

from qkan import QKAN, make_graphed_train_step
from qkan.bench.timing import time_ms

WIDTH, BATCH, ROUNDS, REPEATS = 100, 1000, 5, 200


def step_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, amp: bool):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=amp):
            loss = torch.nn.functional.mse_loss(model(x).float(), y)
        loss.backward()
        optimizer.step()

    return step


def graphed_fn(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    graphed = make_graphed_train_step(model, torch.nn.functional.mse_loss, optimizer, x, y)
    return lambda: graphed(x, y)


def main() -> None:
    device = torch.device("cuda")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, WIDTH, generator=gen).to(device)
    y = torch.randn(BATCH, WIDTH, generator=gen).to(device)
    steps = {
        "linear": step_fn(torch.nn.Linear(WIDTH, WIDTH).to(device), x, y, amp=False),
        "qkan": step_fn(QKAN([WIDTH, WIDTH], solver="flash", seed=0, device=device), x, y, amp=False),
        "qkan_bf16": step_fn(QKAN([WIDTH, WIDTH], solver="flash", seed=0, device=device), x, y, amp=True),
        "linear_graphed": graphed_fn(torch.nn.Linear(WIDTH, WIDTH).to(device), x, y),
        "qkan_graphed": graphed_fn(QKAN([WIDTH, WIDTH], solver="flash", seed=0, device=device), x, y),
    }
    rounds = []
    for r in range(ROUNDS):
        row = {name: time_ms(fn, device, REPEATS, warmup=5) for name, fn in steps.items()}
        rounds.append(row)
        print(json.dumps({"round": r, **{k: round(v, 4) for k, v in row.items()}}))
    medians = {name: statistics.median(row[name] for row in rounds) for name in steps}
    summary = {
        "device": torch.cuda.get_device_name(),
        "ms": {k: round(v, 4) for k, v in medians.items()},
        "qkan_vs_linear": round(medians["qkan"] / medians["linear"], 3),
        "bf16_vs_fp32": round(medians["qkan_bf16"] / medians["qkan"], 3),
        "graphed_qkan_ms": round(medians["qkan_graphed"], 4),
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
