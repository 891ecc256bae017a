"""PyTorch's own eager floor beside the flash layers: forward (no_grad) and Adam train step (MSE) of nn.Linear
and of QKAN (flash) at the bench's sizes, timed as ``qkan bench`` times them (qkan.bench.time_ms: CUDA events
around one call, median), and each call's host time (perf_counter over many calls without a sync, so the
GPU never holds the host back), with the host time of the flash forward's parts.
Run on a GPU machine: ``python docs/probes/eager_floor.py [--json F]``."""

import argparse
import json
import time

import torch
from torch import nn

from qkan import QKAN
from qkan.bench import time_ms

BATCH = 1000
REPEATS = 21
HOST_CALLS = 2000


def host_us(fn, calls: int = HOST_CALLS) -> float:
    """Median host time of one call in us, over 5 runs of ``calls`` calls with no sync between them."""
    runs = []
    for _ in range(5):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        runs.append((time.perf_counter() - t0) / calls * 1e6)
        torch.cuda.synchronize()
    return sorted(runs)[2]


def model_rows(name: str, model: nn.Module, width: int) -> dict:
    dev = torch.device("cuda")
    g = torch.Generator().manual_seed(0)
    x = torch.randn(BATCH, width, generator=g).to(dev)
    y = torch.randn(BATCH, width, generator=g).to(dev)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3)

    def forward():
        with torch.no_grad():
            model(x)

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    row = {
        "forward_ms": time_ms(forward, dev, REPEATS),
        "step_ms": time_ms(step, dev, REPEATS),
        "forward_host_us": host_us(forward),
        "step_host_us": host_us(step, 500),
    }
    print(
        f"{name:24s} forward {row['forward_ms']:.4f} ms (host {row['forward_host_us']:.1f} us), "
        f"step {row['step_ms']:.4f} ms (host {row['step_host_us']:.1f} us)",
        flush=True,
    )
    return row


def flash_forward_parts(width: int) -> dict:
    """Host time of the flash forward's pieces for QKAN([width, width]) (no_grad)."""
    from qkan.solvers.cuda_runtime import launch
    from qkan.solvers.flash.abi import EDGE_TABLE, FORWARD
    from qkan.solvers.flash.tuning import EDGE_THREADS, INPUT_SPLIT, NB

    dev = torch.device("cuda")
    model = QKAN([width, width], reps=3, solver="flash", seed=0, device=dev)
    layer = model.layers[0]
    x = torch.randn(BATCH, width, device=dev)
    program = layer.program(x.device, x.dtype)
    params = layer.params()
    kernels = program.kernels
    table = torch.empty(kernels.table_size, width, width, device=dev)
    out = torch.empty(BATCH, width, device=dev)
    parts = {}
    with torch.no_grad():
        parts["model(x)"] = host_us(lambda: model(x))
        parts["layer(x)"] = host_us(lambda: layer(x))
        parts["layer params + input checks"] = host_us(lambda: layer._checked(x))
        parts["program.layer_output"] = host_us(lambda: program.layer_output(x, params))
        parts["kernels.forward"] = host_us(lambda: kernels.forward(False, x, *params))
        parts["torch.empty (table)"] = host_us(lambda: torch.empty(kernels.table_size, width, width, device=dev))
        edge_grid, forward_grid = (-(-width * width // EDGE_THREADS),), (-(-BATCH // NB), -(-width // 32))
        edge_args = EDGE_TABLE.pack(
            theta=params.theta,
            pre_w=params.preacts_weight,
            pre_c=params.preacts_bias,
            pw=params.postact_weights,
            pb=params.postact_bias,
            bw=params.base_weight,
            mask=params.mask,
            tab=table,
            O=width,
            I=width,
            G=0,
        )
        forward_args = FORWARD.pack(x=x, tab=table, out=out, B=BATCH, O=width, I=width)
        parts["launch (edge table)"] = host_us(
            lambda: launch(kernels.module, EDGE_TABLE.instance("float"), edge_grid, (EDGE_THREADS,), edge_args)
        )
        parts["launch (forward)"] = host_us(
            lambda: launch(
                kernels.module, FORWARD.instance("float", EDGE=False), forward_grid, (32 * INPUT_SPLIT,), forward_args
            )
        )
        parts["x.add_(0) (one torch kernel)"] = host_us(lambda: out.add_(0))
    for name, us in parts.items():
        print(f"  QKAN([{width},{width}]) {name:30s} {us:7.1f} us host", flush=True)
    return parts


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--json", help="also write the results here")
    args = parser.parse_args()
    dev = torch.device("cuda")
    print(torch.cuda.get_device_name(), torch.__version__)
    results = {}
    for width in (1, 100):
        torch.manual_seed(0)
        results[f"nn.Linear({width},{width})"] = model_rows(
            f"nn.Linear({width},{width})", nn.Linear(width, width).to(dev), width
        )
        results[f"QKAN([{width},{width}]) flash"] = model_rows(
            f"QKAN([{width},{width}]) flash", QKAN([width, width], reps=3, solver="flash", seed=0, device=dev), width
        )
    results["flash forward parts"] = flash_forward_parts(100)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
