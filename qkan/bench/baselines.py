"""``qkan bench --cases baselines``: our classical KAN layers against reference implementations on the current
device (forward, forward+backward, peak memory, parity of values and input gradients), and FastKAN (both
bases) against BSplineKAN and an MLP of equal parameter count.

References: KANditioned's KANLayer (``pip install kanditioned``; rows skipped when absent), and the published
algorithms of efficient-kan and fast-kan re-implemented here as bench-only reference modules (their whole
(batch, in, K) basis, one matmul, torch autograd through everything), never shipped as layers.
"""

from __future__ import annotations

import copy
import functools
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Optional, Union

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..baselines import MLP, BSplineKAN, FastKAN, RationalKAN, SplineKAN
from ..baselines.bspline import bspline_basis
from .report import machine, markdown_table
from .timing import sync, time_interleaved_ms

SPLINE_GRIDS = (8, 32, 128, 256)
RATIONAL_SHAPES = ((8 * 197, 768), (1024, 256), (4096, 1024))  # (rows, features): ViT-B batch 8, and two more
COLUMNS = (
    "layer",
    "reference",
    "shape",
    "grid",
    "fwd_ms",
    "ref_fwd_ms",
    "fwd_speedup",
    "step_ms",
    "ref_step_ms",
    "step_speedup",
    "peak_mib",
    "ref_peak_mib",
    "parity_y",
    "parity_dx",
    "f64_y",
    "f64_dx",
    "note",
)


@dataclass
class Comparison:
    """One row: our layer and a reference at one shape (times in ms, memory in MiB; parity: max relative
    difference of outputs and input gradients from the reference, f64: ours from our layer in float64;
    None where not measured)."""

    layer: str
    reference: str
    shape: str
    grid: int
    fwd_ms: Optional[float] = None
    ref_fwd_ms: Optional[float] = None
    fwd_speedup: Optional[float] = None
    step_ms: Optional[float] = None
    ref_step_ms: Optional[float] = None
    step_speedup: Optional[float] = None
    peak_mib: Optional[float] = None
    ref_peak_mib: Optional[float] = None
    parity_y: Optional[float] = None
    parity_dx: Optional[float] = None
    f64_y: Optional[float] = None
    f64_dx: Optional[float] = None
    note: str = ""


class EfficientKANReference(nn.Module):
    """efficient-kan's KANLinear algorithm (re-implemented for the bench) on a BSplineKAN's parameters."""

    def __init__(self, layer: BSplineKAN):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.layer
        bases = bspline_basis(x, m.grid, m.spline_order).flatten(1)
        scaled = (m.spline_weight * m.spline_scaler[..., None]).reshape(m.out_dim, -1)
        return F.linear(F.silu(x), m.base_weight) + F.linear(bases, scaled)


class FastKANReference(nn.Module):
    """fast-kan's FastKANLayer algorithm (re-implemented for the bench) on a FastKAN's parameters."""

    def __init__(self, layer: FastKAN):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.layer
        z = m.layernorm(x)
        basis = torch.exp(-(((z[..., None] - m.centers) / m.width) ** 2))
        y = F.linear(basis.flatten(-2), m.spline_weight.reshape(m.out_dim, -1))
        return y + F.linear(F.silu(x), m.base_weight, m.base_bias)


class RationalActivation(nn.Module):
    """A RationalKAN's group-rational unit alone (what FlashKAT's kernels compute)."""

    def __init__(self, layer: RationalKAN):
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layer.activation(x)


class FlashKATActivation(RationalActivation):
    """The same unit with the bench re-implementation of FlashKAT's backward (CUDA float32)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        from .flashkat_reference import FlashKATRational

        return FlashKATRational.apply(x, self.layer.numerator, self.layer.denominator)


def kanditioned_layer(ours: SplineKAN) -> Optional[nn.Module]:
    """KANditioned's embedding_bag KANLayer holding our knot values (its grid is symmetric about 0), or None
    when the package is not installed."""
    try:
        from KANditioned import KANLayer
    except ImportError:
        return None
    low, high = ours.grid_range
    layer = KANLayer(ours.in_dim, ours.out_dim, "zero", ours.grid_size + 1, high - low, impl="embedding_bag")
    with torch.no_grad():
        layer.kan_weight.copy_(ours.knot_values)
    return layer.to(ours.knot_values.device)


def _relative(value: torch.Tensor, reference: torch.Tensor) -> float:
    scale = reference.double().abs().max().clamp_min(1e-30)
    return ((value.double() - reference.double()).abs().max() / scale).item()


def _forward_and_step(model: nn.Module, x: torch.Tensor) -> tuple[Callable[[], None], Callable[[], None]]:
    """The two timed calls: a forward without autograd, and a forward+backward (no optimizer)."""
    leaf = x.detach().requires_grad_(True)

    def forward() -> None:
        with torch.no_grad():
            model(x)

    def step() -> None:
        model.zero_grad(set_to_none=True)
        model(leaf).square().mean().backward()

    return forward, step


def _peak_mib(model: nn.Module, step: Callable[[], None], device: torch.device) -> Optional[float]:
    """Peak MiB that ``step``, a forward+backward of ``model``, allocates on CUDA (None on CPU)."""
    if device.type != "cuda":
        return None
    model.zero_grad(set_to_none=True)
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated(device)
    torch.cuda.reset_peak_memory_stats(device)
    step()
    sync(device)
    return (torch.cuda.max_memory_allocated(device) - base) / 2**20


def _measure(models: list[nn.Module], x: torch.Tensor, device: torch.device, repeats: int) -> list[tuple]:
    """(forward ms, forward+backward ms, peak MiB or None on CPU) per model, the models timed in turn."""
    calls = [_forward_and_step(model, x) for model in models]
    forward_ms = time_interleaved_ms([forward for forward, _ in calls], device, repeats)
    step_ms = time_interleaved_ms([step for _, step in calls], device, repeats)
    return [
        (f, s, _peak_mib(model, step, device)) for f, s, model, (_, step) in zip(forward_ms, step_ms, models, calls)
    ]


def _float64_copy(model: nn.Module) -> nn.Module:
    return copy.deepcopy(model).double()


def _parity(ours: nn.Module, reference: nn.Module, x: torch.Tensor) -> tuple[float, float]:
    """Max relative differences of outputs and input gradients (the reference runs at its own dtype)."""
    dtype = next(reference.parameters()).dtype
    a, b = x.detach().clone().requires_grad_(True), x.detach().to(dtype).clone().requires_grad_(True)
    ya, yb = ours(a), reference(b)
    g = torch.randn_like(ya)
    ya.backward(g)
    yb.backward(g.to(dtype))
    assert a.grad is not None and b.grad is not None
    return _relative(ya, yb), _relative(a.grad, b.grad)


def compare(
    name: str,
    ref_name: str,
    ours: nn.Module,
    reference: Optional[nn.Module],
    x: torch.Tensor,
    grid: int,
    device: torch.device,
    repeats: int,
) -> Comparison:
    """Measure ``ours`` and ``reference`` (None: the row says the reference is not installed) on ``x``."""
    row = Comparison(name, ref_name, f"{x.shape[1]}->{ours(x[:1]).shape[-1]} B{x.shape[0]}", grid)
    row.f64_y, row.f64_dx = _parity(ours, _float64_copy(ours), x)
    if reference is None:
        ((row.fwd_ms, row.step_ms, row.peak_mib),) = _measure([ours], x, device, repeats)
        row.note = f"{ref_name} not installed"
        return row
    row.parity_y, row.parity_dx = _parity(ours, reference, x)
    mine, theirs = _measure([ours, reference], x, device, repeats)
    (row.fwd_ms, row.step_ms, row.peak_mib), (row.ref_fwd_ms, row.ref_step_ms, row.ref_peak_mib) = mine, theirs
    row.fwd_speedup, row.step_speedup = row.ref_fwd_ms / row.fwd_ms, row.ref_step_ms / row.step_ms
    return row


def sizes(device: torch.device, tiny: bool) -> tuple[int, int]:
    """(width, batch): the issue's 1024->1024 B4096 on CUDA, 256->256 B1024 on CPU, 16->16 B32 tiny."""
    if tiny:
        return 16, 32
    return (1024, 4096) if device.type == "cuda" else (256, 1024)


def run_baselines(
    device: torch.device, repeats: int = 5, tiny: bool = False, progress: bool = True
) -> list[Comparison]:
    """Every comparison row of the ``baselines`` case on ``device``."""
    width, batch = sizes(device, tiny)
    gen = torch.Generator().manual_seed(0)
    x = (torch.rand(batch, width, generator=gen) * 2 - 1).to(device)
    jobs: list[Callable[[], Comparison]] = []
    for grid in SPLINE_GRIDS if not tiny else (8, 32):

        def spline_row(grid: int = grid) -> Comparison:
            torch.manual_seed(0)
            ours = SplineKAN(width, width, grid_size=grid, device=device)
            return compare("SplineKAN", "KANditioned", ours, kanditioned_layer(ours), x, grid, device, repeats)

        jobs.append(spline_row)

    def bspline_row() -> Comparison:
        torch.manual_seed(0)
        ours = BSplineKAN(width, width, device=device)
        return compare(
            "BSplineKAN", "efficient-kan (bench re-impl.)", ours, EfficientKANReference(ours), x, 5, device, repeats
        )

    def fastkan_row(basis: str) -> Comparison:
        torch.manual_seed(0)
        ours = FastKAN(width, width, basis=basis, device=device)
        reference = FastKANReference(ours) if basis == "gaussian" else None
        row = compare(f"FastKAN ({basis})", "fast-kan (bench re-impl.)", ours, reference, x, 8, device, repeats)
        if reference is None:
            row.note = "fast-kan has no expit basis"
        return row

    def mlp_row() -> Comparison:
        torch.manual_seed(0)
        n_params = sum(p.numel() for p in FastKAN(width, width).parameters())
        model = MLP.matched(width, width, n_params, device=device)
        row = compare("MLP (FastKAN's parameter count)", "-", model, None, x, 0, device, repeats)
        row.note = f"hidden {model.hidden}"
        return row

    def rational_row(rows: int, dim: int) -> Comparison:
        torch.manual_seed(0)
        ours = RationalActivation(RationalKAN(dim, 1, groups=8, device=device))
        kernels = device.type == "cuda" and x.dtype == torch.float32
        reference = FlashKATActivation(ours.layer) if kernels else None
        inputs = torch.randn(rows, dim, generator=gen).to(device)
        row = compare("RationalKAN unit", "FlashKAT (bench re-impl.)", ours, reference, inputs, 0, device, repeats)
        if reference is None:
            row.note = "FlashKAT's kernels need CUDA float32"
        return row

    jobs += [bspline_row, lambda: fastkan_row("gaussian"), lambda: fastkan_row("expit"), mlp_row]
    for n_rows, dim in RATIONAL_SHAPES if not tiny else ((32, 16),):
        jobs.append(functools.partial(rational_row, n_rows, dim))
    rows: list[Comparison] = []
    for job in tqdm(jobs, desc="baselines", disable=not progress):
        try:
            rows.append(job())
        except RuntimeError as err:  # out of memory on a small device: the row says so
            rows.append(Comparison("?", "?", f"{width}->{width} B{batch}", 0, note=f"skipped: {err}"))
    return rows


def baselines_markdown(rows: list[Comparison]) -> str:
    return markdown_table(COLUMNS, [[getattr(r, c) for c in COLUMNS] for r in rows])


def write_baselines(rows: list[Comparison], out_dir: Union[str, Path], device: str) -> str:
    """baselines.md and baselines.json (with the machine described) under ``out_dir``; returns the JSON path."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "baselines.md").write_text(baselines_markdown(rows) + "\n")
    payload = {"machine": machine(device), "rows": [asdict(r) for r in rows]}
    (out / "baselines.json").write_text(json.dumps(payload, indent=1))
    return str(out / "baselines.json")
