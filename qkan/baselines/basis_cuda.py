"""CUDA kernels for the bases of basis_contraction: one pass makes a block of radial (FastKAN) or B-spline
(BSplineKAN) bases, and one pass gives the input gradient sum_k dL/dB_k dB_k/dz with each slope made in
registers (the slopes are never stored). A B-spline element costs its p + 1 non-zero bases (the local
Cox-de Boor triangle), not K. Doubles reach the kernels as the 8-byte slots of cuda_runtime.launch.
"""

from __future__ import annotations

import numpy as np
import torch

from qkan.solvers.cuda_runtime import launch, load_module

THREADS = 256
MAX_ORDER = 7  # B-spline orders the kernels take (larger orders use the torch path)

SOURCE = r"""
#define MAX_ORDER %(max_order)d

// phi and dphi/dz of one radial basis at scaled distance d = (z - c) / width.
template <typename T>
__device__ __forceinline__ T rbf_value(T d, int expit, T exponent) {
    if (!expit) return exp(-(d * d));
    return T(1) / (exp(-pow(fabs(d), exponent)) + T(1));
}

template <typename T>
__device__ __forceinline__ T rbf_slope(T d, int expit, T exponent, T inv_width) {
    if (!expit) return exp(-(d * d)) * d * (T(-2) * inv_width);
    T a = fabs(d);
    T phi = T(1) / (exp(-pow(a, exponent)) + T(1));
    T sign = d > T(0) ? T(1) : (d < T(0) ? T(-1) : T(0));
    return phi * (T(1) - phi) * exponent * pow(a, exponent - T(1)) * sign * inv_width;
}

// One thread per (row, input of the block [start, start + count)): out (n, count, size).
template <typename T>
__global__ void rbf_values(const T* __restrict__ z, const T* __restrict__ centers, T* __restrict__ out, long long n,
                           int in_dim, int start, int count, int size, double width, int expit, double exponent) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n * count) return;
    long long r = e / count;
    int c = (int)(e - r * count);
    T v = z[r * in_dim + start + c];
    T* o = out + e * size;
    for (int k = 0; k < size; ++k) o[k] = rbf_value((v - centers[k]) / T(width), expit, T(exponent));
}

// dz[r, start + c] = sum_k dbases[r, c, k] dphi_k/dz.
template <typename T>
__global__ void rbf_input_grad(const T* __restrict__ z, const T* __restrict__ centers, const T* __restrict__ dbases,
                               T* __restrict__ dz, long long n, int in_dim, int start, int count, int size,
                               double width, int expit, double exponent) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n * count) return;
    long long r = e / count;
    int c = (int)(e - r * count);
    T v = z[r * in_dim + start + c];
    const T* g = dbases + e * size;
    T acc = T(0);
    for (int k = 0; k < size; ++k)
        acc += g[k] * rbf_slope((v - centers[k]) / T(width), expit, T(exponent), T(1.0 / width));
    dz[r * in_dim + start + c] = acc;
}

// The order-p B-splines that are non-zero at x on knots t[0..m-1] (bspline.bspline_basis's recursion, kept to
// the window k = j - p .. j of the knot interval j holding x). Returns j, or -1 when x is in no interval (then
// every basis is 0). win[w] = B_{j-p+w, p}; lower[w] = B_{j-p+w, p-1} (lower[0] = 0).
template <typename T>
__device__ int bspline_window(T x, const T* t, int m, int p, T* win, T* lower) {
    int j = -1;
    for (int q = 0; q < m - 1; ++q)
        if (x >= t[q] && x < t[q + 1]) { j = q; break; }
    for (int w = 0; w <= p; ++w) { win[w] = T(0); lower[w] = T(0); }
    if (j < 0) return -1;
    win[p] = T(1);
    for (int d = 1; d <= p; ++d) {
        if (d == p)
            for (int w = 0; w <= p; ++w) lower[w] = win[w];
        for (int w = p - d; w <= p; ++w) {
            int k = j - p + w;
            if (k < 0 || k > m - 2 - d) { win[w] = T(0); continue; }
            T left = (x - t[k]) / (t[k + d] - t[k]) * win[w];
            T right = w < p ? (t[k + d + 1] - x) / (t[k + d + 1] - t[k + 1]) * win[w + 1] : T(0);
            win[w] = left + right;
        }
    }
    return j;
}

// One thread per (row, input of the block): out (n, count, K = m - 1 - p), grid (in_dim, m).
template <typename T>
__global__ void bspline_values(const T* __restrict__ z, const T* __restrict__ grid, T* __restrict__ out, long long n,
                               int in_dim, int start, int count, int m, int p) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n * count) return;
    long long r = e / count;
    int c = (int)(e - r * count);
    const int size = m - 1 - p;
    T win[MAX_ORDER + 1], lower[MAX_ORDER + 1];
    int j = bspline_window(z[r * in_dim + start + c], grid + (long long)(start + c) * m, m, p, win, lower);
    T* o = out + e * size;
    for (int k = 0; k < size; ++k) o[k] = T(0);
    if (j < 0) return;
    for (int w = 0; w <= p; ++w) {
        int k = j - p + w;
        if (k >= 0 && k < size) o[k] = win[w];
    }
}

// dz = sum_k dbases[k] dB_k/dz, dB_k,p = p (B_k,p-1 / (t_k+p - t_k) - B_k+1,p-1 / (t_k+p+1 - t_k+1)).
template <typename T>
__global__ void bspline_input_grad(const T* __restrict__ z, const T* __restrict__ grid, const T* __restrict__ dbases,
                                   T* __restrict__ dz, long long n, int in_dim, int start, int count, int m, int p) {
    long long e = (long long)blockIdx.x * blockDim.x + threadIdx.x;
    if (e >= n * count) return;
    long long r = e / count;
    int c = (int)(e - r * count);
    const int size = m - 1 - p;
    const T* t = grid + (long long)(start + c) * m;
    T win[MAX_ORDER + 1], lower[MAX_ORDER + 1];
    int j = bspline_window(z[r * in_dim + start + c], t, m, p, win, lower);
    T acc = T(0);
    if (j >= 0) {
        const T* g = dbases + e * size;
        for (int w = 0; w <= p; ++w) {
            int k = j - p + w;
            if (k < 0 || k >= size) continue;
            T here = lower[w] / (t[k + p] - t[k]);
            T next = w < p ? lower[w + 1] / (t[k + p + 1] - t[k + 1]) : T(0);
            acc += g[k] * (T(p) * (here - next));
        }
    }
    dz[r * in_dim + start + c] = acc;
}

template __global__ void rbf_values<float>(const float*, const float*, float*, long long, int, int, int, int, double,
                                           int, double);
template __global__ void rbf_values<double>(const double*, const double*, double*, long long, int, int, int, int,
                                            double, int, double);
template __global__ void rbf_input_grad<float>(const float*, const float*, const float*, float*, long long, int, int,
                                               int, int, double, int, double);
template __global__ void rbf_input_grad<double>(const double*, const double*, const double*, double*, long long, int,
                                                int, int, int, double, int, double);
template __global__ void bspline_values<float>(const float*, const float*, float*, long long, int, int, int, int, int);
template __global__ void bspline_values<double>(const double*, const double*, double*, long long, int, int, int, int,
                                                int);
template __global__ void bspline_input_grad<float>(const float*, const float*, const float*, float*, long long, int,
                                                   int, int, int, int);
template __global__ void bspline_input_grad<double>(const double*, const double*, const double*, double*, long long,
                                                    int, int, int, int, int);
""" % {"max_order": MAX_ORDER}

SUPPORTED_DTYPES = {torch.float32: "float", torch.float64: "double"}
NAME_EXPRESSIONS = tuple(
    f"{name}<{ctype}>"
    for name in ("rbf_values", "rbf_input_grad", "bspline_values", "bspline_input_grad")
    for ctype in SUPPORTED_DTYPES.values()
)


def module():
    """The compiled kernels (NVRTC through CuPy, once per process)."""
    return load_module(SOURCE, NAME_EXPRESSIONS)


def double_slot(value: float) -> int:
    """A double as the int64 of its bits: the kernel's ``double`` parameter reads the same 8-byte slot."""
    return int(np.float64(value).view(np.int64))


def _launch(name: str, z: torch.Tensor, args: tuple, count: int) -> None:
    n = z.shape[0]
    if n * count:
        grid = (-(-(n * count) // THREADS),)
        launch(module(), f"{name}<{SUPPORTED_DTYPES[z.dtype]}>", grid, (THREADS,), args)


def rbf_values(
    z: torch.Tensor, centers: torch.Tensor, width: float, expit: bool, exponent: float, start: int, stop: int
):
    """(N, stop - start, G) radial bases of z[:, start:stop] (z contiguous (N, I))."""
    n, in_dim = z.shape
    out = torch.empty(n, stop - start, centers.numel(), dtype=z.dtype, device=z.device)
    sizes = (np.int64(n), np.int32(in_dim), np.int32(start), np.int32(stop - start), np.int32(centers.numel()))
    extra = (double_slot(width), np.int32(expit), double_slot(exponent))
    _launch("rbf_values", z, (z, centers, out, *sizes, *extra), stop - start)
    return out


def rbf_input_grad(z, centers, width, expit, exponent, start, stop, dbases, dz) -> None:
    """dz[:, start:stop] = sum_k dbases[..., k] dphi_k/dz, in place."""
    n, in_dim = z.shape
    sizes = (np.int64(n), np.int32(in_dim), np.int32(start), np.int32(stop - start), np.int32(centers.numel()))
    extra = (double_slot(width), np.int32(expit), double_slot(exponent))
    _launch("rbf_input_grad", z, (z, centers, dbases.contiguous(), dz, *sizes, *extra), stop - start)


def bspline_values(z: torch.Tensor, grid: torch.Tensor, order: int, start: int, stop: int) -> torch.Tensor:
    """(N, stop - start, K) B-splines of z[:, start:stop] on the knots grid (I, m)."""
    n, in_dim = z.shape
    m = grid.shape[1]
    out = torch.empty(n, stop - start, m - 1 - order, dtype=z.dtype, device=z.device)
    sizes = (np.int64(n), np.int32(in_dim), np.int32(start), np.int32(stop - start), np.int32(m), np.int32(order))
    _launch("bspline_values", z, (z, grid, out, *sizes), stop - start)
    return out


def bspline_input_grad(z, grid, order, start, stop, dbases, dz) -> None:
    """dz[:, start:stop] = sum_k dbases[..., k] dB_k/dz, in place."""
    n, in_dim = z.shape
    m = grid.shape[1]
    sizes = (np.int64(n), np.int32(in_dim), np.int32(start), np.int32(stop - start), np.int32(m), np.int32(order))
    _launch("bspline_input_grad", z, (z, grid, dbases.contiguous(), dz, *sizes), stop - start)
