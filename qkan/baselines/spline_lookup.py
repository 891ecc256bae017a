"""Constant-time piecewise-linear lookup for SplineKAN, flat in the grid size G.

    y[n, o] = sum_i (1 - t) V[i, k, o] + t V[i, k + 1, o],   u = (x[n, i] - low) / h,
    k = clamp(floor(u), 0, G - 1),  t = u - k  (outside the grid t < 0 or t > 1: the end segment continues),

V (in_dim, G + 1, out_dim) the knot values laid out as a gather table. Each (sample, edge) costs two
table rows whatever G is. On CPU the forward is embedding_bag over blocks of inputs small enough for
the cache, and the backward gathers per-(sample, edge) slopes with a sampled matmul (grad x) and sums
the upstream gradient over each knot's sorted segment of samples (grad V), all fixed-order and so
reproducible. CUDA float32/float64 inputs use the kernels of spline_cuda.
"""

from __future__ import annotations

import warnings

import torch
import torch.nn.functional as F

CACHE_BYTES = 4 << 20  # table bytes one embedding_bag call may touch (about an L2/L3 share of one core)


def segments(x: torch.Tensor, low: float, inv_step: float, grid_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(k, t) for x (N, I): segment index (int64) and position in it. NaN picks segment 0 (cast to int it
    would index anywhere) and keeps t NaN, so the output row is NaN; t carries x's autograd graph."""
    u = (x - low) * inv_step
    k = torch.floor(u.detach()).nan_to_num_(0.0).clamp_(0, grid_size - 1)
    return k.long(), u - k


def inputs_per_call(grid_size: int, out_dim: int, itemsize: int) -> int:
    """How many inputs' table slices (G + 1 rows of out_dim) one embedding_bag call gathers from."""
    return max(1, CACHE_BYTES // ((grid_size + 1) * out_dim * itemsize))


def lookup_rows(k: torch.Tensor, grid_size: int, first_input: int = 0) -> torch.Tensor:
    """(N, 2 I) flat table rows (k, k + 1) of each (sample, input) for a table of G + 1 rows per input."""
    inputs = torch.arange(k.shape[1], device=k.device) + first_input
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


def table_gradient_torch(k: torch.Tensor, t: torch.Tensor, grad: torch.Tensor, grid_size: int) -> torch.Tensor:
    """dL/dV (I, G + 1, O): each knot row sums grad[n] (1 - t) over the samples of its right segment and
    grad[n] t over its left one; entries sorted by row (a stable sort), summed by embedding_bag."""
    n, in_dim = k.shape
    rows = lookup_rows(k, grid_size).flatten()
    order = torch.sort(rows, stable=True).indices
    counts = torch.bincount(rows, minlength=in_dim * (grid_size + 1))
    offsets = torch.cumsum(counts, 0) - counts
    samples = torch.div(order, 2 * in_dim, rounding_mode="floor")
    weights = lerp_weights(t).flatten()[order]
    dv = F.embedding_bag(samples, grad, offsets, per_sample_weights=weights, mode="sum")
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
