"""Generation-time math of the flash kernels: Bloch rotations of constant gates, 2x2 products, and the
C literals and statements that carry them (docs/math.md, "One edge")."""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from qkan.circuits import Op, Theta
from qkan.circuits.gates import PAULI

from .plan import Block
from .writer import CudaWriter

AXES = ("x", "y", "z")
FlatIndex = Callable[[Theta], int]


def lit(value: float) -> str:
    """A C literal of the compute type, exact to double precision."""
    return f"real({float(value)!r})"


def constant_matrix(ops: Sequence[Op]) -> np.ndarray:
    """The 2x2 unitary of a run of constant gates (first gate rightmost)."""
    matrix = np.eye(2, dtype=np.complex128)
    for op in ops:
        matrix = op.constant_matrix() @ matrix
    return matrix


def bloch_rotation(m: np.ndarray) -> np.ndarray:
    """The rotation R of the Bloch sphere made by the 2x2 unitary m: R_ij = Tr(P_i m P_j m^dag) / 2."""
    return np.array([[0.5 * np.trace(PAULI[a] @ m @ PAULI[b] @ m.conj().T).real for b in AXES] for a in AXES])


def block_entries(block: Block) -> list[str]:
    """The block's Bloch rotation, row-major: its table values, or literals for a constant block."""
    if block.slot is None:
        return [lit(v) for v in bloch_rotation(constant_matrix(block.ops)).ravel()]
    return [f"t{block.slot + k}" for k in range(9)]


def rotate(r: list[str], vector: str, transpose: bool) -> str:
    """C applying the 3x3 rotation ``r`` (row-major entries), or its transpose (inverse), to ``vector``."""
    x, y, z = (v.strip() for v in vector.split(","))
    rows = [[r[3 * j + i] if transpose else r[3 * i + j] for j in range(3)] for i in range(3)]
    new = [" + ".join(f"{m} * {v}" for m, v in zip(row, (x, y, z))) for row in rows]
    return f"{{ const real n0 = {new[0]}, n1 = {new[1]}, n2 = {new[2]}; {x} = n0; {y} = n1; {z} = n2; }}"


def m2_literal(m: np.ndarray) -> str:
    values = [
        m[0, 0].real,
        m[0, 0].imag,
        m[0, 1].real,
        m[0, 1].imag,
        m[1, 0].real,
        m[1, 0].imag,
        m[1, 1].real,
        m[1, 1].imag,
    ]
    return "M2<real>{" + ", ".join(lit(v) for v in values) + "}"


def half_angle(op: Op, flat: FlatIndex) -> str:
    """Half the gate's angle from the edge's theta ``th`` (the 2x2 rotation's argument)."""
    angle = op.rotation_angle
    parts = [lit(0.5 * angle.const)] if angle.const != 0.0 else []
    parts += [f"{lit(0.5 * c)} * th[{flat(s)}]" for s, c in _theta_terms(op)]
    return " + ".join(parts)


def _theta_terms(op: Op) -> list[tuple[Theta, float]]:
    """The terms of a block gate's angle: all theta (blocks hold parameter-only gates)."""
    terms = [(s, c) for s, c in op.rotation_angle.terms if isinstance(s, Theta)]
    assert len(terms) == len(op.rotation_angle.terms), f"data slot in the block gate {op}"
    return terms


def write_block_product(w: CudaWriter, ops: tuple[Op, ...], flat: FlatIndex) -> None:
    """Leave the block's matrix in ``M`` (theta of the edge in ``th``); runs of constant gates are
    multiplied here, at generation time."""
    w.line("M2<real> M = m2_identity<real>();")
    pending = np.eye(2, dtype=np.complex128)
    for op in ops:
        if op.angle is None or not op.angle.thetas:
            pending = op.constant_matrix() @ pending
            continue
        if not np.allclose(pending, np.eye(2)):
            w.line(f"M = m2_mul({m2_literal(pending)}, M);")
            pending = np.eye(2, dtype=np.complex128)
        w.line(
            f"{{ real s, c; qsincos({half_angle(op, flat)}, &s, &c); M = m2_mul(m2_r{op.spec.generator}(c, s), M); }}"
        )
    if not np.allclose(pending, np.eye(2)):
        w.line(f"M = m2_mul({m2_literal(pending)}, M);")


def write_block_gradient(w: CudaWriter, block: Block, flat: FlatIndex, acc: Callable[[int], str]) -> None:
    """Add each theta-dependent rotation's gradient to ``g``: dangle = sum_P c_P T_P with c the Pauli
    coefficients of B^dag Q B (B: the block's gates before the rotation), i.e. the rotation's axis carried
    back to the block's input, and T = r x q there (``acc(slot)`` names a sum)."""
    a = block.acc
    assert a is not None, "a theta-dependent block has its accumulators"
    w.line("M2<real> M = m2_identity<real>();")
    for op in block.ops:
        if op.angle is not None and op.angle.thetas:
            axis = op.spec.generator
            w.line(f"{{ real cx, cy, cz; pauli_coeffs_{axis}(M, cx, cy, cz);")
            with w.indent():
                w.line(f"const real d = cx * {acc(a)} + cy * {acc(a + 1)} + cz * {acc(a + 2)};")
                w.line(*(f"g[{flat(slot)}] += {lit(coef)} * d;" for slot, coef in _theta_terms(op)))
                w.line(f"real s, c; qsincos({half_angle(op, flat)}, &s, &c); M = m2_mul(m2_r{axis}(c, s), M); }}")
        else:
            w.line(f"M = m2_mul({m2_literal(op.constant_matrix())}, M);")
