"""Exact Fourier spectrum of every edge of a layer, computed analytically from its parameters.

A rotation R_P(t) = exp(-i t P / 2) splits into e^{-i t/2} (I + P)/2 + e^{+i t/2} (I - P)/2. Where t is
beta + B v (v a data variable), each amplitude becomes a sum of terms exp(i nu v) with fixed half-integer
multiples nu of B, so the statevector is carried as a stack of components, one per nu, and every gate acts on
the stack like on a statevector (solvers/statevector.py). The readout <Z_q> of a component pair (nu, nu') has
frequency nu' - nu. This covers every circuit of the IR, multi-qubit included; the variables are the data
slots' values: x for ``raw``, w x + c for ``affine`` (c moves into beta), arccos(w x + c) for ``arccos``.
Slots that carry the same function of x on every edge share one variable (docs/math.md, "Fourier form").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

from qkan.circuits import Circuit, Data, Op, Theta
from qkan.circuits.gates import PAULI
from qkan.solvers.layer_math import expand_edges
from qkan.solvers.statevector import apply_fixed, apply_single, fixed_matrix, pauli_pair, split_basis

KEY_DECIMALS = 9  # frequencies closer than 1e-9 are one frequency (sums of the same multiples, rounded)
LINEAR, ARCCOS = "linear", "arccos"
_ENCODINGS = ("raw", "affine", "arccos")


@dataclass(frozen=True)
class SpectrumVariable:
    """One data variable of a layer's edges: ``scale * x`` (linear) or ``arccos(scale * x + shift)``;
    ``scale`` and ``shift`` are (O, I) float64 tensors, ``reps`` the re-uploads that read it."""

    kind: str
    scale: torch.Tensor
    shift: torch.Tensor
    reps: tuple[int, ...]

    def values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I) values for inputs x of shape (B, I)."""
        v = self.scale * x[:, None, :]
        return v if self.kind == LINEAR else torch.arccos(v + self.shift)


@dataclass(frozen=True)
class EdgeSpectrum:
    """<Z> on the readout qubit of every edge (o, i), exactly:

        z_oi(x) = sum_f coefficients[o, i, f] * exp(i * sum_g modes[f, g] * v_g(x))

    ``modes`` (F, G) are frequency vectors over the ``variables`` v_g (shared by all edges); the coefficient of
    -modes[f] is the conjugate of coefficients[..., f], so z is real. The edge's circuit output is z itself
    (``readout`` "z") or sqrt((1 + z)/2) - sqrt((1 - z)/2) ("amp")."""

    modes: torch.Tensor
    coefficients: torch.Tensor
    variables: tuple[SpectrumVariable, ...]
    readout: str

    @property
    def frequencies(self) -> torch.Tensor:
        """(O, I, F) frequency of every term in x (linear variables) or, for a circuit whose data all read one
        arccos variable, in that variable; ValueError where no single variable carries the spectrum."""
        kinds = {v.kind for v in self.variables}
        if ARCCOS in kinds and len(self.variables) > 1:
            raise ValueError(
                "this spectrum has several data variables, among them arccos(w x + c) ones that differ between "
                "re-uploads; its terms have no single frequency: use modes and variables"
            )
        total = torch.zeros(self.coefficients.shape, dtype=torch.float64)
        for g, variable in enumerate(self.variables):
            scale = variable.scale if variable.kind == LINEAR else torch.ones_like(variable.scale)
            total = total + self.modes[:, g] * scale[..., None]
        return total

    def phases(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I, F): sum_g modes[f, g] * v_g(x)."""
        total = torch.zeros(x.shape[0], *self.coefficients.shape, dtype=torch.float64)
        for g, variable in enumerate(self.variables):
            total = total + variable.values(x.to(torch.float64))[..., None] * self.modes[:, g]
        return total

    def z(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I): <Z> of every edge at inputs x (B, I), summed from the spectrum."""
        terms = self.coefficients * torch.exp(1j * self.phases(x))
        return terms.sum(-1).real

    def circuit_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, O, I): the edges' circuit outputs f (the layer's ``circuit_values``) from the spectrum."""
        return readout_of_z(self.z(x), self.readout)


def readout_of_z(z: Any, readout: str, sqrt: Any = None) -> Any:
    """The circuit output for <Z> = z: z itself, or sqrt(P(0)) - sqrt(P(1)) = sqrt((1+z)/2) - sqrt((1-z)/2)
    for ``amp`` (``sqrt`` defaults to torch's, clamped at 0 against rounding)."""
    if readout == "z":
        return z
    if sqrt is None:
        return torch.sqrt(((1 + z) / 2).clamp_min(0)) - torch.sqrt(((1 - z) / 2).clamp_min(0))
    return sqrt((1 + z) / 2) - sqrt((1 - z) / 2)


def _slot_encoding(slot: Data, preacts: bool, circuit: Circuit) -> str:
    encoding = slot.resolved_encoding(preacts)
    if encoding not in _ENCODINGS:
        raise ValueError(
            f"circuit {circuit.name!r}: the data slot of re-upload {slot.rep} uses encoding {encoding!r}, a "
            f"nonlinear function of x that is neither affine nor arccos(affine); such an angle has no finite Fourier "
            f"spectrum (supported: {', '.join(_ENCODINGS)})"
        )
    return encoding


def _variables(
    circuit: Circuit, preacts: bool, weight: torch.Tensor, bias: torch.Tensor
) -> tuple[tuple[SpectrumVariable, ...], dict[Data, int]]:
    """The layer's data variables and, per data slot, the index of the variable it reads. Linear slots with the
    same w on every edge share a variable (raw counts as w = 1); arccos slots share one when w and c agree."""
    variables: list[SpectrumVariable] = []
    of_slot: dict[Data, int] = {}
    slots = sorted({s for op in circuit.ops if op.angle for s in op.angle.data}, key=lambda s: (s.rep, s.encoding))
    for slot in slots:
        encoding = _slot_encoding(slot, preacts, circuit)
        kind = ARCCOS if encoding == ARCCOS else LINEAR
        scale = torch.ones_like(weight[..., 0]) if encoding == "raw" else weight[..., slot.rep]
        shift = bias[..., slot.rep] if kind == ARCCOS else torch.zeros_like(scale)
        for g, var in enumerate(variables):
            if var.kind == kind and torch.equal(var.scale, scale) and torch.equal(var.shift, shift):
                variables[g] = SpectrumVariable(kind, scale, shift, tuple(sorted(set(var.reps) | {slot.rep})))
                of_slot[slot] = g
                break
        else:
            of_slot[slot] = len(variables)
            variables.append(SpectrumVariable(kind, scale, shift, (slot.rep,)))
    return tuple(variables), of_slot


def _split_angle(
    op: Op, theta: torch.Tensor, bias: torch.Tensor, preacts: bool, of_slot: dict[Data, int], n_variables: int
) -> tuple[torch.Tensor, np.ndarray]:
    """An op's angle as beta (O, I), everything constant in x, plus ``shift`` @ v: the variables' multiples."""
    angle = op.rotation_angle
    beta = torch.full(theta.shape[:2], angle.const, dtype=torch.float64)
    shift = np.zeros(n_variables)
    for slot, coef in angle.terms:
        if isinstance(slot, Theta):
            beta = beta + coef * theta[(Ellipsis,) + slot.index]
            continue
        shift[of_slot[slot]] += coef
        if slot.resolved_encoding(preacts) == "affine":
            beta = beta + coef * bias[..., slot.rep]
    return beta, shift


def _merged(state: torch.Tensor, keys: np.ndarray) -> tuple[torch.Tensor, np.ndarray]:
    """Sum the components (last axis of ``state``) with equal frequency keys; drop components that are 0 on
    every edge."""
    if keys.shape[1] == 0:  # no data variables: one constant component
        unique, inverse = keys[:1], np.zeros(len(keys), dtype=np.int64)
    else:
        unique, inverse = np.unique(np.round(keys, KEY_DECIMALS), axis=0, return_inverse=True)
    out = state.new_zeros(*state.shape[:-1], len(unique))
    out.index_add_(-1, torch.as_tensor(inverse.reshape(-1)), state)
    alive = (out.abs().amax(dim=tuple(range(out.dim() - 1))) > 0).numpy()
    return out[..., alive], unique[alive]


def _rotate(state: torch.Tensor, op: Op, beta: torch.Tensor, n_qubits: int) -> torch.Tensor:
    """A rotation whose angle ``beta`` (O, I) is constant in x."""
    eye, gen = pauli_pair(op.spec.axis, torch.complex128, state.device)
    half = (beta * 0.5)[..., None, None]
    matrix = torch.cos(half) * eye + torch.sin(half) * gen
    return apply_single(state, matrix[:, :, None], op.qubits[0], n_qubits)


def _upload(
    state: torch.Tensor, keys: np.ndarray, op: Op, beta: torch.Tensor, shift: np.ndarray, n_qubits: int
) -> tuple[torch.Tensor, np.ndarray]:
    """A data rotation R_P(beta + shift @ v) = e^{-i(beta + shift@v)/2} (I+P)/2 + e^{+i(...)/2} (I-P)/2: each
    component splits in two, whose frequencies move by -shift/2 and +shift/2."""
    pauli = torch.as_tensor(PAULI[op.spec.axis], dtype=torch.complex128)
    eye = torch.eye(2, dtype=torch.complex128)
    phase = torch.exp(-0.5j * beta)[..., None, None]
    lower = apply_single(state, (phase * (eye + pauli) / 2)[:, :, None], op.qubits[0], n_qubits)
    upper = apply_single(state, (phase.conj() * (eye - pauli) / 2)[:, :, None], op.qubits[0], n_qubits)
    return _merged(torch.cat((lower, upper), -1), np.concatenate((keys - shift / 2, keys + shift / 2)))


def _z_spectrum(state: torch.Tensor, keys: np.ndarray, qubit: int, n_qubits: int) -> tuple[torch.Tensor, np.ndarray]:
    """<Z_qubit> = sum_{k,j} conj(a_k) Z a_j exp(i (nu_j - nu_k) v) as (O, I, F) coefficients and (F, G) modes."""
    sign = torch.ones(2**n_qubits, dtype=torch.complex128)
    split_basis(sign[None], qubit, n_qubits)[0, :, 1, :] = -1
    pairs = torch.einsum("oidk,d,oidj->oikj", state.conj(), sign, state)
    modes = keys[None, :, :] - keys[:, None, :]  # [k, j] = nu_j - nu_k
    flat = pairs.reshape(*pairs.shape[:2], -1)
    return _merged(flat, modes.reshape(len(keys) ** 2, keys.shape[1]))


def layer_spectrum(layer: Any) -> EdgeSpectrum:
    """The exact :class:`EdgeSpectrum` of every edge of a QKANLayer, in float64 from its current parameters."""
    circuit, geometry = layer.circuit, layer.geometry
    params = [t.detach().to("cpu", torch.float64) for t in layer.params()[:3]]
    theta, weight, bias = (expand_edges(t, geometry) for t in params)
    variables, of_slot = _variables(circuit, geometry.preacts, weight, bias)
    n = circuit.n_qubits
    state = torch.zeros(*theta.shape[:2], 2**n, 1, dtype=torch.complex128)
    state[:, :, 0, 0] = 1
    keys = np.zeros((1, len(variables)))
    for op in circuit.ops:
        if op.angle is None:
            state = apply_fixed(state, fixed_matrix(op.spec, torch.complex128, state.device), op.qubits, n)
            continue
        beta, shift = _split_angle(op, theta, bias, geometry.preacts, of_slot, len(variables))
        if shift.any():
            state, keys = _upload(state, keys, op, beta, shift, n)
        else:
            state = _rotate(state, op, beta, n)
    readout = circuit.measured
    coefficients, modes = _z_spectrum(state, keys, readout.qubit, n)
    return EdgeSpectrum(torch.as_tensor(modes), coefficients, variables, readout.kind)
