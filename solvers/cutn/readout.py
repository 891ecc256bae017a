"""The ``amp`` readout of contracted amplitudes, f = sqrt(P0) - sqrt(P1) on the measured qubit
(|a| - |b| for one qubit), and its vector-Jacobian product, written once for the autograd node below
and for the chunked layer (solvers/cutn/program.py), which calls both outside autograd (in place there).

Through torch's autograd the two norms of strided slices save their outputs and their backward writes a
zero-filled gradient per slice and their sum (four tensors the size of the amplitudes at a B x O x I
layer); the product here writes one: the amplitudes scaled by +-grad / norm."""

from __future__ import annotations

import torch

from ..statevector import split_basis


def amp_norms(amplitudes: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """(..., 2): sqrt(P0) and sqrt(P1) of ``qubit`` for amplitudes (..., 2^n_qubits)."""
    return torch.linalg.vector_norm(split_basis(amplitudes, qubit, n_qubits), dim=(-3, -1))


def amp_values(norms: torch.Tensor) -> torch.Tensor:
    """The readout sqrt(P0) - sqrt(P1) from :func:`amp_norms`."""
    return norms[..., 0] - norms[..., 1]


def amp_cotangent(
    amplitudes: torch.Tensor, norms: torch.Tensor, grad: torch.Tensor, qubit: int, n_qubits: int, in_place: bool = False
) -> torch.Tensor:
    """The amplitudes' cotangent for the cotangent ``grad`` (...) of the readout: the amplitudes scaled by
    +-grad / norm (a zero norm gets the published subgradient 0); ``in_place`` overwrites the amplitudes and
    the norms (in the chunked layer each is as large as a chunk's layer: no copies at the peak)."""
    scale = norms.reciprocal_() if in_place else torch.reciprocal(norms)
    scale[..., 1].neg_()
    scale.mul_(grad[..., None]).nan_to_num_(nan=0.0, posinf=0.0, neginf=0.0)
    split = split_basis(amplitudes, qubit, n_qubits)
    scale = scale[..., None, :, None]
    return (split.mul_(scale) if in_place else split * scale).reshape(amplitudes.shape)


class AmpReadout(torch.autograd.Function):
    """amplitudes (..., 2^n), qubit, n_qubits -> f (...), saving the amplitudes and their two norms."""

    @staticmethod
    def forward(ctx, amplitudes: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
        ctx.qubit, ctx.n_qubits = qubit, n_qubits
        norms = amp_norms(amplitudes, qubit, n_qubits)
        ctx.save_for_backward(amplitudes, norms)
        return amp_values(norms)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        amplitudes, norms = ctx.saved_tensors
        return amp_cotangent(amplitudes, norms, grad, ctx.qubit, ctx.n_qubits), None, None


def amp_readout(amplitudes: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """Differentiable sqrt(P0) - sqrt(P1) of ``qubit`` for amplitudes (..., 2^n_qubits)."""
    return AmpReadout.apply(amplitudes, qubit, n_qubits)
