"""CUDA kernels for the GR-KAN safe Pade unit (rational_math.safe_pade), as torch custom ops.

Layout: x (rows, dim) with dim split into contiguous groups. A block owns one tile of rows of one
group, so every coefficient it touches (a shared, b of its group) is fixed. The backward writes dx
per element and reduces the 10 coefficient gradients of its tile in registers, then across the block
(warp shuffles, shared memory), accumulating in float64; each block stores its 10 partial sums and the
block that finishes last sums them over tiles and groups in a fixed order (one launch and a counter
memset per backward, where a torch reduction added four more launches). No float atomics (one integer
counter increment per block): the same input gives bitwise the same gradients (the FlashKAT
observation: per-element atomics on a handful of coefficients serialise the backward).
"""

from __future__ import annotations

import numpy as np
import torch

from qkan.solvers.cuda_runtime import launch, load_module

THREADS = 256
TILE_ELEMENTS = 8192  # elements of one group a block reduces (rows_per_block = TILE_ELEMENTS // group_dim)
GRADS = 10  # 6 numerator + 4 denominator coefficients

DEVICE_FUNCTIONS = r"""
#define NUM 6
#define DEN 4
#define GRADS 10

template <typename T> __device__ __forceinline__ T safe_abs(T v) { return v >= T(0) ? v : -v; }
template <typename T> __device__ __forceinline__ T safe_sign(T v) { return v >= T(0) ? T(1) : T(-1); }

// F(v) = P(v) / Q(v) for one element; a: 6 numerator coefficients, ab: 4 denominator |b_j|.
template <typename T>
__device__ __forceinline__ T pade_value(T v, const T* a, const T* ab) {
    T p = a[5];
    #pragma unroll
    for (int k = 4; k >= 0; --k) p = p * v + a[k];
    T av = safe_abs(v);
    T q = ab[3];
    #pragma unroll
    for (int j = 2; j >= 0; --j) q = q * av + ab[j];
    return p / (T(1) + q * av);
}

// Gradients of one element: returns dF/dv * go, and adds go * dF/d(coefficient) to grads[0..9]
// (numerator a_0..a_5, then denominator b_1..b_4 with d|b|/db = sign(b), sign(0) = +1).
template <typename T, typename Acc>
__device__ __forceinline__ T pade_grads(T v, T go, const T* a, const T* ab, const T* sb, Acc* grads) {
    T pw[NUM];
    pw[0] = T(1);
    #pragma unroll
    for (int k = 1; k < NUM; ++k) pw[k] = pw[k - 1] * v;
    T av = safe_abs(v);
    T apw[DEN + 1];
    apw[0] = T(1);
    #pragma unroll
    for (int j = 1; j <= DEN; ++j) apw[j] = apw[j - 1] * av;
    T p = T(0), dp = T(0);
    #pragma unroll
    for (int k = 0; k < NUM; ++k) p += a[k] * pw[k];
    #pragma unroll
    for (int k = 1; k < NUM; ++k) dp += T(k) * a[k] * pw[k - 1];
    T q = T(1), dq = T(0);
    #pragma unroll
    for (int j = 1; j <= DEN; ++j) { q += ab[j - 1] * apw[j]; dq += T(j) * ab[j - 1] * apw[j - 1]; }
    dq *= safe_sign(v);
    T iq = T(1) / q;
    T f = p * iq;
    T gq = go * iq;
    #pragma unroll
    for (int k = 0; k < NUM; ++k) grads[k] += Acc(gq * pw[k]);
    T gd = -gq * f;
    #pragma unroll
    for (int j = 1; j <= DEN; ++j) grads[NUM + j - 1] += Acc(gd * sb[j - 1] * apw[j]);
    return gq * (dp - f * dq);
}

// visit(offset) for each element of this block's tile, in a fixed thread -> element order: rows
// [blockIdx.x * rows_per_block, + rows_per_block) of group blockIdx.y's columns, clipped at rows.
template <typename Visit>
__device__ __forceinline__ void for_each_tile_element(long long rows, long long dim, int group_dim,
                                                      int rows_per_block, Visit visit) {
    long long r0 = (long long)blockIdx.x * rows_per_block;
    long long left = rows - r0;
    int nrows = left < rows_per_block ? (int)left : rows_per_block;
    int count = nrows * group_dim;
    long long base = r0 * dim + (long long)blockIdx.y * group_dim;
    for (int t = threadIdx.x; t < count; t += blockDim.x) {
        int r = t / group_dim;
        visit(base + (long long)r * dim + (t - r * group_dim));
    }
}

// Coefficients of group g in registers: a, |b|, sign(b).
template <typename T>
__device__ __forceinline__ void load_coefficients(const T* a, const T* b, long long g, T* ca, T* ab, T* sb) {
    #pragma unroll
    for (int k = 0; k < NUM; ++k) ca[k] = a[k];
    #pragma unroll
    for (int j = 0; j < DEN; ++j) { T bj = b[g * DEN + j]; ab[j] = safe_abs(bj); sb[j] = safe_sign(bj); }
}
"""

KERNELS = r"""
// grid (row tiles, groups); a block walks rows [r0, r0 + rows_per_block) of its group's columns.
template <typename T>
__global__ void rational_forward(const T* __restrict__ x, const T* __restrict__ a, const T* __restrict__ b,
                                 T* __restrict__ y, long long rows, long long dim, int group_dim,
                                 int rows_per_block) {
    T ca[NUM], ab[DEN], sb[DEN];
    load_coefficients(a, b, (long long)blockIdx.y, ca, ab, sb);
    for_each_tile_element(rows, dim, group_dim, rows_per_block,
                          [&](long long off) { y[off] = pade_value(x[off], ca, ab); });
}

// Run by the last block of rational_backward: partial (groups, tiles, GRADS) -> per_group (groups, GRADS), one
// warp per sum with a fixed lane -> tile map and shuffle tree; then da (summed over groups in order) and db.
template <typename T>
__device__ void finish_coefficient_grads(const double* partial, double* per_group, T* da, T* db, int tiles,
                                         int groups) {
    const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
    for (int e = warp; e < groups * GRADS; e += warps) {
        const int g = e / GRADS, k = e - g * GRADS;
        double v = 0.0;
        const double* column = partial + (long long)g * tiles * GRADS + k;
        for (int tile = lane; tile < tiles; tile += 32) v += __ldcg(column + (long long)tile * GRADS);
        for (int s = 16; s > 0; s >>= 1) v += __shfl_down_sync(0xffffffffu, v, s);
        if (lane == 0) per_group[e] = v;
    }
    __syncthreads();
    if (threadIdx.x < NUM) {
        double v = 0.0;
        for (int g = 0; g < groups; ++g) v += per_group[g * GRADS + threadIdx.x];
        da[threadIdx.x] = T(v);
    }
    for (int e = threadIdx.x; e < groups * DEN; e += blockDim.x) {
        const int g = e / DEN;
        db[e] = T(per_group[g * GRADS + NUM + (e - g * DEN)]);
    }
}

// dx per element; per block, the 10 coefficient-gradient sums (float64) to
// partial[(group * tiles + tile) * GRADS + k]; the block that finishes last (a counter, zeroed by the caller)
// reduces them into da and db. Fixed thread->element map and reduction trees: no float atomics.
template <typename T>
__global__ void rational_backward(const T* __restrict__ x, const T* __restrict__ grad,
                                  const T* __restrict__ a, const T* __restrict__ b, T* __restrict__ dx,
                                  double* __restrict__ partial, double* __restrict__ per_group, T* __restrict__ da,
                                  T* __restrict__ db, unsigned int* __restrict__ counter, long long rows,
                                  long long dim, int group_dim, int rows_per_block) {
    T ca[NUM], ab[DEN], sb[DEN];
    load_coefficients(a, b, (long long)blockIdx.y, ca, ab, sb);
    double acc[GRADS];
    #pragma unroll
    for (int k = 0; k < GRADS; ++k) acc[k] = 0.0;
    for_each_tile_element(rows, dim, group_dim, rows_per_block,
                          [&](long long off) { dx[off] = pade_grads(x[off], grad[off], ca, ab, sb, acc); });
    __shared__ double warp_sums[32][GRADS];
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
    #pragma unroll
    for (int k = 0; k < GRADS; ++k) {
        double v = acc[k];
        for (int s = 16; s > 0; s >>= 1) v += __shfl_down_sync(0xffffffffu, v, s);
        if (lane == 0) warp_sums[warp][k] = v;
    }
    __syncthreads();
    if (warp == 0) {
        int warps = (blockDim.x + 31) >> 5;
        #pragma unroll
        for (int k = 0; k < GRADS; ++k) {
            double v = lane < warps ? warp_sums[lane][k] : 0.0;
            for (int s = 16; s > 0; s >>= 1) v += __shfl_down_sync(0xffffffffu, v, s);
            if (lane == 0) partial[((long long)blockIdx.y * gridDim.x + blockIdx.x) * GRADS + k] = v;
        }
    }
    __shared__ bool last;
    if (threadIdx.x == 0) {  // wrote this block's partial sums above
        __threadfence();
        last = atomicAdd(counter, 1u) == gridDim.x * gridDim.y - 1;
    }
    __syncthreads();
    if (!last) return;
    __threadfence();
    finish_coefficient_grads(partial, per_group, da, db, (int)gridDim.x, (int)gridDim.y);
}

template __global__ void rational_forward<float>(const float*, const float*, const float*, float*, long long,
                                                 long long, int, int);
template __global__ void rational_forward<double>(const double*, const double*, const double*, double*, long long,
                                                  long long, int, int);
template __global__ void rational_backward<float>(const float*, const float*, const float*, const float*, float*,
                                                  double*, double*, float*, float*, unsigned int*, long long,
                                                  long long, int, int);
template __global__ void rational_backward<double>(const double*, const double*, const double*, const double*,
                                                   double*, double*, double*, double*, double*, unsigned int*,
                                                   long long, long long, int, int);
"""

SOURCE = DEVICE_FUNCTIONS + KERNELS
SUPPORTED_DTYPES = {torch.float32: "float", torch.float64: "double"}
NAME_EXPRESSIONS = tuple(
    f"rational_{kind}<{ctype}>" for kind in ("forward", "backward") for ctype in SUPPORTED_DTYPES.values()
)


def module():
    """The compiled kernels (NVRTC through CuPy, once per process)."""
    return load_module(SOURCE, NAME_EXPRESSIONS)


def tiling(rows: int, dim: int, groups: int) -> tuple[int, int, int]:
    """(group_dim, rows_per_block, row tiles) of the launch grid."""
    group_dim = dim // groups
    rows_per_block = max(1, TILE_ELEMENTS // group_dim)
    return group_dim, rows_per_block, max(1, -(-rows // rows_per_block))


def _sizes(rows: int, dim: int, group_dim: int, rows_per_block: int) -> tuple:
    """The kernels' size arguments with their C types (long long, long long, int, int)."""
    return np.int64(rows), np.int64(dim), np.int32(group_dim), np.int32(rows_per_block)


def _as_rows(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous().view(-1, x.shape[-1])


@torch.library.custom_op("qkan_baselines::rational_forward", mutates_args=())
def rational_forward(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """F(x) on CUDA for x (..., dim) float32/float64, numerator (6,), denominator (groups, 4)."""
    rows_x = _as_rows(x)
    y = torch.empty_like(rows_x)
    rows, dim = rows_x.shape
    groups = denominator.shape[0]
    group_dim, rows_per_block, tiles = tiling(rows, dim, groups)
    if rows:
        launch(
            module(),
            f"rational_forward<{SUPPORTED_DTYPES[x.dtype]}>",
            (tiles, groups),
            (THREADS,),
            (
                rows_x,
                numerator.contiguous(),
                denominator.contiguous(),
                y,
                *_sizes(rows, dim, group_dim, rows_per_block),
            ),
        )
    return y.view(x.shape)


@rational_forward.register_fake
def _(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    return torch.empty_like(x)


@torch.library.custom_op("qkan_baselines::rational_backward", mutates_args=())
def rational_backward(
    grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(dx, d numerator, d denominator) for the upstream gradient ``grad`` of rational_forward."""
    rows_x, rows_g = _as_rows(x), _as_rows(grad)
    rows, dim = rows_x.shape
    groups = denominator.shape[0]
    group_dim, rows_per_block, tiles = tiling(rows, dim, groups)
    dx = torch.empty_like(rows_x)
    if not rows:
        return dx.view(x.shape), torch.zeros_like(numerator), torch.zeros_like(denominator)
    partial = torch.empty(groups, tiles, GRADS, dtype=torch.float64, device=x.device)
    per_group = torch.empty(groups, GRADS, dtype=torch.float64, device=x.device)
    counter = torch.zeros(1, dtype=torch.int32, device=x.device)
    d_numerator, d_denominator = torch.empty_like(numerator), torch.empty_like(denominator)
    launch(
        module(),
        f"rational_backward<{SUPPORTED_DTYPES[x.dtype]}>",
        (tiles, groups),
        (THREADS,),
        (
            rows_x,
            rows_g,
            numerator.contiguous(),
            denominator.contiguous(),
            dx,
            partial,
            per_group,
            d_numerator,
            d_denominator,
            counter,
            *_sizes(rows, dim, group_dim, rows_per_block),
        ),
    )
    return dx.view(x.shape), d_numerator, d_denominator


@rational_backward.register_fake
def _(
    grad: torch.Tensor, x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return torch.empty_like(x), torch.empty_like(numerator), torch.empty_like(denominator)


def _setup_context(ctx, inputs, output) -> None:
    ctx.save_for_backward(*inputs)


def _backward(ctx, grad: torch.Tensor):
    x, numerator, denominator = ctx.saved_tensors
    return rational_backward(grad, x, numerator, denominator)


rational_forward.register_autograd(_backward, setup_context=_setup_context)
