"""The ``amp`` readout of contracted amplitudes as one autograd node that keeps only the amplitudes.

f = sqrt(P0) - sqrt(P1) on the measured qubit (|a| - |b| for one qubit). Through torch's autograd
the two norms of strided slices save their outputs and their backward writes a zero-filled gradient
per slice and their sum (four tensors the size of the amplitudes at a B x O x I layer); here the
backward writes one: the amplitudes scaled by +-grad / norm."""
from __future__ import annotations

import torch

from .statevector import split_basis


class AmpReadout(torch.autograd.Function):
    """amplitudes (..., 2^n), qubit, n_qubits -> f (...)."""

    @staticmethod
    def forward(ctx, amplitudes: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
        ctx.qubit, ctx.n_qubits = qubit, n_qubits
        ctx.save_for_backward(amplitudes)
        norms = torch.linalg.vector_norm(split_basis(amplitudes, qubit, n_qubits), dim=(-3, -1))
        return norms[..., 0] - norms[..., 1]

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        (amplitudes,) = ctx.saved_tensors
        split = split_basis(amplitudes, ctx.qubit, ctx.n_qubits)
        scale = torch.linalg.vector_norm(split, dim=(-3, -1), keepdim=True)  # (..., 1, 2, 1)
        sign = torch.tensor([1.0, -1.0], dtype=scale.dtype, device=scale.device).view(2, 1)
        scale = torch.reciprocal_(scale).mul_(sign).mul_(grad[..., None, None, None])
        scale.nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)  # a zero norm: the published subgradient 0
        return (split * scale).reshape(amplitudes.shape), None, None


def amp_readout(amplitudes: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """sqrt(P0) - sqrt(P1) of ``qubit`` for amplitudes (..., 2^n_qubits)."""
    return AmpReadout.apply(amplitudes, qubit, n_qubits)
