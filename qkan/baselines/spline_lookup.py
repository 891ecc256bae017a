"""Constant-time piecewise-linear lookup for SplineKAN, flat in the grid size G.

    y[n, o] = sum_i (1 - t) V[i, k, o] + t V[i, k + 1, o],   u = (x[n, i] - low) / h,
    k = clamp(floor(u), 0, G - 1),  t = u - k  (outside the grid t < 0 or t > 1: the end segment continues),

V (in_dim, G + 1, out_dim) the knot values laid out as a gather table. Each (sample, edge) costs two
table rows whatever G is. On CPU the forward is embedding_bag over blocks of inputs small enough for
the cache, and the backward gathers per-(sample, edge) slopes with a sampled matmul (grad x) and sums
the upstream gradient over each knot's sorted segment of samples (grad V; for small G one matmul with
the dense hat basis is cheaper than the sort), all fixed-order and so reproducible. CUDA float32/float64
inputs use the kernels of spline_cuda.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

from .basis_contraction import input_blocks

CACHE_BYTES = 4 << 20  # table bytes one embedding_bag call may touch (about an L2/L3 share of one core)
DENSE_GRADIENT_MAX_GRID = 10  # up to this G, grad V as hat-basis matmuls beats sort + gather (docs/notes/baselines.md)


def segments(x: torch.Tensor, low: float, inv_step: float, grid_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(k, t) for x (N, I): segment index (int64) and position in it. NaN picks segment 0 (cast to int it
    would index anywhere) and keeps t NaN, so the output row is NaN; t carries x's autograd graph."""
    u = (x - low) * inv_step
    k = torch.floor(u.detach()).nan_to_num_(0.0).clamp_(0, grid_size - 1)
    return k.long(), u - k


def inputs_per_call(grid_size: int, out_dim: int, itemsize: int) -> int:
    """How many inputs' table slices (G + 1 rows of out_dim) one embedding_bag call gathers from."""
    return max(1, CACHE_BYTES // ((grid_size + 1) * out_dim * itemsize))


def lookup_rows(k: torch.Tensor, grid_size: int) -> torch.Tensor:
    """(N, 2 I) flat table rows (k, k + 1) of each (sample, input) for a table of G + 1 rows per input."""
    inputs = torch.arange(k.shape[1], device=k.device)
    low = k + inputs * (grid_size + 1)
    return torch.stack((low, low + 1), dim=2).reshape(k.shape[0], 2 * k.shape[1])


def lerp_weights(t: torch.Tensor) -> torch.Tensor:
    """(N, 2 I) weights (1 - t, t) matching lookup_rows."""
    return torch.stack((1 - t, t), dim=2).reshape(t.shape[0], 2 * t.shape[1])


def forward_torch(table: torch.Tensor, k: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    """y (N, O) from the table (I, G + 1, O), by embedding_bag over cache-sized blocks of inputs."""
    n, in_dim = k.shape
    grid_size, out_dim = table.shape[1] - 1, table.shape[2]
    block = inputs_per_call(grid_size, out_dim, table.element_size())
    flat = table.reshape(-1, out_dim)
    y = None
    for start in range(0, in_dim, block):
        stop = min(in_dim, start + block)
        part = F.embedding_bag(
            lookup_rows(k[:, start:stop], grid_size),
            flat[start * (grid_size + 1) : stop * (grid_size + 1)],
            per_sample_weights=lerp_weights(t[:, start:stop]),
            mode="sum",
        )
        y = part if y is None else y.add_(part)
    assert y is not None  # in_dim >= 1
    return y


def slope_products(table: torch.Tensor, k: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """(N, I): sum_o grad[n, o] (V[i, k + 1, o] - V[i, k, o]), the upstream gradient against each edge's
    segment slope (times h). Per cache-sized block of inputs the knot differences are taken first (two dots
    subtracted would cancel: V grows like G times the slope) and one sampled matmul picks segment k."""
    n, in_dim = k.shape
    grid_size, out_dim = table.shape[1] - 1, table.shape[2]
    block = inputs_per_call(grid_size, out_dim, table.element_size())
    out = torch.empty(n, in_dim, dtype=table.dtype, device=table.device)
    for start in range(0, in_dim, block):
        stop = min(in_dim, start + block)
        differences = torch.diff(table[start:stop], dim=1).reshape(-1, out_dim)  # ((stop - start) G, O)
        columns = k[:, start:stop] + torch.arange(stop - start, device=k.device) * grid_size
        with warnings.catch_warnings():  # "sparse CSR support is in beta"
            warnings.simplefilter("ignore", UserWarning)
            pattern = torch.sparse_csr_tensor(
                torch.arange(0, (n + 1) * (stop - start), stop - start, device=table.device),
                columns.flatten(),
                torch.ones(columns.numel(), dtype=table.dtype, device=table.device),
                size=(n, (stop - start) * grid_size),
                check_invariants=False,
            )
        dots = torch.sparse.sampled_addmm(pattern, grad, differences.T, beta=0.0).values()
        out[:, start:stop] = dots.view(n, stop - start)
    return out


def hat_basis(k: torch.Tensor, t: torch.Tensor, grid_size: int) -> torch.Tensor:
    """(N, I, G + 1) dense weights of the knots: 1 - t at k, t at k + 1, zero elsewhere."""
    basis = t.new_zeros(*k.shape, grid_size + 1)
    basis.scatter_(2, k[..., None], (1 - t)[..., None])
    return basis.scatter_(2, k[..., None] + 1, t[..., None])


def table_gradient_dense(k: torch.Tensor, t: torch.Tensor, grad: torch.Tensor, grid_size: int) -> torch.Tensor:
    """dL/dV (I, G + 1, O) = hat_basis^T grad, one matmul per block of inputs (the blocks of basis_contraction)."""
    n, in_dim = k.shape
    dv = grad.new_empty(in_dim, grid_size + 1, grad.shape[1])
    for start, stop in input_blocks(n, in_dim, grid_size + 1, grad.element_size()):
        basis = hat_basis(k[:, start:stop], t[:, start:stop], grid_size).flatten(1)
        torch.mm(basis.T, grad, out=dv[start:stop].view(-1, grad.shape[1]))
    return dv


def table_gradient_torch(k: torch.Tensor, t: torch.Tensor, grad: torch.Tensor, grid_size: int) -> torch.Tensor:
    """dL/dV (I, G + 1, O): knot row (i, j) sums grad[n] t over the samples of run (i, j - 1) (segment j - 1
    of input i) and grad[n] (1 - t) over run (i, j). The (sample, input) pairs are sorted by run (a stable
    sort of int32 keys where they fit), each run is written twice in a row (as the upper knot's entries of
    one row and the lower knot's of the next), and embedding_bag sums each row's entries once, in a fixed
    order. Up to DENSE_GRADIENT_MAX_GRID, table_gradient_dense instead."""
    if grid_size <= DENSE_GRADIENT_MAX_GRID:
        return table_gradient_dense(k, t, grad, grid_size)
    n, in_dim = k.shape
    key = torch.int32 if in_dim * grid_size < 2**31 else torch.int64  # int32 keys sort faster
    inputs = torch.arange(in_dim, dtype=key, device=k.device)[:, None]
    runs = (k.T.to(key) + inputs * grid_size).flatten()  # input-major: entry e is (input e // n, sample e % n)
    sorted_runs, order = torch.sort(runs, stable=True)
    counts = torch.bincount(runs, minlength=in_dim * grid_size)
    starts = torch.cumsum(counts, 0) - counts
    lower = torch.arange(n * in_dim, device=k.device) + starts[sorted_runs]  # where each entry's first copy goes
    upper = lower + counts[sorted_runs]
    samples, position = order % n, t.T.flatten()[order]
    indices = torch.empty(2 * n * in_dim, dtype=torch.long, device=k.device)
    weights = torch.empty(2 * n * in_dim, dtype=t.dtype, device=t.device)
    indices[lower], indices[upper] = samples, samples
    weights[lower], weights[upper] = 1 - position, position
    offsets = torch.empty(in_dim, grid_size + 1, dtype=torch.long, device=k.device)
    starts, counts = starts.view(in_dim, grid_size), counts.view(in_dim, grid_size)
    offsets[:, 0] = 2 * starts[:, 0]
    offsets[:, 1:] = 2 * starts + counts
    dv = F.embedding_bag(indices, grad, offsets.flatten(), per_sample_weights=weights, mode="sum")
    return dv.view(in_dim, grid_size + 1, -1)


class SplineLookupTorch(torch.autograd.Function):
    """y = lookup(x, V) in torch (the CPU path; any device) with the backward above (grad x from the local slope)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, table: torch.Tensor, low: float, inv_step: float) -> torch.Tensor:
        grid_size = table.shape[1] - 1
        k, t = segments(x, low, inv_step, grid_size)
        ctx.save_for_backward(x, table)
        ctx.constants = (low, inv_step)
        return forward_torch(table.detach(), k, t)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, table = ctx.saved_tensors
        low, inv_step = ctx.constants
        grid_size = table.shape[1] - 1
        k, t = segments(x, low, inv_step, grid_size)
        grad = grad.contiguous()
        dx = slope_products(table.detach(), k, grad) * inv_step if ctx.needs_input_grad[0] else None
        dv = table_gradient_torch(k, t, grad, grid_size) if ctx.needs_input_grad[1] else None
        return dx, dv, None, None
