"""The period of a circuit's output in each trainable angle, so angles are quantised on a periodic grid.

Gates use the half-angle convention, R(t) = exp(-i t/2 P): the matrix has period 4*pi, but
R(t + 2*pi) = -R(t). For a single-qubit gate that -1 multiplies the whole state (-U (x) I = -(U (x) I)),
a global phase, which neither readout (``amp`` takes |amplitudes|, ``z`` their squares) can see.
So a slot entering an angle as ``c * theta`` leaves the circuit function unchanged when theta
moves by 2*pi/|c|: the function period is 2*pi/|c|, not the matrix period 4*pi/|c|. The 4*pi
period would apply to a rotation that acts on part of a larger gate (a controlled rotation turns
the -1 into a relative phase), and a multi-qubit Pauli rotation exp(-i t/2 P (x) Q) is back at 2*pi;
the gate registry admits only single-qubit rotations (``register_gate`` enforces it), so
:func:`gate_function_period` returns 2*pi and refuses anything else rather than guess.
"""

from __future__ import annotations

import math
from fractions import Fraction

import torch

from qkan.circuits import Circuit, GateSpec, Theta


def gate_function_period(spec: GateSpec) -> float:
    """Period of the circuit function in a rotation gate's own angle: 2*pi for single-qubit rotations,
    whose half-angle sign flip is a global phase."""
    if not spec.parametric:
        raise ValueError(f"gate {spec.name!r} has no angle")
    if spec.n_qubits != 1:
        raise ValueError(
            f"gate {spec.name!r} is a {spec.n_qubits}-qubit rotation: its angle period depends on its "
            "form (4*pi for a controlled rotation, 2*pi for exp(-i t/2 P(x)Q)); not supported"
        )
    return 2 * math.pi


def _lcm(a: Fraction, b: Fraction) -> Fraction:
    """Least common multiple of two positive rationals."""
    return Fraction(math.lcm(a.numerator * b.denominator, b.numerator * a.denominator), a.denominator * b.denominator)


def _as_fraction(value: float, what: str) -> Fraction:
    fraction = Fraction(value).limit_denominator(1000)
    if abs(float(fraction) - value) > 1e-9 * max(1.0, abs(value)):
        raise ValueError(
            f"{what}: coefficient ratio {value!r} is not a simple rational, so the circuit is not "
            "periodic in this angle; quantise theta with a non-periodic role instead"
        )
    return fraction


def theta_periods(circuit: Circuit) -> torch.Tensor:
    """Per-slot function period (float64, shape ``circuit.parameter_shape``). A slot used by several gates
    gets the least common period; unused slots get 2*pi."""
    in_units: dict[tuple[int, ...], Fraction] = {}  # period / (2*pi) per slot, as a rational
    for op in circuit.ops:
        if op.angle is None:
            continue
        base = gate_function_period(op.spec) / (2 * math.pi)
        for slot, coef in op.angle.terms:
            if isinstance(slot, Theta):
                period = _as_fraction(base / abs(coef), f"{slot} in {op}")
                in_units[slot.index] = _lcm(in_units[slot.index], period) if slot.index in in_units else period
    periods = torch.full(circuit.parameter_shape, 2 * math.pi, dtype=torch.float64)
    for index, period in in_units.items():
        periods[index] = 2 * math.pi * float(period)
    return periods
