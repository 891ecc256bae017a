"""CUDA kernels for SplineKAN's constant-time lookup (the maths of spline_lookup), flat in the grid size.

forward: a block owns ROWS samples x OUT_TILE outputs; per input it stages the samples' (k, t) in
shared memory and every thread adds (1 - t) V[i, k, o] + t V[i, k + 1, o] for its output, so one
(sample, edge) costs two coalesced table reads and the sum over inputs never leaves registers.
backward: grad x from the local slope, one warp per (sample, input) with a fixed shuffle tree; grad V
per (input, output tile) over the samples sorted by segment (a stable torch sort), each knot row
summed in a fixed order and written once. No atomics: the same input gives bitwise the same gradients.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from qkan.solvers.cuda_runtime import launch, load_module

ROWS = 16  # samples per forward block (register accumulators per thread)
OUT_TILE = 128  # outputs per block (threads)
INPUT_CHUNK = 32  # inputs whose (k, t) a forward block stages at once
WARPS_PER_BLOCK = 8  # grad-x warps per block

SOURCE = r"""
#define ROWS %(rows)d
#define INPUT_CHUNK %(chunk)d

// Segment k = clamp(floor((x - low) * inv_step), 0, G - 1) (NaN -> 0) and t = u - k, as spline_lookup.segments.
template <typename T>
__device__ __forceinline__ int segment(T x, T low, T inv_step, int grid_size, T* t) {
    T u = (x - low) * inv_step;
    T k = floor(u);
    k = k > T(grid_size - 1) ? T(grid_size - 1) : k;
    k = k >= T(0) ? k : T(0);
    *t = u - k;
    return (int)k;
}

// grid (row tiles, output tiles), block OUT_TILE threads: y[r, o] for ROWS rows and one output per thread.
template <typename T>
__global__ void spline_forward(const T* __restrict__ x, const T* __restrict__ v, const double* __restrict__ geometry,
                               T* __restrict__ y, long long n, int in_dim, int out_dim, int grid_size) {
    __shared__ int ks[ROWS][INPUT_CHUNK];
    __shared__ T ts[ROWS][INPUT_CHUNK];
    const T low = T(geometry[0]), inv_step = T(geometry[1]);
    const int o = blockIdx.y * blockDim.x + threadIdx.x;
    const long long r0 = (long long)blockIdx.x * ROWS;
    const long long table_stride = (long long)(grid_size + 1) * out_dim;
    T acc[ROWS];
    #pragma unroll
    for (int r = 0; r < ROWS; ++r) acc[r] = T(0);
    for (int i0 = 0; i0 < in_dim; i0 += INPUT_CHUNK) {
        const int width = min(INPUT_CHUNK, in_dim - i0);
        __syncthreads();
        for (int e = threadIdx.x; e < ROWS * INPUT_CHUNK; e += blockDim.x) {
            const int r = e / INPUT_CHUNK, c = e - r * INPUT_CHUNK;
            T t = T(0);
            int k = 0;
            if (r0 + r < n && c < width) k = segment(x[(r0 + r) * in_dim + i0 + c], low, inv_step, grid_size, &t);
            ks[r][c] = k;
            ts[r][c] = t;
        }
        __syncthreads();
        if (o < out_dim) {
            for (int c = 0; c < width; ++c) {
                const T* vi = v + (long long)(i0 + c) * table_stride + o;
                #pragma unroll
                for (int r = 0; r < ROWS; ++r) {
                    const T t = ts[r][c];
                    const long long at = (long long)ks[r][c] * out_dim;
                    acc[r] += (T(1) - t) * vi[at] + t * vi[at + out_dim];
                }
            }
        }
    }
    if (o < out_dim) {
        #pragma unroll
        for (int r = 0; r < ROWS; ++r)
            if (r0 + r < n) y[(r0 + r) * out_dim + o] = acc[r];
    }
}

// One warp per (row, input), warps ordered row-major: dx = inv_step * sum_o g[r, o] (V[i, k + 1, o] - V[i, k, o]).
template <typename T>
__global__ void spline_backward_x(const T* __restrict__ x, const T* __restrict__ v, const double* __restrict__ geometry,
                                  const T* __restrict__ grad, T* __restrict__ dx, long long n, int in_dim, int out_dim,
                                  int grid_size) {
    const long long w = ((long long)blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    const int lane = threadIdx.x & 31;
    if (w >= n * in_dim) return;
    const long long r = w / in_dim;
    const int i = (int)(w - r * in_dim);
    const T low = T(geometry[0]), inv_step = T(geometry[1]);
    T t;
    const int k = segment(x[w], low, inv_step, grid_size, &t);
    const T* lower = v + ((long long)i * (grid_size + 1) + k) * out_dim;
    const T* g = grad + r * out_dim;
    T acc = T(0);
    for (int o = lane; o < out_dim; o += 32) acc += g[o] * (lower[o + out_dim] - lower[o]);
    #pragma unroll
    for (int s = 16; s > 0; s >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, s);
    if (lane == 0) dx[w] = acc * inv_step;
}

// grid (inputs, output tiles), block OUT_TILE threads. order/t_sorted (in_dim, n): the samples of input i sorted
// by segment and their t; starts (in_dim, G + 1): first sorted position of each segment (starts[G] = n).
// Knot row j sums t g over segment j - 1 and (1 - t) g over segment j, in sorted order.
template <typename T>
__global__ void spline_backward_table(const long long* __restrict__ order, const T* __restrict__ t_sorted,
                                      const long long* __restrict__ starts, const T* __restrict__ grad,
                                      T* __restrict__ dv, long long n, int out_dim, int grid_size) {
    const int o = blockIdx.y * blockDim.x + threadIdx.x;
    const int i = blockIdx.x;
    if (o >= out_dim) return;
    const long long* rows = order + (long long)i * n;
    const T* ti = t_sorted + (long long)i * n;
    const long long* si = starts + (long long)i * (grid_size + 1);
    T* out = dv + (long long)i * (grid_size + 1) * out_dim + o;
    for (int j = 0; j <= grid_size; ++j) {
        T acc = T(0);
        if (j > 0)
            for (long long p = si[j - 1]; p < si[j]; ++p) acc += ti[p] * grad[rows[p] * out_dim + o];
        if (j < grid_size)
            for (long long p = si[j]; p < si[j + 1]; ++p) acc += (T(1) - ti[p]) * grad[rows[p] * out_dim + o];
        out[(long long)j * out_dim] = acc;
    }
}

template __global__ void spline_forward<float>(const float*, const float*, const double*, float*, long long, int,
                                               int, int);
template __global__ void spline_forward<double>(const double*, const double*, const double*, double*, long long, int,
                                                int, int);
template __global__ void spline_backward_x<float>(const float*, const float*, const double*, const float*, float*,
                                                  long long, int, int, int);
template __global__ void spline_backward_x<double>(const double*, const double*, const double*, const double*, double*,
                                                   long long, int, int, int);
template __global__ void spline_backward_table<float>(const long long*, const float*, const long long*, const float*,
                                                      float*, long long, int, int);
template __global__ void spline_backward_table<double>(const long long*, const double*, const long long*,
                                                       const double*, double*, long long, int, int);
""" % {"rows": ROWS, "chunk": INPUT_CHUNK}

SUPPORTED_DTYPES = {torch.float32: "float", torch.float64: "double"}
NAME_EXPRESSIONS = tuple(
    f"spline_{kind}<{ctype}>"
    for kind in ("forward", "backward_x", "backward_table")
    for ctype in SUPPORTED_DTYPES.values()
)


def module():
    """The compiled kernels (NVRTC through CuPy, once per process)."""
    return load_module(SOURCE, NAME_EXPRESSIONS)


def _blocks(count: int, per_block: int) -> int:
    return max(1, -(-count // per_block))


def forward(x: torch.Tensor, table: torch.Tensor, geometry: torch.Tensor) -> torch.Tensor:
    """y (N, O) for x (N, I) contiguous, table (I, G + 1, O) contiguous, geometry (low, 1 / h) float64."""
    n, in_dim = x.shape
    grid_size, out_dim = table.shape[1] - 1, table.shape[2]
    y = torch.empty(n, out_dim, dtype=x.dtype, device=x.device)
    if n:
        launch(
            module(),
            f"spline_forward<{SUPPORTED_DTYPES[x.dtype]}>",
            (_blocks(n, ROWS), _blocks(out_dim, OUT_TILE)),
            (OUT_TILE,),
            (x, table, geometry, y, np.int64(n), np.int32(in_dim), np.int32(out_dim), np.int32(grid_size)),
        )
    return y


def backward_x(x: torch.Tensor, table: torch.Tensor, geometry: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    n, in_dim = x.shape
    grid_size, out_dim = table.shape[1] - 1, table.shape[2]
    dx = torch.empty_like(x)
    if n:
        launch(
            module(),
            f"spline_backward_x<{SUPPORTED_DTYPES[x.dtype]}>",
            (_blocks(n * in_dim, WARPS_PER_BLOCK),),
            (32 * WARPS_PER_BLOCK,),
            (x, table, geometry, grad, dx, np.int64(n), np.int32(in_dim), np.int32(out_dim), np.int32(grid_size)),
        )
    return dx


def backward_table(
    x: torch.Tensor, table: torch.Tensor, low: float, inv_step: float, grad: torch.Tensor
) -> torch.Tensor:
    """dL/dV (I, G + 1, O): samples sorted by segment per input (stable, so reproducible), then the kernel."""
    from .spline_lookup import segments

    n, in_dim = x.shape
    grid_size, out_dim = table.shape[1] - 1, table.shape[2]
    k, t = segments(x, low, inv_step, grid_size)
    sorted_k, order = torch.sort(k.T, dim=1, stable=True)  # (I, N)
    t_sorted = torch.gather(t.T, 1, order).contiguous()
    queries = torch.arange(grid_size + 1, device=x.device).expand(in_dim, -1).contiguous()
    starts = torch.searchsorted(sorted_k.contiguous(), queries)  # (I, G + 1); starts[:, G] = N
    dv = torch.empty_like(table)
    launch(
        module(),
        f"spline_backward_table<{SUPPORTED_DTYPES[x.dtype]}>",
        (in_dim, _blocks(out_dim, OUT_TILE)),
        (OUT_TILE,),
        (order.contiguous(), t_sorted, starts, grad, dv, np.int64(n), np.int32(out_dim), np.int32(grid_size)),
    )
    return dv


@functools.lru_cache(maxsize=64)
def _geometry(low: float, inv_step: float, device: torch.device) -> torch.Tensor:
    """(low, 1 / h) as a float64 device tensor, made once per grid and device (no copy per call)."""
    return torch.tensor([low, inv_step], dtype=torch.float64, device=device)


class SplineLookupCUDA(torch.autograd.Function):
    """y = lookup(x, V) with the CUDA kernels above."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, table: torch.Tensor, low: float, inv_step: float) -> torch.Tensor:
        x, table = x.contiguous(), table.contiguous()
        geometry = _geometry(low, inv_step, x.device)
        ctx.save_for_backward(x, table, geometry)
        ctx.constants = (low, inv_step)
        return forward(x, table.detach(), geometry)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        x, table, geometry = ctx.saved_tensors
        grad = grad.contiguous()
        dx = backward_x(x, table.detach(), geometry, grad) if ctx.needs_input_grad[0] else None
        low, inv_step = ctx.constants
        dv = backward_table(x, table.detach(), low, inv_step, grad) if ctx.needs_input_grad[1] else None
        return dx, dv, None, None


def spline_lookup_cuda(x: torch.Tensor, table: torch.Tensor, low: float, inv_step: float) -> torch.Tensor:
    """y (N, O) = sum_i lerp of the table rows (k, k + 1) at x (N, I), on CUDA (float32/float64)."""
    return SplineLookupCUDA.apply(x, table, low, inv_step)
