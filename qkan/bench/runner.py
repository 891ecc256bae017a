"""Measure the ``qkan bench`` cases: one Record per (case, solver, ansatz) or (case, baseline) with init,
forward (median, and host/GPU µs per call), train step, optional CUDA-graphed step, memory, loss and the
deviation from a float64 exact reference."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

import torch
from torch import nn
from tqdm.auto import tqdm

from qkan.circuits import Circuit
from qkan.solvers import get_solver

from ..layer import Ansatz
from ..training.trainer import first_line
from .cases import CASE_NAMES, DEFAULT_CASES, Case, ansatz_label, baseline_model, load_ansatz, make_cases
from .timing import HOST_CALLS, host_and_gpu_us, sync, time_ms

GRAPH_REPLAYS = 50  # replays per timed sample of a graphed step (one replay is shorter than the events' overhead)
GRAPH_WARMUP = 5  # untimed samples of replays first, as for every other timing (H200, wide flash: 0.191 ms
# after 1 warm-up sample, 0.192 ms after 5)
DEVIATION_ROWS = 256
CPU_LOSS_STEPS = 5


@dataclass
class Record:
    """One row of the results table (times in ms or µs, memory in MiB; None where not measured)."""

    case: str
    model: str
    solver: str
    ansatz: str
    params: int = 0
    init_ms: Optional[float] = None
    forward_ms: Optional[float] = None
    host_us: Optional[float] = None
    gpu_us: Optional[float] = None
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


def _build(case: Case, solver: str, ansatz: Ansatz, device: torch.device, baseline: Optional[str]) -> nn.Module:
    """The case's model (or the baseline stack), seeded so every solver starts from the same weights."""
    torch.manual_seed(0)
    if not baseline:
        return case.build(solver, ansatz, device)
    assert case.width is not None, f"case {case.name!r} has no width for a baseline"  # run_bench skips those
    return baseline_model(baseline, case.width, device)


def _train_step(
    model: nn.Module, opt: torch.optim.Optimizer, case: Case, x: torch.Tensor, y: torch.Tensor
) -> torch.Tensor:
    opt.zero_grad(set_to_none=True)
    loss = case.loss(model(x), y)
    loss.backward()
    opt.step()
    return loss


def run_one(
    case: Case,
    solver: str,
    ansatz: Ansatz,
    device: torch.device,
    repeats: int,
    reference: Optional[nn.Module] = None,
    baseline: Optional[str] = None,
    loss_steps: Optional[int] = None,
    graphed: bool = False,
) -> Record:
    """Measure one (case, solver/baseline, ansatz): init, forward (and its host/GPU µs per call), train step,
    memory, loss, deviation; with ``graphed`` (CUDA) also the train step captured once and replayed
    (``qkan.make_graphed_train_step``)."""
    rec = Record(case.name, baseline or "qkan", "-" if baseline else solver, "-" if baseline else ansatz_label(ansatz))
    sync(device)
    t0 = time.perf_counter()
    model = _build(case, solver, ansatz, device, baseline)
    sync(device)
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
    rec.host_us, rec.gpu_us = host_and_gpu_us(forward, device, HOST_CALLS if device.type == "cuda" else repeats)
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
    sync(device)
    rec.total_s = time.perf_counter() - t0
    if device.type == "cuda":
        rec.peak_mib = max(peaks) / 2**20
        rec.avg_mib = statistics.mean(peaks) / 2**20
    if graphed:  # after the memory columns: a captured graph keeps its own buffers, which they would count
        _time_graphed(rec, *timed, case, x, y, device, repeats)
    return rec


def _time_graphed(
    rec: Record,
    model: nn.Module,
    opt: torch.optim.Optimizer,
    case: Case,
    x: torch.Tensor,
    y: torch.Tensor,
    device: torch.device,
    repeats: int,
) -> None:
    """rec.graphed_ms: median over ``repeats`` of GRAPH_REPLAYS replays of the captured step, per step; a model
    that cannot be captured gets a note instead."""
    from ..graphs import make_graphed_train_step

    try:
        step = make_graphed_train_step(model, case.loss, opt, x, y)
    except RuntimeError as err:
        rec.note = f"graphed step not captured: {first_line(err)}"
        return

    def replays() -> None:
        for _ in range(GRAPH_REPLAYS):
            step(x, y)

    rec.graphed_ms = time_ms(replays, device, repeats, warmup=GRAPH_WARMUP) / GRAPH_REPLAYS


def run_bench(
    cases: Optional[Sequence[str]] = None,
    solvers: Sequence[str] = ("exact", "flash", "cutn"),
    ansatzes: Sequence[Union[str, Circuit]] = ("pz",),
    baselines: Sequence[str] = (),
    device: Union[str, torch.device, None] = None,
    repeats: int = 5,
    progress: bool = True,
    loss_steps: Optional[int] = None,
    tiny: bool = False,
    graphed: bool = False,
) -> list[Record]:
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
    jobs: list[tuple[str, str, Ansatz, Optional[str]]]
    jobs = [(c, s, load_ansatz(a), None) for c in cases for a in ansatzes for s in solvers]
    jobs += [(c, "-", "-", b) for c in cases for b in baselines if all_cases[c].width]
    records: list[Record] = []
    for case_name, solver, ansatz, baseline in tqdm(jobs, desc="bench", disable=not progress):
        case = all_cases[case_name]
        try:
            reference = None
            if not baseline:
                get_solver(solver)  # an unknown name is reported before any model is built
            if not baseline and solver != "exact":
                reference = case.build("exact", ansatz, device).double()
            steps = loss_steps or (min(case.loss_steps, CPU_LOSS_STEPS) if device.type == "cpu" else None)
            rec = run_one(case, solver, ansatz, device, repeats, reference, baseline, steps, graphed)
        except (ValueError, ImportError, RuntimeError) as err:  # unsupported solver, missing model, OOM
            rec = Record(
                case_name, baseline or "qkan", solver, ansatz_label(ansatz), note=f"skipped: {first_line(err)}"
            )
        records.append(rec)
    _add_ratios(records)
    return records


def _add_ratios(records: list[Record]) -> None:
    exact = {(r.case, r.ansatz): r for r in records if r.solver == "exact" and r.forward_ms}
    for r in records:
        ref = exact.get((r.case, r.ansatz))
        if ref and ref.forward_ms and r.forward_ms:
            r.fwd_vs_exact = ref.forward_ms / r.forward_ms
        if ref and ref.step_ms and r.step_ms:
            r.step_vs_exact = ref.step_ms / r.step_ms
        if ref and ref.graphed_ms and r.graphed_ms:
            r.graphed_vs_exact = ref.graphed_ms / r.graphed_ms
