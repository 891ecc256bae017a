"""Graph-replay timings of QKAN([100,100]) b1000 flash steps over kernel tunables (forward NB, backward thread
target), per-kernel times inside the replays (torch.profiler), Adam fused vs single-tensor, and the 1x1 and
256x256 cases. Run on a GPU machine: ``python docs/probes/flash_graph_tune.py 8,16 160000``."""

import json
import sys

import torch
from flash_graph_timeline import graphed_step, replay_ms  # the probe beside this one

import qkan.solvers.flash.tuning as tuning
import qkan.solvers.registry as registry


def graphed(width, batch, fused=True):
    """(replay ms, step, x, y) of the graphed step, Adam fused or its per-tensor kernels."""
    step, x, y = graphed_step(width, batch, {"fused": True} if fused else {"foreach": False})
    return replay_ms(step, x, y), step, x, y


def kernel_profile(step, x, y, n=50):
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n):
            step(x, y)
        torch.cuda.synchronize()
    rows = {}
    for e in prof.key_averages():
        if e.device_type.name == "CUDA" or getattr(e, "self_device_time_total", 0):
            t = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
            if t:
                rows[e.key[:70]] = round(t / n, 2)
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]))


out = {}
for nb in [int(v) for v in sys.argv[1].split(",")]:
    for target in [int(v) for v in sys.argv[2].split(",")]:
        tuning.NB = nb  # read when the next program is built (its source and its launches)
        tuning.TARGET_BACKWARD_THREADS = target
        registry._PROGRAMS.clear()
        ms, step, x, y = graphed([100, 100], 1000)
        out[f"nb{nb}_t{target}"] = ms
        print(f"NB={nb} target={target}: graphed {ms:.4f} ms", flush=True)
print(json.dumps(kernel_profile(step, x, y), indent=0))
for fused in (False, True):
    registry._PROGRAMS.clear()
    print("fused", fused, graphed([100, 100], 1000, fused=fused)[0])
for width, batch in (([1, 1], 1000), ([256, 256], 4096)):
    ms, step, x, y = graphed(width, batch)
    print(width, batch, "graphed fused", ms)
    print(json.dumps(kernel_profile(step, x, y, n=20), indent=0))
