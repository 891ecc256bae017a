"""Statevector primitives in torch: gate matrices from the registry and their application to a
(B, O, I, 2^n) state with broadcasting over the leading dims."""
from __future__ import annotations

import torch

from qkan.circuits import GateSpec
from qkan.circuits.gates import PAULI


def rotation_matrix(spec: GateSpec, angle: torch.Tensor, cdtype: torch.dtype) -> torch.Tensor:
    """(..., 2, 2) matrix of cos(t/2) I - i sin(t/2) P for an angle tensor of shape (...)."""
    half = angle * 0.5
    c, s = torch.cos(half), torch.sin(half)
    eye = torch.eye(2, dtype=cdtype, device=angle.device)
    gen = torch.as_tensor(-1j * PAULI[spec.generator], dtype=cdtype, device=angle.device)
    return c[..., None, None].to(cdtype) * eye + s[..., None, None].to(cdtype) * gen


def rz_phases(angle: torch.Tensor, cdtype: torch.dtype) -> torch.Tensor:
    """(..., 2) diagonal of RZ(t): (exp(-i t/2), exp(+i t/2))."""
    half = torch.stack((-angle, angle), dim=-1) * 0.5
    return torch.polar(torch.ones_like(half), half).to(cdtype)


def fixed_matrix(spec: GateSpec, cdtype: torch.dtype, device: torch.device) -> torch.Tensor:
    return torch.as_tensor(spec.fixed_matrix(), dtype=cdtype, device=device)


def apply_single(state: torch.Tensor, matrix: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """Apply a (..., 2, 2) matrix (leading dims broadcast against the state's 3) to ``qubit``."""
    lead = torch.broadcast_shapes(state.shape[:3], matrix.shape[:3])
    s = state.reshape(*state.shape[:3], 2 ** qubit, 2, 2 ** (n_qubits - qubit - 1))
    out = matrix[..., None, :, :] @ s
    return out.reshape(*lead, 2 ** n_qubits)


def apply_single_diagonal(state: torch.Tensor, diag: torch.Tensor, qubit: int, n_qubits: int) -> torch.Tensor:
    """Multiply by a (..., 2) diagonal on ``qubit``: no mixing, one elementwise product."""
    lead = torch.broadcast_shapes(state.shape[:3], diag.shape[:3])
    s = state.reshape(*state.shape[:3], 2 ** qubit, 2, 2 ** (n_qubits - qubit - 1))
    out = s * diag[..., None, :, None]
    return out.reshape(*lead, 2 ** n_qubits)


def apply_fixed(state: torch.Tensor, matrix: torch.Tensor, qubits: tuple[int, ...], n_qubits: int) -> torch.Tensor:
    """Apply a constant (2^k, 2^k) matrix on ``qubits`` (first listed = most significant)."""
    k = len(qubits)
    lead = state.shape[:3]
    s = state.reshape(*lead, *([2] * n_qubits))
    axes = [3 + q for q in qubits]
    s = s.movedim(axes, list(range(-k, 0)))
    moved_shape = s.shape
    s = s.reshape(*moved_shape[:-k], 2 ** k) @ matrix.T
    s = s.reshape(moved_shape).movedim(list(range(-k, 0)), axes)
    return s.reshape(*lead, 2 ** n_qubits)


def readout_signs(n_qubits: int, qubit: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(2^n,) +1 where ``qubit`` is |0>, -1 where it is |1> (qubit 0 is the most significant bit)."""
    idx = torch.arange(2 ** n_qubits, device=device)
    bit = (idx >> (n_qubits - 1 - qubit)) & 1
    return (1 - 2 * bit).to(dtype)
