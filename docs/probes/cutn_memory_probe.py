"""Device probe: cutn train-step time and peak memory under several options; profiler split.
Args: config names (comma-separated); budget.py's factors (RESULT_TEMPORARIES, WORKSPACE_PER_RESULT) from
the environment."""

import json
import os
import sys
import time

import torch
from entangling_ansatzes import ring4  # this folder
from torch import nn

from qkan import QKAN
from qkan.bench.timing import time_ms
from qkan.solvers.cutn import budget

dev = torch.device("cuda")
OUT = os.environ.get("OUT", "/tmp")
RES = {}


def case(width, batch, ansatz="pz", readout="amp", n=10, profile=False, solver="cutn", **kw):
    torch.manual_seed(0)
    sk = {k: v for k, v in kw.items()}
    if ansatz == "ring":
        ansatz = ring4()
    model = QKAN(
        width,
        reps=3 if isinstance(ansatz, str) else None,
        solver=solver,
        ansatz=ansatz,
        seed=0,
        device=dev,
        solver_kwargs=sk or None,
        **({"fast_measure": readout == "amp"} if isinstance(ansatz, str) else {}),
    )
    x = torch.randn(batch, width[0], device=dev)
    y = torch.randn(batch, width[-1], device=dev)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)

    def step():
        opt.zero_grad(set_to_none=True)
        nn.functional.mse_loss(model(x), y).backward()
        opt.step()

    def fwd():
        with torch.no_grad():
            model(x)

    step()
    step()
    torch.cuda.synchronize()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    step()
    torch.cuda.synchronize()
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    r = {"step_ms": time_ms(step, dev, n), "fwd_ms": time_ms(fwd, dev, n), "peak_mib": peak}
    prog = model.layers[0].program(x.device, x.dtype) if solver == "cutn" else None
    if prog is not None:
        net = prog.layer_network or prog.values_network
        r["chunk"] = prog.chunk_size(net, batch)
        r["native"] = list(getattr(prog.engine, "_native", {}).values())
        r["workspaces_mib"] = sorted(
            {
                round((getattr(n, "workspace_scratch_size", 0) + getattr(n, "workspace_cache_size", 0)) / 2**20, 1)
                for n in getattr(prog.engine, "_networks", {}).values()
            }
        )
    t = time.perf_counter()
    for _ in range(n):
        step()
    r["host_ms"] = (time.perf_counter() - t) / n * 1e3
    torch.cuda.synchronize()
    if profile:
        from torch.profiler import ProfilerActivity
        from torch.profiler import profile as prof

        with prof(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as p:
            for _ in range(3):
                step()
            torch.cuda.synchronize()
        ev = p.key_averages()
        cuda = sorted(
            ((e.key, e.device_time_total / 3, e.count / 3) for e in ev if e.device_time_total > 0), key=lambda t: -t[1]
        )
        r["top_cuda"] = [(k[:90], round(v, 1), c) for k, v, c in cuda[:25]]
        p.export_chrome_trace(f"{OUT}/trace_{len(RES)}.json") if len(RES) < 2 else None
    return r


configs = [
    ("wide_default", dict(width=[100, 100], batch=1000)),
    ("wide_ml300", dict(width=[100, 100], batch=1000, memory_limit=300 * 2**20, profile=True)),
    ("wide_ml200", dict(width=[100, 100], batch=1000, memory_limit=200 * 2**20)),
    ("wide_ml600", dict(width=[100, 100], batch=1000, memory_limit=600 * 2**20)),
    ("wide_ml300_noprof", dict(width=[100, 100], batch=1000, memory_limit=300 * 2**20)),
    ("wide_ml300_env", dict(width=[100, 100], batch=1000, memory_limit=300 * 2**20, backward="environments")),
    ("wide_z_default", dict(width=[100, 100], batch=1000, readout="z")),
    ("wide_z_ml300", dict(width=[100, 100], batch=1000, readout="z", memory_limit=300 * 2**20)),
    ("huge_ml2g", dict(width=[256, 256], batch=4096, memory_limit=2 * 2**30, n=3)),
    ("huge_ml1g", dict(width=[256, 256], batch=4096, memory_limit=2**30, n=3)),
    ("ring_cutn", dict(width=[32, 32], batch=1024, ansatz="ring", n=3)),
    ("ring_cutn_ml2g", dict(width=[32, 32], batch=1024, ansatz="ring", n=3, memory_limit=2 * 2**30)),
    ("ring_exact", dict(width=[32, 32], batch=1024, ansatz="ring", n=3, solver="exact")),
]
only = sys.argv[1].split(",") if len(sys.argv) > 1 and sys.argv[1] else None

FACTORS = ("RESULT_TEMPORARIES", "WORKSPACE_PER_RESULT")
for name in FACTORS:  # overridden from the environment
    if name in os.environ:
        setattr(budget, name, float(os.environ[name]))
print({name: getattr(budget, name) for name in FACTORS})
for name, cfg in configs:
    if only and name not in only:
        continue
    try:
        RES[name] = case(**cfg)
    except Exception as e:
        RES[name] = {"error": f"{type(e).__name__}: {e}"[:400]}
    print(name, {k: v for k, v in RES[name].items() if k != "top_cuda"}, flush=True)
    torch.cuda.empty_cache()
for name, r in RES.items():
    if "top_cuda" in r:
        print("==", name)
        for row in r["top_cuda"]:
            print("  ", row)
json.dump(RES, open(f"{OUT}/cutn_probe_{os.getpid()}.json", "w"), indent=1)
