"""The multi-qubit flash kernels (docs/notes/flash.md, "Multi-qubit circuits"): the gate-walk family's
kernels, launches and reductions, with the per-sample state a register statevector of 2 to 5 qubits. The
code is a printer of the lowered instruction list (amplitudes.py): forward, then for gradients the adjoint
method, each instruction undone on the state and the cotangent g = dL/dRe + i dL/dIm, a rotation's angle
getting Im(<g|P|psi>) / 2 between; nothing per gate is stored."""

from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .amplitudes import TOLERANCE, Mix, Phase
from .bloch import lit
from .statevector_plan import StatevectorPlan
from .walk import WalkCodegen, _value
from .writer import CudaWriter

Part = Optional[tuple[int, str]]  # one real part of a complex factor: (sign, C factor, "" for 1), None for 0
Factor = tuple[Part, Part]  # real and imaginary parts
Matrix2 = tuple[tuple[Factor, Factor], tuple[Factor, Factor]]
ZERO: Factor = (None, None)


def _part(value: float) -> Part:
    if abs(value) <= TOLERANCE:
        return None
    if abs(abs(value) - 1) <= TOLERANCE:
        return (1 if value > 0 else -1, "")
    return (1, lit(value))


def literal_factor(value: complex) -> Factor:
    return _part(value.real), _part(value.imag)


def rotation_factors(axis: str, c: str, s: str, inverse: bool) -> Matrix2:
    """exp(-i t/2 P) (or its inverse) from the C names of cos(t/2) and sin(t/2)."""
    cos: Factor = ((1, c), None)
    sign = 1 if inverse else -1  # the sign of the sin terms' imaginary (x, z) or upper-right (y) part
    if axis == "x":
        return (cos, (None, (sign, s))), ((None, (sign, s)), cos)
    if axis == "y":
        return (cos, ((sign, s), None)), (((-sign, s), None), cos)
    return ((((1, c), (sign, s))), ZERO), (ZERO, ((1, c), (-sign, s)))


def literal_factors(m: np.ndarray) -> Matrix2:
    return (literal_factor(m[0, 0]), literal_factor(m[0, 1])), (literal_factor(m[1, 0]), literal_factor(m[1, 1]))


def _times(part: Part, var: str, sign: int) -> list[tuple[int, str]]:
    if part is None:
        return []
    return [(sign * part[0], f"{part[1]} * {var}" if part[1] else var)]


def product_terms(factor: Factor, re: str, im: str) -> tuple[list[tuple[int, str]], list[tuple[int, str]]]:
    """(real terms, imaginary terms) of factor * (re + i im)."""
    fr, fi = factor
    return _times(fr, re, 1) + _times(fi, im, -1), _times(fr, im, 1) + _times(fi, re, 1)


def expression(terms: list[tuple[int, str]]) -> str:
    if not terms:
        return "real(0)"
    text = ("-" if terms[0][0] < 0 else "") + terms[0][1]
    return text + "".join((" - " if sign < 0 else " + ") + t for sign, t in terms[1:])


def _reg(prefix: str, k: int) -> tuple[str, str]:
    return f"{prefix}r{k}", f"{prefix}i{k}"


def write_mix(w: CudaWriter, m: Matrix2, prefix: str, pair: tuple[int, int], skip: tuple[bool, bool]) -> None:
    """Registers ``pair`` of vector ``prefix`` (a: state, g: cotangent) <- m @ pair; ``skip`` leaves out the
    terms of registers known to be zero."""
    names = [_reg(prefix, k) for k in pair]
    values = []
    for row in m:
        re_terms: list[tuple[int, str]] = []
        im_terms: list[tuple[int, str]] = []
        for factor, (re, im), zero in zip(row, names, skip):
            if not zero:
                r, i = product_terms(factor, re, im)
                re_terms, im_terms = re_terms + r, im_terms + i
        values += [expression(re_terms), expression(im_terms)]
    targets = [name for pair_names in names for name in pair_names]
    w.line(
        "{ const real "
        + ", ".join(f"q{n} = {v}" for n, v in enumerate(values))
        + "; "
        + " ".join(f"{t} = q{n};" for n, t in enumerate(targets))
        + " }"
    )


def write_phase(w: CudaWriter, value: complex, prefix: str, k: int) -> None:
    re, im = _reg(prefix, k)
    r, i = product_terms(literal_factor(value), re, im)
    w.line(f"{{ const real q0 = {expression(r)}, q1 = {expression(i)}; {re} = q0; {im} = q1; }}")


def cotangent_terms(axis: str, a: int, b: int) -> str:
    """Im(<g|P|psi>) over one register pair (a: bit 0, b: bit 1), state and cotangent after the rotation."""
    ar, ai, br, bi = (*_reg("a", a), *_reg("a", b))
    gar, gai, gbr, gbi = (*_reg("g", a), *_reg("g", b))
    if axis == "z":
        return f"{gar} * {ai} - {gai} * {ar} - {gbr} * {bi} + {gbi} * {br}"
    if axis == "x":
        return f"{gar} * {bi} - {gai} * {br} + {gbr} * {ai} - {gbi} * {ar}"
    return f"{gbr} * {ar} + {gbi} * {ai} - {gar} * {br} - {gai} * {bi}"


class StatevectorCodegen(WalkCodegen):
    """Writes the flash kernels of a ``StatevectorPlan``: the gate walk's per-sample inputs, table, layer
    sums and parameter mapping (inherited), with a register statevector for the Bloch vector."""

    plan: StatevectorPlan

    def __init__(self, plan: StatevectorPlan):
        super().__init__(plan)
        self.lowered = plan.lowered

    def angle(self, j: int) -> str:
        """Half data gate j's angle (a statevector rotation takes cos and sin of t / 2)."""
        gate = self.plan.gates[j]
        parts = [f"{lit(0.5 * t.coef)} * {_value(t.encoding, t.rep)}" for t in gate.terms]
        if gate.offset_slot is not None:  # constant included
            parts.append(f"real(0.5) * t{gate.offset_slot}")
        elif gate.const != 0.0:
            parts.append(lit(0.5 * gate.const))
        return " + ".join(parts) if parts else lit(0.0)

    def _rotation(self, instruction: Mix, inverse: bool) -> Matrix2:
        if instruction.rotation is None:
            assert instruction.constant is not None
            return literal_factors(instruction.constant.conj().T if inverse else instruction.constant)
        rot = instruction.rotation
        if rot.kind == "data":
            k = self.plan.trig_of[rot.index]
            return rotation_factors(rot.axis, f"c{k}", f"s{k}", inverse)
        slot = self.plan.param_rotations[rot.index].slot
        return rotation_factors(rot.axis, f"t{slot}", f"t{slot + 1}", inverse)

    # ----- per-sample pieces ------------------------------------------------------------------
    def write_state(self, w: CudaWriter, keep: bool) -> None:
        """The amplitudes (ar{k}, ai{k}) from |0...0> through every instruction (``keep`` is never set)."""
        size = 2**self.lowered.n_qubits
        w.line("real " + ", ".join(f"ar{k} = real({int(k == 0)}), ai{k} = real(0)" for k in range(size)) + ";")
        for instruction in self.lowered.instructions:
            if isinstance(instruction, Phase):
                write_phase(w, instruction.value, "a", instruction.register)
                continue
            m = self._rotation(instruction, inverse=False)
            for pair, zero in zip(instruction.pairs, instruction.zero):
                if not all(zero):
                    write_mix(w, m, "a", pair, zero)

    def _probabilities(self) -> list[str]:
        """P(readout qubit = 0), P(= 1) as sums of |amplitude|^2."""
        low = self.lowered
        sums = []
        for bit in (0, 1):
            regs = [low.final[k] for k in range(len(low.final)) if low.bit(k, self.plan.readout_qubit) == bit]
            sums.append(" + ".join(f"ar{r} * ar{r} + ai{r} * ai{r}" for r in regs))
        return sums

    def write_readout(self, w: CudaWriter, lazy: bool) -> None:
        p0, p1 = self._probabilities()
        w.line(f"const real p0 = {p0}, p1 = {p1};")
        if self.plan.readout == "amp":  # sqrt(P0) - sqrt(P1): no cancellation near the poles
            w.line("const real rn0 = sqrt(p0), rn1 = sqrt(p1);", "const real f = rn0 - rn1;")
        else:
            w.line("const real f = p0 - p1;")

    def write_readout_cotangent(self, w: CudaWriter) -> None:
        """g_k = dL/dRe + i dL/dIm of amplitude k: h_bit * psi_k; amp's kink at P = 0 gets the zero subgradient."""
        if self.plan.readout == "amp":
            w.line("const real h0 = rn0 > real(0) ? gf / rn0 : real(0), h1 = rn1 > real(0) ? -gf / rn1 : real(0);")
        else:
            w.line("const real h0 = real(2) * gf, h1 = real(-2) * gf;")
        low = self.lowered
        for k, r in enumerate(low.final):
            h = f"h{low.bit(k, self.plan.readout_qubit)}"
            w.line(f"real gr{r} = {h} * ar{r}, gi{r} = {h} * ai{r};")

    def write_backward_walk(self, w: CudaWriter) -> None:
        """Undo the instructions last to first on the state and the cotangent; a rotation's angle gets
        Im(<g|P|psi>) / 2 first. A state register known zero before an instruction is set to zero again."""
        w.line(*(f"real du{rep} = real(0);" for rep in self.plan.affine_reps))
        for instruction in reversed(self.lowered.instructions):
            if isinstance(instruction, Phase):
                write_phase(w, instruction.value.conjugate(), "a", instruction.register)
                write_phase(w, instruction.value.conjugate(), "g", instruction.register)
                continue
            if instruction.rotation is not None:
                self._write_rotation_gradient(w, instruction)
            m = self._rotation(instruction, inverse=True)
            for pair, zero in zip(instruction.pairs, instruction.zero):
                write_mix(w, m, "g", pair, (False, False))
                if not all(zero):
                    write_mix(w, m, "a", pair, (False, False))
                w.line(*(f"ar{r} = real(0); ai{r} = real(0);" for r, z in zip(pair, zero) if z))
        self.write_preact_gradients(w)

    def _write_rotation_gradient(self, w: CudaWriter, instruction: Mix) -> None:
        rot = instruction.rotation
        assert rot is not None
        sums = [cotangent_terms(rot.axis, a, b) for (a, b), zero in zip(instruction.pairs, instruction.zero)]
        sums = [s for s, zero in zip(sums, instruction.zero) if not all(zero)]
        with w.block(f"{{ const real d = real(0.5) * ({' + '.join(sums) or 'real(0)'});"):
            if rot.kind == "data":
                self.write_angle_cotangent(w, self.plan.gates[rot.index])
            else:
                w.line(f"acc{self.plan.param_rotations[rot.index].acc} += d;")

    # ----- per-edge pieces ----------------------------------------------------------------------
    def write_theta_values(self, w: CudaWriter, store: Callable[[int, str], str]) -> None:
        """The data gates' theta offsets (as the gate walk), and cos, sin of each theta rotation's half angle."""
        super().write_theta_values(w, store)
        for rot in self.plan.param_rotations:
            half = " + ".join([lit(0.5 * rot.const)] + [f"{lit(0.5 * c)} * th[{i}]" for i, c in rot.thetas])
            w.line(f"{{ real s, c; qsincos({half}, &s, &c); {store(rot.slot, 'c')} {store(rot.slot + 1, 's')} }}")

    def write_theta_gradients(self, w: CudaWriter, acc: Callable[[int], str]) -> None:
        super().write_theta_gradients(w, acc)
        for rot in self.plan.param_rotations:
            w.line(*(f"g[{index}] += {lit(coef)} * {acc(rot.acc)};" for index, coef in rot.thetas))
