"""``qkan bench --gpt-modes``: the GPT-2-small train step (12 layers, 12 heads, 768 wide, block 1024, batch 1,
AdamW) with four feed-forwards, each in eager, compile, bf16 autocast and compile+bf16, against the
Linear-bottleneck floor in the same mode. The floor, Linear(768,10) -> GELU -> Linear(10,768), is what the
QKAN feed-forward, Linear(768,10) -> QKAN([10,10], reps=1) -> Linear(10,768), costs without its circuits."""

from __future__ import annotations

import contextlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional, Sequence, Union

import torch
from tqdm.auto import tqdm

from ..training.trainer import first_line
from .report import machine, markdown_table
from .timing import sync, time_ms

VARIANTS = ("floor", "qkan-flash", "qkan-exact", "mlp")
MODES = ("eager", "compile", "bf16", "compile+bf16")
MODE_COLUMNS = ("variant", "mode", "ms_per_step", "tokens_per_s", "peak_mib", "graph_breaks", "vs_floor", "note")
FLOOR = "floor"


@dataclass(frozen=True)
class GPTSize:
    """A GPT shape for the mode table; ``bottleneck`` is the floor's and the QKAN feed-forward's width."""

    vocab: int
    block: int
    n_layer: int
    n_head: int
    n_embd: int
    batch: int
    bottleneck: int


GPT2_SMALL = GPTSize(vocab=50257, block=1024, n_layer=12, n_head=12, n_embd=768, batch=1, bottleneck=10)
TINY = GPTSize(vocab=96, block=16, n_layer=2, n_head=2, n_embd=32, batch=2, bottleneck=5)


@dataclass
class ModeRecord:
    """One row of the mode table (None where not measured; ``note`` holds a failed mode's error)."""

    variant: str
    mode: str
    ms_per_step: Optional[float] = None
    tokens_per_s: Optional[float] = None
    peak_mib: Optional[float] = None
    graph_breaks: Optional[int] = None
    vs_floor: Optional[float] = None
    note: str = ""


def build_variant(variant: str, size: GPTSize, device: torch.device) -> torch.nn.Module:
    """The GPT with the named feed-forward: "floor" (the Linear bottleneck with GELU, swapped into each block),
    "qkan-flash"/"qkan-exact" (HQKAN with reps=1 on that solver), "mlp" (the 4x-wide MLP)."""
    from ..models import GPT
    from ..models.gpt import MLP

    if variant not in VARIANTS:
        raise ValueError(f"unknown GPT variant {variant!r}; expected some of {list(VARIANTS)}")

    def gpt(**kwargs: Any) -> GPT:
        return GPT(size.vocab, size.block, n_layer=size.n_layer, n_head=size.n_head, n_embd=size.n_embd, **kwargs)

    torch.manual_seed(0)
    if variant.startswith("qkan-"):
        solver = variant.removeprefix("qkan-")
        model = gpt(mlp="hqkan", solver=solver, reps=1, mlp_kwargs={"e": size.bottleneck})
    elif variant == "mlp":
        model = gpt(mlp="mlp")
    else:
        model = gpt(mlp="mlp", mlp_ratio=1)
        for block in model.blocks:
            block.mlp = MLP(size.n_embd, size.bottleneck, bias=True)
    return model.to(device)


def _split_mode(mode: str) -> tuple[bool, bool]:
    if mode not in MODES:
        raise ValueError(f"unknown mode {mode!r}; expected some of {list(MODES)}")
    return mode.startswith("compile"), mode.endswith("bf16")


def graph_breaks(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, bf16: bool) -> int:
    """Graph breaks dynamo finds in the model's forward (with targets, so the loss too), under the mode's
    autocast."""
    torch._dynamo.reset()
    with _autocast(x.device, bf16):
        return torch._dynamo.explain(model)(x, y).graph_break_count


def _autocast(device: torch.device, bf16: bool) -> contextlib.AbstractContextManager:
    return torch.autocast(device.type, dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()


def measure_mode(variant: str, mode: str, size: GPTSize, device: torch.device, repeats: int, warmup: int) -> ModeRecord:
    """Time one (variant, mode) train step: median ms of ``repeats`` after ``warmup`` (which compiles), tokens/s,
    peak allocated MiB (CUDA) and, when compiled, graph breaks; a failure is recorded as one line in ``note``."""
    record = ModeRecord(variant, mode)
    compiled, bf16 = _split_mode(mode)
    try:
        model = build_variant(variant, size, device)
        gen = torch.Generator().manual_seed(0)
        idx = torch.randint(size.vocab, (size.batch, size.block + 1), generator=gen).to(device)
        x, y = idx[:, :-1], idx[:, 1:]
        optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
        if compiled:
            record.graph_breaks = graph_breaks(model, x, y, bf16)
            torch._dynamo.reset()
        net = torch.compile(model) if compiled else model

        def step() -> None:
            optimizer.zero_grad(set_to_none=True)
            with _autocast(device, bf16):
                loss = net(x, y)[1]
            loss.backward()
            optimizer.step()

        if device.type == "cuda":
            sync(device)
            torch.cuda.reset_peak_memory_stats(device)
        record.ms_per_step = time_ms(step, device, repeats, warmup)
        record.tokens_per_s = size.batch * size.block / (record.ms_per_step / 1e3)
        if device.type == "cuda":
            record.peak_mib = torch.cuda.max_memory_allocated(device) / 2**20
    except Exception as err:  # noqa: BLE001 - compile, autocast and solvers fail in many types; the cell says why
        record.note = f"failed: {first_line(err)}"
    finally:
        if device.type == "cuda":
            torch.cuda.empty_cache()
    return record


def run_gpt_modes(
    variants: Sequence[str] = VARIANTS,
    modes: Sequence[str] = MODES,
    device: Union[str, torch.device, None] = None,
    tiny: bool = False,
    repeats: int = 5,
    warmup: int = 3,
    progress: bool = True,
) -> list[ModeRecord]:
    """Every (variant, mode) of the GPT-2-small step (``tiny``: a 2-layer, 32-wide GPT for smoke runs) on
    ``device`` (default: CUDA when available); ``vs_floor`` is ms/step over the floor's in the same mode."""
    device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
    unknown = [v for v in variants if v not in VARIANTS]
    if unknown:
        raise ValueError(f"unknown GPT variant(s) {unknown}; expected some of {list(VARIANTS)}")
    for mode in modes:
        _split_mode(mode)
    size = TINY if tiny else GPT2_SMALL
    jobs = [(v, m) for v in variants for m in modes]
    records = [
        measure_mode(v, m, size, device, repeats, warmup) for v, m in tqdm(jobs, desc="gpt modes", disable=not progress)
    ]
    floor = {r.mode: r.ms_per_step for r in records if r.variant == FLOOR and r.ms_per_step}
    for r in records:
        if r.ms_per_step and r.mode in floor:
            r.vs_floor = r.ms_per_step / floor[r.mode]
    return records


def gpt_modes_markdown(records: Sequence[ModeRecord]) -> str:
    return markdown_table(MODE_COLUMNS, [[getattr(r, c) for c in MODE_COLUMNS] for r in records])


def write_gpt_modes(
    records: Sequence[ModeRecord], out_dir: Union[str, Path], device: str, tiny: bool = False
) -> dict[str, str]:
    """gpt_modes.md and gpt_modes.json (with the machine and the GPT shape) under ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    size = TINY if tiny else GPT2_SMALL
    (out / "gpt_modes.md").write_text(gpt_modes_markdown(records) + "\n")
    payload = {"machine": machine(device), "gpt": asdict(size), "records": [asdict(r) for r in records]}
    (out / "gpt_modes.json").write_text(json.dumps(payload, indent=1))
    return {"markdown": str(out / "gpt_modes.md"), "json": str(out / "gpt_modes.json")}
