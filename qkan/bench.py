"""``qkan bench``: named benchmark cases x solvers x ansatzes (and classical baselines), timed
properly (warm-up, synchronised clocks, median of repeats), as a Markdown table, JSON and a PNG.

Cases follow the published solver benchmark: ``fit1d`` QKAN([1,1]) at batch 1000, ``wide``
QKAN([100,100]) at batch 1000, ``huge`` QKAN([256,256]) at batch 4096, ``hqkan`` the HQKAN digits
classifier, ``gpt`` an HQKANsformer train step.
"""
from __future__ import annotations

import json
import runpy
import statistics
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from qkan.circuits import Circuit
from qkan.solvers import get_solver

from .layer import Ansatz
from .model import QKAN

RECORD_COLUMNS = ("case", "model", "solver", "ansatz", "params", "init_ms", "forward_ms", "fwd_vs_exact",
                  "step_ms", "step_vs_exact", "graphed_ms", "graphed_vs_exact", "total_s", "peak_mib", "avg_mib",
                  "loss", "max_dev", "note")
GRAPH_REPLAYS = 50  # replays per timed sample of a graphed step (one replay is shorter than the events' overhead)
GRAPH_WARMUP = 5  # untimed samples of replays first, as for every other timing (H200, wide flash: 0.191 ms
# after 1 warm-up sample, 0.192 ms after 5)


@dataclass(frozen=True)
class Case:
    """A benchmark case: a model factory over (solver, ansatz, device), an input/target batch maker and
    the loss; ``loss_steps`` Adam steps give the reported loss."""

    name: str
    description: str
    build: Callable[[str, Ansatz, torch.device], nn.Module]
    batch: Callable[[torch.device, int], tuple[torch.Tensor, torch.Tensor]]
    loss: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = nn.functional.mse_loss
    loss_steps: int = 50
    lr: float = 1e-3
    width: Optional[list[int]] = None


def _reps_for(ansatz: Ansatz) -> Optional[int]:
    """Built-ins run with the published reps=3; a Circuit brings its own re-uploads."""
    return 3 if isinstance(ansatz, str) else None


def _regression_case(name: str, width: list[int], batch: int, description: str) -> Case:
    def build(solver: str, ansatz: Ansatz, device: torch.device) -> nn.Module:
        return QKAN(width, reps=_reps_for(ansatz), solver=solver, ansatz=ansatz, seed=0, device=device)

    def make_batch(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        x = torch.randn(batch, width[0], generator=gen)
        return x.to(device), torch.randn(batch, width[-1], generator=gen).to(device)

    return Case(name, description, build, make_batch, width=width)


def _hqkan_case(batch: int) -> Case:
    def build(solver: str, ansatz: Ansatz, device: torch.device) -> nn.Module:
        from .models import HQKANClassifier

        return HQKANClassifier.for_digits(solver=solver, ansatz=ansatz).to(device)

    def make_batch(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        from .training.tasks import digits_tensors

        x, y = digits_tensors("train")
        return x[:batch].to(device), y[:batch].to(device)

    return Case("hqkan", f"HQKAN digits classifier, batch {batch}", build, make_batch,
                loss=nn.functional.cross_entropy, loss_steps=20)


def _gpt_case(n_layer: int, n_embd: int, block: int, batch: int) -> Case:
    vocab = 96

    def build(solver: str, ansatz: Ansatz, device: torch.device) -> nn.Module:
        from .models import GPT

        return _LMWrapper(GPT(vocab, block, n_layer=n_layer, n_head=4, n_embd=n_embd, mlp="hqkan", solver=solver,
                              ansatz=ansatz)).to(device)

    def make_batch(device: torch.device, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
        gen = torch.Generator().manual_seed(seed)
        idx = torch.randint(vocab, (batch, block + 1), generator=gen)
        return idx[:, :-1].to(device), idx[:, 1:].to(device)

    return Case("gpt", f"HQKANsformer ({n_layer} layers, {n_embd} wide, block {block}), batch {batch}", build, make_batch,
                loss=lambda logits, y: nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten()), loss_steps=10)


class _LMWrapper(nn.Module):
    """Makes a GPT return logits only, so every case shares one train step."""

    def __init__(self, gpt: nn.Module):
        super().__init__()
        self.gpt = gpt

    def forward(self, idx: torch.Tensor) -> torch.Tensor:
        out = self.gpt(idx)
        return out[0] if isinstance(out, tuple) else out


def make_cases(tiny: bool = False) -> dict[str, Case]:
    """The named cases at the published sizes, or at tiny sizes (smoke tests, quick looks)."""
    if tiny:
        return {"fit1d": _regression_case("fit1d", [1, 1], 16, "QKAN([1,1]), batch 16"),
                "wide": _regression_case("wide", [4, 4], 16, "QKAN([4,4]), batch 16"),
                "huge": _regression_case("huge", [6, 6], 32, "QKAN([6,6]), batch 32"),
                "hqkan": _hqkan_case(16), "gpt": _gpt_case(1, 32, 16, 2)}
    return {"fit1d": _regression_case("fit1d", [1, 1], 1000, "QKAN([1,1]), batch 1000"),
            "wide": _regression_case("wide", [100, 100], 1000, "QKAN([100,100]), batch 1000"),
            "huge": _regression_case("huge", [256, 256], 4096, "QKAN([256,256]), batch 4096"),
            "hqkan": _hqkan_case(256), "gpt": _gpt_case(2, 128, 64, 8)}


CASE_NAMES = ("fit1d", "wide", "huge", "hqkan", "gpt")
DEVIATION_ROWS = 256
CPU_LOSS_STEPS = 5
DEFAULT_CASES = {"cpu": ["fit1d", "wide", "hqkan"], "cuda": ["fit1d", "wide", "huge", "hqkan", "gpt"]}


@dataclass
class Record:
    """One row of the results table (times in ms, memory in MiB; None where not measured)."""

    case: str
    model: str
    solver: str
    ansatz: str
    params: int = 0
    init_ms: Optional[float] = None
    forward_ms: Optional[float] = None
    fwd_vs_exact: Optional[float] = None
    step_ms: Optional[float] = None
    step_vs_exact: Optional[float] = None
    graphed_ms: Optional[float] = None
    graphed_vs_exact: Optional[float] = None
    total_s: Optional[float] = None
    peak_mib: Optional[float] = None
    avg_mib: Optional[float] = None
    loss: Optional[float] = None
    max_dev: Optional[float] = None
    note: str = ""
    extra: dict = field(default_factory=dict)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def time_ms(fn: Callable[[], Any], device: torch.device, repeats: int, warmup: int = 3) -> float:
    """Median wall time of ``fn`` in ms: warm-up first, CUDA events on GPU, perf_counter on CPU."""
    for _ in range(warmup):
        fn()
    _sync(device)
    samples = []
    for _ in range(repeats):
        if device.type == "cuda":
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            fn()
            end.record()
            end.synchronize()
            samples.append(start.elapsed_time(end))
        else:
            t0 = time.perf_counter()
            fn()
            samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples)


def load_ansatz(spec: Union[str, Circuit]) -> Ansatz:
    """A built-in name, a Circuit, or ``path.py:NAME`` (a Circuit, or a function of reps returning one)."""
    if isinstance(spec, Circuit) or ":" not in str(spec):
        return spec
    path, name = str(spec).rsplit(":", 1)
    namespace = runpy.run_path(path)
    if name not in namespace:
        raise ValueError(f"{path} defines no {name!r}")
    value = namespace[name]
    value = value(3) if callable(value) and not isinstance(value, Circuit) else value
    if not isinstance(value, Circuit):
        raise TypeError(f"{spec} must be a Circuit or a function of reps returning one, got {type(value).__name__}")
    return value


def _build(case: Case, solver: str, ansatz: Ansatz, device: torch.device, baseline: Optional[str]) -> nn.Module:
    """The case's model (or the baseline stack), seeded so every solver starts from the same weights."""
    torch.manual_seed(0)
    return _baseline_model(baseline, case.width, device) if baseline else case.build(solver, ansatz, device)


def _train_step(model: nn.Module, opt: torch.optim.Optimizer, case: Case, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    opt.zero_grad(set_to_none=True)
    loss = case.loss(model(x), y)
    loss.backward()
    opt.step()
    return loss


def _baseline_model(name: str, width: list[int], device: torch.device) -> nn.Module:
    from .baselines import BASELINES

    if name not in BASELINES:
        raise ValueError(f"unknown baseline {name!r}; expected one of {sorted(BASELINES)}")
    layers = [BASELINES[name](width[i], width[i + 1]) for i in range(len(width) - 1)]
    return nn.Sequential(*layers).to(device)


def run_one(case: Case, solver: str, ansatz: Ansatz, device: torch.device, repeats: int,
            reference: Optional[nn.Module] = None, baseline: Optional[str] = None,
            loss_steps: Optional[int] = None, graphed: bool = False) -> Record:
    """Measure one (case, solver/baseline, ansatz): init, forward, train step, memory, loss, deviation;
    with ``graphed`` (CUDA) also the train step captured once and replayed (``qkan.make_graphed_train_step``)."""
    label = ansatz.name if isinstance(ansatz, Circuit) else str(ansatz)
    rec = Record(case.name, baseline or "qkan", "-" if baseline else solver, "-" if baseline else label)
    _sync(device)
    t0 = time.perf_counter()
    model = _build(case, solver, ansatz, device, baseline)
    _sync(device)
    rec.init_ms = (time.perf_counter() - t0) * 1e3
    rec.params = sum(p.numel() for p in model.parameters() if p.requires_grad)
    x, y = case.batch(device, 0)
    with torch.no_grad():
        out = model(x)
        if reference is not None:  # float64 exact on the first rows (bounded cost on the big cases)
            reference.load_state_dict(model.state_dict())
            rows = x[:DEVIATION_ROWS]
            ref = reference(rows.double() if rows.is_floating_point() else rows)
            rec.max_dev = (out[:DEVIATION_ROWS].double() - ref).abs().max().item()
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=case.lr)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    rec.forward_ms = time_ms(forward, device, repeats)
    if device.type == "cuda":
        torch.cuda.empty_cache()
        base = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
    rec.step_ms = time_ms(lambda: _train_step(model, opt, case, x, y), device, repeats)
    timed = model, opt  # the graph is captured from this model: a fresh exact fit1d model's capture failed (H200)
    # fresh weights for the loss curve, so every solver starts from the same point
    model = _build(case, solver, ansatz, device, baseline)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=case.lr)
    peaks = []
    t0 = time.perf_counter()
    for _ in range(loss_steps or case.loss_steps):
        loss = _train_step(model, opt, case, x, y)
        if device.type == "cuda":
            peaks.append(torch.cuda.max_memory_allocated(device) - base)
    rec.loss = float(loss.detach())
    _sync(device)
    rec.total_s = time.perf_counter() - t0
    if device.type == "cuda":
        rec.peak_mib = max(peaks) / 2 ** 20
        rec.avg_mib = statistics.mean(peaks) / 2 ** 20
    if graphed:  # after the memory columns: a captured graph keeps its own buffers, which they would count
        _time_graphed(rec, *timed, case, x, y, device, repeats)
    return rec


def _time_graphed(rec: Record, model: nn.Module, opt: torch.optim.Optimizer, case: Case, x: torch.Tensor,
                  y: torch.Tensor, device: torch.device, repeats: int) -> None:
    """rec.graphed_ms: median over ``repeats`` of GRAPH_REPLAYS replays of the captured step, per step; a model
    that cannot be captured gets a note instead."""
    from .graphs import make_graphed_train_step

    try:
        step = make_graphed_train_step(model, case.loss, opt, x, y)
    except RuntimeError as err:
        rec.note = f"graphed step not captured: {str(err).splitlines()[0]}"
        return

    def replays() -> None:
        for _ in range(GRAPH_REPLAYS):
            step(x, y)

    rec.graphed_ms = time_ms(replays, device, repeats, warmup=GRAPH_WARMUP) / GRAPH_REPLAYS


def run_bench(cases: Optional[Sequence[str]] = None, solvers: Sequence[str] = ("exact", "flash", "cutn"),
              ansatzes: Sequence[Union[str, Circuit]] = ("pz",), baselines: Sequence[str] = (),
              device: Union[str, torch.device, None] = None, repeats: int = 5, progress: bool = True,
              loss_steps: Optional[int] = None, tiny: bool = False, graphed: bool = False) -> list[Record]:
    """Run every (case, solver, ansatz) and (case, baseline); solvers that cannot run are reported
    as skipped with the reason; speed-ups are relative to exact in the same run. ``loss_steps``
    overrides each case's number of training steps for the loss column (on CPU it defaults to
    at most CPU_LOSS_STEPS so that the default run stays short). ``graphed`` adds the CUDA-graphed train step."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    if graphed and device.type != "cuda":
        raise ValueError(f"graphed train steps need a CUDA device (CUDA graphs), got {device}")
    cases = list(cases or DEFAULT_CASES[device.type])
    unknown = [c for c in cases if c not in CASE_NAMES]
    if unknown:
        raise ValueError(f"unknown bench case(s) {unknown}; expected some of {list(CASE_NAMES)}")
    all_cases = make_cases(tiny)
    jobs = [(c, s, load_ansatz(a), None) for c in cases for a in ansatzes for s in solvers]
    jobs += [(c, "-", "-", b) for c in cases for b in baselines if all_cases[c].width]
    records: list[Record] = []
    for case_name, solver, ansatz, baseline in tqdm(jobs, desc="bench", disable=not progress):
        case = all_cases[case_name]
        try:
            reference = None
            if not baseline and solver != "auto":
                get_solver(solver)  # an unknown name is reported before any model is built
            if not baseline and solver != "exact":
                reference = case.build("exact", ansatz, device).double()
            steps = loss_steps or (min(case.loss_steps, CPU_LOSS_STEPS) if device.type == "cpu" else None)
            rec = run_one(case, solver, ansatz, device, repeats, reference, baseline, steps, graphed)
        except (ValueError, ImportError, RuntimeError) as err:  # unsupported solver, missing model, OOM
            label = ansatz.name if isinstance(ansatz, Circuit) else str(ansatz)
            rec = Record(case_name, baseline or "qkan", solver, label, note=f"skipped: {str(err).splitlines()[0]}")
        records.append(rec)
    _add_ratios(records)
    return records


def _add_ratios(records: list[Record]) -> None:
    exact = {(r.case, r.ansatz): r for r in records if r.solver == "exact" and r.forward_ms}
    for r in records:
        ref = exact.get((r.case, r.ansatz))
        if ref and r.forward_ms:
            r.fwd_vs_exact = ref.forward_ms / r.forward_ms
            r.step_vs_exact = ref.step_ms / r.step_ms
        if ref and ref.graphed_ms and r.graphed_ms:
            r.graphed_vs_exact = ref.graphed_ms / r.graphed_ms


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def to_markdown(records: Sequence[Record]) -> str:
    header = "| " + " | ".join(RECORD_COLUMNS) + " |"
    rule = "|" + "---|" * len(RECORD_COLUMNS)
    rows = ["| " + " | ".join(_fmt(getattr(r, c)) for c in RECORD_COLUMNS) + " |" for r in records]
    return "\n".join([header, rule, *rows])


def plot_records(records: Sequence[Record], path: Path) -> None:
    """Bar chart of forward and train-step time per (case, solver/baseline), log scale."""
    from .plotting import plt

    done = [r for r in records if r.forward_ms]
    if not done:
        return
    labels = [f"{r.case}\n{r.solver if r.model == 'qkan' else r.model}" for r in done]
    fig, ax = plt.subplots(figsize=(max(6, 0.9 * len(done)), 4))
    pos = torch.arange(len(done)).float()
    ax.bar(pos - 0.2, [r.forward_ms for r in done], 0.4, label="forward")
    ax.bar(pos + 0.2, [r.step_ms for r in done], 0.4, label="train step")
    ax.set_yscale("log")
    ax.set_ylabel("ms (median)")
    ax.set_xticks(pos.tolist(), labels, fontsize=7)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def write_outputs(records: Sequence[Record], out_dir: Union[str, Path], device: str) -> dict[str, str]:
    """bench.md, bench.json (with the machine described) and bench.png under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    machine = {"device": device, "torch": torch.__version__,
               "gpu": torch.cuda.get_device_name() if device.startswith("cuda") else None,
               "date": time.strftime("%Y-%m-%d %H:%M")}
    (out / "bench.md").write_text(to_markdown(records) + "\n")
    (out / "bench.json").write_text(json.dumps({"machine": machine, "records": [asdict(r) for r in records]}, indent=1))
    plot_records(records, out / "bench.png")
    return {"markdown": str(out / "bench.md"), "json": str(out / "bench.json"), "plot": str(out / "bench.png")}


def sweep(ansatz: Union[str, Circuit] = "pz", solvers: Sequence[str] = ("exact",), batches: Sequence[int] = (64, 256),
          widths: Sequence[int] = (4, 16), device: Union[str, torch.device, None] = None, repeats: int = 3,
          progress: bool = True) -> list[dict[str, Any]]:
    """Forward and train-step time of QKAN([w, w]) for every (solver, batch, width), with peak extra
    memory measured on CUDA and the solver's own estimate (``Solver.estimate_bytes``) everywhere."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    ansatz = load_ansatz(ansatz)
    rows = []
    grid = [(s, b, w) for s in solvers for b in batches for w in widths]
    for solver, batch, width in tqdm(grid, desc="sweep", disable=not progress):
        case = _regression_case(f"{width}x{width}", [width, width], batch, "")
        try:
            rec = run_one(case, solver, ansatz, device, repeats, loss_steps=1)
        except (ValueError, ImportError, RuntimeError) as err:
            rows.append({"solver": solver, "batch": batch, "width": width, "note": f"skipped: {err}"})
            continue
        layer = _sweep_layer(ansatz, width, solver, device)
        estimate = get_solver(solver).estimate_bytes(layer.circuit, layer.geometry, layer.theta.dtype, batch)
        rows.append({"solver": solver, "batch": batch, "width": width, "forward_ms": rec.forward_ms,
                     "step_ms": rec.step_ms, "peak_mib": rec.peak_mib, "estimated_mib": estimate / 2 ** 20})
    return rows


def _sweep_layer(ansatz: Ansatz, width: int, solver: str, device: torch.device):
    """The first layer of the sweep's model, for its circuit and geometry."""
    return QKAN([width, width], reps=_reps_for(ansatz), solver=solver, ansatz=ansatz, device=device).layers[0]


def plot_sweep(rows: Sequence[dict[str, Any]], path: Optional[Union[str, Path]] = None):
    """Train-step time and memory (measured, else estimated) against batch, one line per (solver, width)."""
    from .plotting import plt

    fig, (ax_t, ax_m) = plt.subplots(1, 2, figsize=(10, 4))
    done = [r for r in rows if "step_ms" in r]
    for solver, width in sorted({(r["solver"], r["width"]) for r in done}):
        sel = sorted((r for r in done if r["solver"] == solver and r["width"] == width), key=lambda r: r["batch"])
        batches = [r["batch"] for r in sel]
        ax_t.loglog(batches, [r["step_ms"] for r in sel], marker="o", label=f"{solver}, {width}x{width}")
        memory = [r["peak_mib"] if r["peak_mib"] is not None else r["estimated_mib"] for r in sel]
        ax_m.loglog(batches, memory, marker="o", label=f"{solver}, {width}x{width}")
    ax_t.set_xlabel("batch")
    ax_t.set_ylabel("train step (ms, median)")
    ax_m.set_xlabel("batch")
    ax_m.set_ylabel("peak extra memory (MiB; estimated on CPU)")
    ax_t.legend(fontsize=7)
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
