"""Time a small QKAN on solver="cudaq" (the current CUDA-Q target: qpp-cpu without a GPU) against the exact and
qiskit solvers: forward (no_grad) and forward + backward, float64, median wall ms (qkan.bench.time_interleaved_ms,
every variant timed in turn within each repeat), and the largest output gap to exact.
Run where cudaq is installed: ``python docs/probes/cudaq_timing.py [--batch 32] [--repeats 5]``."""

import argparse

import torch

from qkan import QKAN
from qkan.bench import time_interleaved_ms

VARIANTS = {
    "exact": ("exact", {}),
    "qiskit exact": ("qiskit", {}),
    "cudaq exact": ("cudaq", {}),
    "cudaq exact, parallel_qubits=8": ("cudaq", {"parallel_qubits": 8}),
    "cudaq 1000 shots": ("cudaq", {"shots": 1000, "seed": 0}),
    "cudaq 1000 shots, parallel_qubits=8": ("cudaq", {"shots": 1000, "seed": 0, "parallel_qubits": 8}),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    import cudaq

    x = torch.rand(args.batch, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2 - 1
    reference = QKAN([2, 4, 1], reps=2, seed=0, dtype=torch.float64)
    models = {}
    for name, (solver, options) in VARIANTS.items():
        model = QKAN([2, 4, 1], reps=2, seed=0, dtype=torch.float64, solver=solver, solver_kwargs=options)
        model.load_state_dict(reference.state_dict())
        models[name] = model

    def forward(model: QKAN):
        return lambda: model(x).detach()

    def step(model: QKAN):
        return lambda: model(x).square().sum().backward()

    cpu = torch.device("cpu")
    forwards = time_interleaved_ms([forward(m) for m in models.values()], cpu, args.repeats, warmup=1)
    steps = time_interleaved_ms([step(m) for m in models.values()], cpu, args.repeats, warmup=1)
    with torch.no_grad():
        exact = reference(x)
        gaps = [(m(x) - exact).abs().max().item() for m in models.values()]
    version = cudaq.__version__.split("(")[0].strip()
    print(f"{version}, target {cudaq.get_target().name}; QKAN([2, 4, 1], reps=2), batch {args.batch}")
    print("| solver | forward ms | forward + backward ms | max gap to exact |\n|---|---|---|---|")
    for name, f, s, gap in zip(models, forwards, steps, gaps):
        print(f"| {name} | {f:.1f} | {s:.1f} | {gap:.1e} |")


if __name__ == "__main__":
    main()
