"""Bench-only re-implementation of FlashKAT's group-rational backward (Raffel and Chen, 2025), the reference
RationalKAN's CUDA kernels are timed against: each block sums its elements' coefficient gradients in float
(registers, then shared memory) and adds the block's 10 sums to global memory with float atomicAdd, where
KAT's kernel added every element's. The forward is the elementwise P / Q of rational_cuda (the same
algorithm). Never used by the layers."""

from __future__ import annotations

import numpy as np
import torch

from qkan.baselines.rational_cuda import DEVICE_FUNCTIONS, THREADS, rational_forward, tiling
from qkan.solvers.cuda_runtime import launch, load_module

BACKWARD = r"""
__global__ void flashkat_backward(const float* __restrict__ x, const float* __restrict__ grad,
                                  const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ dx,
                                  float* __restrict__ da, float* __restrict__ db, long long rows, long long dim,
                                  int group_dim, int rows_per_block) {
    float ca[NUM], ab[DEN], sb[DEN];
    load_coefficients(a, b, (long long)blockIdx.y, ca, ab, sb);
    float acc[GRADS];
    for (int k = 0; k < GRADS; ++k) acc[k] = 0.f;
    for_each_tile_element(rows, dim, group_dim, rows_per_block,
                          [&](long long off) { dx[off] = pade_grads(x[off], grad[off], ca, ab, sb, acc); });
    __shared__ float sums[GRADS][%(threads)d];
    for (int k = 0; k < GRADS; ++k) sums[k][threadIdx.x] = acc[k];
    __syncthreads();
    for (int s = blockDim.x / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s)
            for (int k = 0; k < GRADS; ++k) sums[k][threadIdx.x] += sums[k][threadIdx.x + s];
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        for (int k = 0; k < NUM; ++k) atomicAdd(da + k, sums[k][0]);
        for (int j = 0; j < DEN; ++j) atomicAdd(db + blockIdx.y * DEN + j, sums[NUM + j][0]);
    }
}
""" % {"threads": THREADS}

SOURCE = DEVICE_FUNCTIONS + BACKWARD


def flashkat_backward(grad: torch.Tensor, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor):
    """(dx, da, db) of the float32 rational unit by the FlashKAT scheme (block sums, one atomicAdd each)."""
    rows_x, rows_g = x.contiguous().view(-1, x.shape[-1]), grad.contiguous().view(-1, x.shape[-1])
    rows, dim = rows_x.shape
    group_dim, rows_per_block, tiles = tiling(rows, dim, b.shape[0])
    dx, da, db = torch.empty_like(rows_x), torch.zeros_like(a), torch.zeros_like(b)
    if rows:
        launch(
            load_module(SOURCE, ("flashkat_backward",)),
            "flashkat_backward",
            (tiles, b.shape[0]),
            (THREADS,),
            (
                rows_x,
                rows_g,
                a.contiguous(),
                b.contiguous(),
                dx,
                da,
                db,
                np.int64(rows),
                np.int64(dim),
                np.int32(group_dim),
                np.int32(rows_per_block),
            ),
        )
    return dx.view(x.shape), da, db


class FlashKATRational(torch.autograd.Function):
    """The rational unit with rational_cuda's forward and the FlashKAT backward above (float32, CUDA)."""

    @staticmethod
    def forward(ctx, x: torch.Tensor, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        ctx.save_for_backward(x, a, b)
        return rational_forward(x, a, b)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        return flashkat_backward(grad, *ctx.saved_tensors)
