"""y = sum_{i,k} W[o, i, k] B_k(z_i) without the (batch, in, K) basis in memory: the bases of a block of
inputs are made, contracted into y by one matmul and dropped; the backward makes them again with their
derivatives. Peak memory is one block of bases plus (batch, out), whatever in_dim is; a layer whose
whole basis fits one block (BLOCK_BYTES) runs the single matmul of the plain formulation, bitwise.
Shared by FastKAN (radial bases) and BSplineKAN (B-splines)."""

from __future__ import annotations

from typing import Optional, Protocol

import torch

BLOCK_BYTES = 32 << 20  # bytes of bases one block may hold


class Basis(Protocol):
    """Bases of inputs [start, stop): values (N, stop - start, K) and, for the backward, their z-derivatives."""

    def values(self, z: torch.Tensor, start: int = 0, stop: Optional[int] = None) -> torch.Tensor: ...

    def values_and_slopes(self, z: torch.Tensor, start: int, stop: int) -> tuple[torch.Tensor, torch.Tensor]: ...


def input_blocks(rows: int, in_dim: int, size: int, itemsize: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of inputs whose (rows, inputs, size) bases fit BLOCK_BYTES (at least one input)."""
    per_block = max(1, BLOCK_BYTES // max(1, rows * size * itemsize))
    return [(start, min(in_dim, start + per_block)) for start in range(0, in_dim, per_block)]


class BasisContraction(torch.autograd.Function):
    """y (N, O) = sum over input blocks of bases(z_block).flatten(1) @ W_block.flatten(1).T."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, weight: torch.Tensor, basis: Basis) -> torch.Tensor:
        n, in_dim = z.shape
        out_dim, size = weight.shape[0], weight.shape[2]
        blocks = input_blocks(n, in_dim, size, z.element_size())
        y = z.new_zeros(n, out_dim) if len(blocks) > 1 else None
        for start, stop in blocks:
            bases = basis.values(z, start, stop).flatten(1)
            w = weight[:, start:stop].reshape(out_dim, -1)
            y = bases @ w.T if y is None else y.addmm_(bases, w.T)
        ctx.save_for_backward(z, weight)
        ctx.basis = basis
        assert y is not None  # in_dim >= 1
        return y

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        z, weight = ctx.saved_tensors
        n, in_dim = z.shape
        out_dim, size = weight.shape[0], weight.shape[2]
        dz = torch.empty_like(z) if ctx.needs_input_grad[0] else None
        dw = torch.empty_like(weight) if ctx.needs_input_grad[1] else None
        for start, stop in input_blocks(n, in_dim, size, z.element_size()):
            w = weight[:, start:stop]
            if dz is None:
                bases = ctx.basis.values(z, start, stop)
            else:
                bases, slopes = ctx.basis.values_and_slopes(z, start, stop)
                dbases = (grad @ w.reshape(out_dim, -1)).view(n, stop - start, size)
                dz[:, start:stop] = (dbases * slopes).sum(-1)
            if dw is not None:
                dw[:, start:stop] = (grad.T @ bases.flatten(1)).view(out_dim, stop - start, size)
        return dz, dw, None
