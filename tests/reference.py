"""An independent float64 reference for QKAN layers, written in the tests from the spec's tables.

It never imports ``qkan.solvers``: every edge is simulated on its own with explicit complex128
matrix products (2x2 for the built-ins, full 2^n x 2^n Kronecker products for any Circuit), so a
bug in the solvers' batched contractions, qubit ordering or parameter fusion cannot hide in both.
Everything is torch so that autograd gives reference gradients too.
"""

from __future__ import annotations

import math
import random
from typing import Optional

import torch
import torch.nn.functional as F

from qkan.circuits import Circuit, Theta, data, theta

C128 = torch.complex128

# ----- gate matrices (docs/math.md, "One edge": half-angle convention) --------------------------------------
_H = torch.tensor([[1, 1], [1, -1]], dtype=C128) / math.sqrt(2)
_X = torch.tensor([[0, 1], [1, 0]], dtype=C128)
_Y = torch.tensor([[0, -1j], [1j, 0]], dtype=C128)
_Z = torch.tensor([[1, 0], [0, -1]], dtype=C128)
_S = torch.tensor([[1, 0], [0, 1j]], dtype=C128)
FIXED_1Q = {"h": _H, "x": _X, "y": _Y, "z": _Z, "s": _S}


def _matrix(rows: list[list[torch.Tensor]]) -> torch.Tensor:
    """Stack a 2x2 nested list of (B,) tensors into (B, 2, 2)."""
    return torch.stack([torch.stack(row, dim=-1) for row in rows], dim=-2)


def rz(t: torch.Tensor) -> torch.Tensor:
    """diag(exp(-i t/2), exp(+i t/2)) for a real (B,) angle."""
    t = t.to(torch.float64)
    zero = torch.zeros_like(t, dtype=C128)
    return _matrix([[torch.polar(torch.ones_like(t), -t / 2), zero], [zero, torch.polar(torch.ones_like(t), t / 2)]])


def ry(t: torch.Tensor) -> torch.Tensor:
    """[[c, -s], [s, c]]."""
    c, s = torch.cos(t / 2).to(C128), torch.sin(t / 2).to(C128)
    return _matrix([[c, -s], [s, c]])


def rx(t: torch.Tensor) -> torch.Tensor:
    """[[c, -i s], [-i s, c]]."""
    c, s = torch.cos(t / 2).to(C128), torch.sin(t / 2).to(C128)
    return _matrix([[c, -1j * s], [-1j * s, c]])


ROTATIONS = {"rx": rx, "ry": ry, "rz": rz}


def readout(psi: torch.Tensor, kind: str, signs: torch.Tensor) -> torch.Tensor:
    """From the probabilities P(0), P(1) of the readout qubit (``signs`` +1 / -1 per basis state):
    amp: sqrt(P(0)) - sqrt(P(1)) (|a| - |b| on one qubit); z: P(0) - P(1). psi is (B, 2^n)."""
    probs = psi.abs() ** 2
    p0, p1 = probs @ (signs > 0).to(probs.dtype), probs @ (signs < 0).to(probs.dtype)
    return p0.sqrt() - p1.sqrt() if kind == "amp" else p0 - p1


# ----- the built-in ansatzes, straight from docs/math.md, "Built-in ansatzes" ---------------------------------
def builtin_edge(name: str, theta: torch.Tensor, phi: torch.Tensor, kind: str) -> torch.Tensor:
    """f for one edge: ``theta`` its (R+1, K) (real: (R, 1)) slice, ``phi`` the (B, R) data angles."""
    batch, reps = phi.shape
    psi = _H[:, 0].expand(batch, 2).clone()  # H|0>
    ones = torch.ones(batch, dtype=torch.float64)

    def apply(m: torch.Tensor) -> None:
        nonlocal psi
        psi = (m @ psi.unsqueeze(-1)).squeeze(-1)

    def t(l: int, k: int) -> torch.Tensor:
        return theta[l, k] * ones

    for l in range(reps):
        if name == "pz":
            apply(rz(t(l, 0))), apply(ry(t(l, 1))), apply(rz(phi[:, l]))
        elif name == "rpz":
            apply(ry(t(l, 0))), apply(rz(phi[:, l]))
        elif name == "real":
            apply(_X), apply(ry(t(l, 0))), apply(_Z), apply(ry(phi[:, l]))
        elif name == "px":
            apply(rz(t(l, 0))), apply(rx(phi[:, l]))
        elif name == "mix":
            apply(rz(t(l, 0))), apply(rx(t(l, 1))), apply(ry(phi[:, l]))
        else:
            raise ValueError(f"reference has no built-in {name!r}")
    if name == "pz":
        apply(rz(t(reps, 0))), apply(ry(t(reps, 1)))
    elif name == "rpz":
        apply(ry(t(reps, 0)))
    elif name == "px":
        apply(rz(t(reps, 0)))
    elif name == "mix":
        apply(rz(t(reps, 0))), apply(rx(t(reps, 1)))
    return readout(psi, kind, torch.tensor([1.0, -1.0], dtype=torch.float64))


def builtin_phi(name: str, x: torch.Tensor, w: torch.Tensor, c: torch.Tensor, preacts: bool) -> torch.Tensor:
    """(B, R) data angles (docs/math.md, "Data angle"): raw x, or w*x+c (always for rpz and px), arccos'd for px."""
    affine = w[None, :] * x[:, None] + c[None, :]
    if name == "px":
        return torch.arccos(affine)
    if name == "rpz" or preacts:
        return affine
    return x[:, None].expand_as(affine)


# ----- any Circuit: full-matrix simulation from the op list ----------------------------------
def _embed_1q(m: torch.Tensor, qubit: int, n: int) -> torch.Tensor:
    """(B, 2, 2) on ``qubit`` -> (B, 2^n, 2^n) via Kronecker products (qubit 0 most significant)."""
    out = torch.ones(m.shape[0], 1, 1, dtype=C128)
    eye = torch.eye(2, dtype=C128).expand(m.shape[0], 2, 2)
    for q in range(n):
        factor = m if q == qubit else eye
        out = torch.einsum("bij,bkl->bikjl", out, factor).reshape(m.shape[0], out.shape[1] * 2, out.shape[2] * 2)
    return out


def _two_qubit_matrix(kind: str, a: int, b: int, n: int) -> torch.Tensor:
    """CNOT(control a, target b) or CZ(a, b) as a (2^n, 2^n) matrix built from basis states."""
    dim = 2**n
    m = torch.zeros(dim, dim, dtype=C128)
    for col in range(dim):
        bit_a = (col >> (n - 1 - a)) & 1
        bit_b = (col >> (n - 1 - b)) & 1
        if kind == "cnot":
            m[col ^ (bit_a << (n - 1 - b)), col] = 1
        elif kind == "cz":
            m[col, col] = -1 if bit_a and bit_b else 1
        else:
            raise ValueError(f"reference has no two-qubit gate {kind!r}")
    return m


def _slot_value(
    slot, x: torch.Tensor, theta: torch.Tensor, w: torch.Tensor, c: torch.Tensor, preacts: bool
) -> torch.Tensor:
    """Value of one IR slot for one edge, from its documented meaning (not from qkan.solvers)."""
    if isinstance(slot, Theta):
        return theta[slot.index] * torch.ones_like(x)
    encoding = slot.encoding
    if encoding == "auto":
        encoding = "affine" if preacts else "raw"
    if encoding == "raw":
        return x
    affine = w[slot.rep] * x + c[slot.rep]
    return torch.arccos(affine) if encoding == "arccos" else affine


def circuit_edge(
    circuit, theta: torch.Tensor, x: torch.Tensor, w: torch.Tensor, c: torch.Tensor, preacts: bool
) -> torch.Tensor:
    """f (B,) for one edge of any Circuit: a state vector times full 2^n x 2^n gate matrices."""
    n = circuit.n_qubits
    psi = torch.zeros(x.shape[0], 2**n, dtype=C128)
    psi[:, 0] = 1
    for op in circuit.ops:
        if op.kind in ("cnot", "cz"):
            full = _two_qubit_matrix(op.kind, *op.qubits, n).expand(x.shape[0], -1, -1)
        else:
            if op.angle is None:
                m = FIXED_1Q[op.kind].expand(x.shape[0], 2, 2)
            else:
                angle = op.angle.const + sum(
                    coef * _slot_value(s, x, theta, w, c, preacts) for s, coef in op.angle.terms
                )
                m = ROTATIONS[op.kind](angle * torch.ones_like(x))
            full = _embed_1q(m, op.qubits[0], n)
        psi = (full @ psi.unsqueeze(-1)).squeeze(-1)
    q = circuit.readout.qubit
    signs = torch.tensor([1.0 - 2.0 * ((d >> (n - 1 - q)) & 1) for d in range(2**n)], dtype=torch.float64)
    return readout(psi, circuit.readout.kind, signs)


# ----- the layer sum (docs/math.md, "A layer") -----------------------------------------------------------
def layer_reference(
    x: torch.Tensor,
    theta: torch.Tensor,
    preacts_weight: torch.Tensor,
    preacts_bias: torch.Tensor,
    postact_weights: torch.Tensor,
    postact_bias: torch.Tensor,
    base_weight: torch.Tensor,
    mask: torch.Tensor,
    *,
    builtin: Optional[str] = None,
    circuit=None,
    readout_kind: str = "amp",
    preacts: bool = False,
    group: Optional[int] = None,
) -> torch.Tensor:
    """y (B, O) = sum_i mask*(pw*(f+pb) + bw*silu(x)), every edge simulated on its own.

    Give ``builtin`` (a built-in name of docs/math.md, "Built-in ansatzes", with ``readout_kind``) or ``circuit``
    (any IR Circuit, its own readout). ``group=g`` makes edge (o, i) use theta/preacts row ``i mod g``."""
    out_dim, in_dim = mask.shape
    rows = []
    for o in range(out_dim):
        total = 0
        for i in range(in_dim):
            e = (o, i) if group is None else (i % group,)
            xi = x[:, i]
            if builtin is not None:
                phi = builtin_phi(builtin, xi, preacts_weight[e], preacts_bias[e], preacts)
                f = builtin_edge(builtin, theta[e], phi, readout_kind)
            else:
                f = circuit_edge(circuit, theta[e], xi, preacts_weight[e], preacts_bias[e], preacts)
            total = total + mask[o, i] * (
                postact_weights[o, i] * (f + postact_bias[o, i]) + base_weight[o, i] * F.silu(xi)
            )
        rows.append(total)
    return torch.stack(rows, dim=1)


# ----- random layer tensors for the tests ----------------------------------------------------
PARAM_NAMES = ("theta", "preacts_weight", "preacts_bias", "postact_weights", "postact_bias", "base_weight", "mask")


def random_tensors(
    theta_shape: tuple[int, ...],
    out_dim: int,
    in_dim: int,
    reps: int,
    batch: int,
    group: Optional[int] = None,
    arccos_safe: bool = False,
    seed: int = 0,
) -> dict[str, torch.Tensor]:
    """float64 x (B, I) and every layer tensor (names as in LayerParams), random and generic: no
    zero weights, a mask with one pruned edge. ``arccos_safe`` keeps w*x+c well inside (-1, 1)."""
    g = torch.Generator().manual_seed(seed)
    edges = (out_dim, in_dim) if group is None else (group,)

    def uniform(shape, lo, hi):
        return lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)

    if arccos_safe:
        x = uniform((batch, in_dim), -0.9, 0.9)
        weight, bias = uniform((*edges, reps), 0.3, 0.9), uniform((*edges, reps), -0.08, 0.08)
    else:
        x = uniform((batch, in_dim), -2.0, 2.0)
        weight, bias = uniform((*edges, reps), 0.5, 1.5), uniform((*edges, reps), -1.0, 1.0)
    mask = torch.ones(out_dim, in_dim, dtype=torch.float64)
    mask[0, -1] = 0.0
    return {
        "x": x,
        "theta": uniform((*edges, *theta_shape), -math.pi, math.pi),
        "preacts_weight": weight,
        "preacts_bias": bias,
        "postact_weights": uniform((out_dim, in_dim), 0.5, 1.5),
        "postact_bias": uniform((out_dim, in_dim), -0.5, 0.5),
        "base_weight": uniform((out_dim, in_dim), -1.0, 1.0),
        "mask": mask,
    }


def random_circuit(n_qubits: int, n_ops: int, reps: int, seed: int) -> Circuit:
    """A random circuit over every registered gate kind, angles mixing theta, data and constants."""
    rng = random.Random(seed)
    c = Circuit(n_qubits, reps=reps, theta_shape=(4, 2)).h(0)
    for _ in range(n_ops):
        kind = rng.choice(["h", "x", "y", "z", "s", "rx", "ry", "rz", "cnot", "cz"])
        if kind in ("cnot", "cz"):
            if n_qubits > 1:
                c = c.gate(kind, *rng.sample(range(n_qubits), 2))
            continue
        q = rng.randrange(n_qubits)
        if kind.startswith("r"):
            angle = rng.uniform(-1, 1) + rng.uniform(0.5, 2) * theta(rng.randrange(4), rng.randrange(2))
            if rng.random() < 0.7:
                angle = angle + rng.choice([1.0, -0.5, 2.0]) * data(
                    rng.randrange(reps), rng.choice(["auto", "raw", "affine"])
                )
            c = c.gate(kind, q, angle=angle)
        else:
            c = c.gate(kind, q)
    return c.measure(rng.choice(["amp", "z"]), rng.randrange(n_qubits))
