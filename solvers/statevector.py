"""Statevector primitives in torch: gate matrices from the registry and their application to an
(O, I, 2^n, B) state (batch last, so a sample-independent gate is one long 2x2 product per edge),
broadcasting over size-1 O and B until a gate needs them."""

from __future__ import annotations

import numpy as np
import torch

from qkan.circuits import GateSpec
from qkan.circuits.gates import PAULI

COMPLEX_OF = {torch.float32: torch.complex64, torch.float64: torch.complex128}


def pauli_pair(axis: str, cdtype: torch.dtype, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(I, -i P) for a rotation generator; a Program makes it once when it is built (a constant made from
    numpy is a host-to-device copy that waits for the GPU)."""
    return (torch.eye(2, dtype=cdtype, device=device), torch.as_tensor(-1j * PAULI[axis], dtype=cdtype, device=device))


def rotation_matrix(
    generator: tuple[torch.Tensor, torch.Tensor], angle: torch.Tensor, cdtype: torch.dtype
) -> torch.Tensor:
    """(..., 2, 2) matrix of cos(t/2) I - i sin(t/2) P for an angle tensor of shape (...), from
    ``generator`` = :func:`pauli_pair` of P."""
    eye, gen = generator
    half = angle * 0.5
    return torch.cos(half)[..., None, None].to(cdtype) * eye + torch.sin(half)[..., None, None].to(cdtype) * gen


def rz_phases(angle: torch.Tensor, cdtype: torch.dtype) -> torch.Tensor:
    """(..., 2) diagonal of RZ(t): (exp(-i t/2), exp(+i t/2))."""
    half = torch.stack((-angle, angle), dim=-1) * 0.5
    return torch.polar(torch.ones_like(half), half).to(cdtype)


def fixed_matrix(spec: GateSpec, cdtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """A fixed gate's matrix on ``device`` (a Program makes it once when it is built, see :func:`pauli_pair`)."""
    return torch.as_tensor(np.array(spec.fixed_matrix(), dtype=np.complex128), dtype=cdtype, device=device)


def _split(state: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """(O', I, 2^n, B') -> (O', I, L, 2, R, B') with the target qubit's axis at position 3."""
    return state.reshape(*state.shape[:2], 2**qubit, 2, 2 ** (n_qubits - qubit - 1), state.shape[-1])


def apply_single(state: torch.Tensor, matrix: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """Apply a (O|1, I|1, B|1, 2, 2) matrix to ``qubit`` of a (O', I, 2^n, B') state.

    Sample-independent matrices become one batched 2x2 @ 2x(R*B) product per edge; per-sample
    matrices are applied elementwise."""
    s = _split(state, qubit, n_qubits)
    if matrix.shape[2] == 1:
        flat = s.reshape(*s.shape[:4], -1)
        out = matrix[:, :, None, 0] @ flat
        return out.reshape(out.shape[0], out.shape[1], 2**n_qubits, state.shape[-1])
    m = matrix[:, :, None, None]  # (O, I, 1, 1, B, 2, 2): broadcast over L and R
    s0, s1 = s[:, :, :, 0], s[:, :, :, 1]
    out = torch.stack((m[..., 0, 0] * s0 + m[..., 0, 1] * s1, m[..., 1, 0] * s0 + m[..., 1, 1] * s1), dim=3)
    return out.reshape(out.shape[0], out.shape[1], 2**n_qubits, out.shape[-1])


def apply_single_diagonal(state: torch.Tensor, diag: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """Multiply ``qubit`` by a (O|1, I|1, B|1, 2) diagonal: one elementwise product."""
    s = _split(state, qubit, n_qubits)
    out = s * diag.permute(0, 1, 3, 2)[:, :, None, :, None, :]
    return out.reshape(out.shape[0], out.shape[1], 2**n_qubits, out.shape[-1])


def apply_fixed(state: torch.Tensor, matrix: torch.Tensor, qubits: tuple[int, ...], n_qubits: int) -> torch.Tensor:
    """Apply a constant (2^k, 2^k) matrix on ``qubits`` (first listed = most significant)."""
    k = len(qubits)
    lead, batch = state.shape[:2], state.shape[-1]
    s = state.reshape(*lead, *([2] * n_qubits), batch)
    axes = [2 + q for q in qubits]
    s = s.movedim(axes, list(range(-k, 0)))
    moved_shape = s.shape
    s = s.reshape(*moved_shape[:-k], 2**k) @ matrix.T
    s = s.reshape(moved_shape).movedim(list(range(-k, 0)), axes)
    return s.reshape(*lead, 2**n_qubits, batch)


def split_basis(amplitudes: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """(..., 2^n) -> (..., 2^qubit, 2, 2^(n - qubit - 1)): ``qubit``'s axis between the others."""
    return amplitudes.reshape(*amplitudes.shape[:-1], 2**qubit, 2, 2 ** (n_qubits - qubit - 1))


def readout(amplitudes: torch.Tensor, kind: str, qubit: int, n_qubits: int, axis: int = -1) -> torch.Tensor:
    """Readout on ``qubit`` of amplitudes whose basis-state axis is ``axis`` (that axis is removed):
    ``amp`` is sqrt(P(0)) - sqrt(P(1)) (|a| - |b| on one qubit, never above 1), ``z`` is P(0) - P(1)."""
    a = split_basis(amplitudes.movedim(axis, -1), qubit, n_qubits)
    zero, one = a[..., 0, :], a[..., 1, :]
    if kind == "amp":
        return torch.linalg.vector_norm(zero, dim=(-2, -1)) - torch.linalg.vector_norm(one, dim=(-2, -1))
    return zero.abs().square().sum(dim=(-2, -1)) - one.abs().square().sum(dim=(-2, -1))
