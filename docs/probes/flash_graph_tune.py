"""Graph-replay timings of QKAN([100,100]) b1000 flash steps over kernel tunables (forward NB, backward thread
target), per-kernel times inside the replays (torch.profiler), Adam fused vs single-tensor, and the 1x1 and
256x256 cases. Run on a GPU machine: ``python docs/probes/flash_graph_tune.py 8,16 160000``."""
import json
import sys

import torch
from torch import nn
import qkan.solvers.flash as flash
import qkan.solvers.flash_codegen as cg
import qkan.solvers.registry as registry
from qkan import QKAN
from qkan.graphs import make_graphed_train_step

dev = torch.device("cuda")

def build(width, batch, fused=True, **model_kw):
    g = torch.Generator().manual_seed(0)
    x = torch.randn(batch, width[0], generator=g).to(dev); y = torch.randn(batch, width[-1], generator=g).to(dev)
    model = QKAN(width, reps=3, solver="flash", seed=0, device=dev, **model_kw)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-3, fused=fused)
    return model, opt, x, y

def graphed_ms(model, opt, x, y, n=400):
    step = make_graphed_train_step(model, nn.functional.mse_loss, opt, x, y)
    for _ in range(20): step(x, y)
    res = []
    for _ in range(3):
        torch.cuda.synchronize()
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(n): step(x, y)
        b.record(); b.synchronize(); res.append(a.elapsed_time(b) / n)
    return min(res), step

def kernel_profile(step, x, y, n=50):
    from torch.profiler import profile, ProfilerActivity
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(n): step(x, y)
        torch.cuda.synchronize()
    rows = {}
    for e in prof.key_averages():
        if e.device_type.name == "CUDA" or getattr(e, "self_device_time_total", 0):
            t = getattr(e, "self_device_time_total", None) or getattr(e, "self_cuda_time_total", 0)
            if t: rows[e.key[:70]] = round(t / n, 2)
    return dict(sorted(rows.items(), key=lambda kv: -kv[1]))

out = {}
for nb in [int(v) for v in sys.argv[1].split(",")]:
    for target in [int(v) for v in sys.argv[2].split(",")]:
        cg.NB = flash.NB = nb
        flash.TARGET_BACKWARD_THREADS = target
        registry._PROGRAMS.clear()
        model, opt, x, y = build([100, 100], 1000)
        ms, step = graphed_ms(model, opt, x, y)
        out[f"nb{nb}_t{target}"] = ms
        print(f"NB={nb} target={target}: graphed {ms:.4f} ms", flush=True)
print(json.dumps(kernel_profile(step, x, y), indent=0))
for fused in (False, True):
    registry._PROGRAMS.clear()
    model, opt, x, y = build([100, 100], 1000, fused=fused)
    print("fused", fused, graphed_ms(model, opt, x, y)[0])
for width, batch in (([1, 1], 1000), ([256, 256], 4096)):
    model, opt, x, y = build(width, batch)
    ms, step = graphed_ms(model, opt, x, y, n=100)
    print(width, batch, "graphed fused", ms)
    print(json.dumps(kernel_profile(step, x, y, n=20), indent=0))
