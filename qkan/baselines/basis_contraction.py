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
    """Bases of the inputs [start, stop) of z (N, I) contiguous: values (N, stop - start, K), and for the
    backward dz[:, start:stop] = sum_k dbases[..., k] dB_k/dz written in place (returning the values when
    it made them on the way, else None)."""

    def values(self, z: torch.Tensor, start: int = 0, stop: Optional[int] = None) -> torch.Tensor: ...

    def write_input_gradient(
        self, z: torch.Tensor, start: int, stop: int, dbases: torch.Tensor, dz: torch.Tensor
    ) -> Optional[torch.Tensor]: ...


def use_kernels(z: torch.Tensor) -> bool:
    """Whether the bases of z come from basis_cuda (CUDA float32/float64 with CuPy) rather than torch."""
    from qkan.solvers.cuda_runtime import cupy_available

    from .basis_cuda import SUPPORTED_DTYPES

    return z.is_cuda and z.dtype in SUPPORTED_DTYPES and cupy_available()


def input_blocks(rows: int, in_dim: int, size: int, itemsize: int) -> list[tuple[int, int]]:
    """[start, stop) ranges of inputs whose (rows, inputs, size) bases fit BLOCK_BYTES (at least one input)."""
    per_block = max(1, BLOCK_BYTES // max(1, rows * size * itemsize))
    return [(start, min(in_dim, start + per_block)) for start in range(0, in_dim, per_block)]


class BasisContraction(torch.autograd.Function):
    """y (N, O) = sum over input blocks of bases(z_block).flatten(1) @ W_block.flatten(1).T."""

    @staticmethod
    def forward(ctx, z: torch.Tensor, weight: torch.Tensor, basis: Basis) -> torch.Tensor:
        z = z.contiguous()
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
            bases = None
            if dz is not None:
                dbases = (grad @ weight[:, start:stop].reshape(out_dim, -1)).view(n, stop - start, size)
                bases = ctx.basis.write_input_gradient(z, start, stop, dbases, dz)
            if dw is not None:
                bases = ctx.basis.values(z, start, stop) if bases is None else bases
                dw[:, start:stop] = (grad.T @ bases.flatten(1)).view(out_dim, stop - start, size)
        return dz, dw, None


def contract(z: torch.Tensor, weight: torch.Tensor, basis: Basis) -> torch.Tensor:
    """BasisContraction at the weight's precision: under autocast z is cast to it and the matmuls run unscaled
    (the backward sees the same dtypes as the forward)."""
    if torch.is_autocast_enabled(z.device.type):
        with torch.autocast(z.device.type, enabled=False):
            return BasisContraction.apply(z.to(weight.dtype), weight, basis)
    return BasisContraction.apply(z, weight, basis)
