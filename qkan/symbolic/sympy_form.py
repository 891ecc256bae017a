"""A QKAN model or layer as exact sympy expressions, one per output, built from the edges' Fourier spectra
(:mod:`qkan.symbolic.fourier`): each edge is a finite sum of cos/sin terms in its input (or in arccos of it),
passed through the readout and scaled by the post-activation weight, plus the base branch and the biases."""

from __future__ import annotations

import math
from numbers import Real
from typing import Any, Callable, Optional, Sequence

import sympy
import torch

from qkan.solvers.activations import activation_name

from .fourier import LINEAR, EdgeSpectrum, layer_spectrum, readout_of_z

FREQUENCY_DECIMALS = 12  # terms of one edge whose frequencies agree to 1e-12 are merged into one

SYMPY_ACTIVATIONS: dict[str, Callable[[sympy.Expr], sympy.Expr]] = {
    "silu": lambda x: x / (1 + sympy.exp(-x)),
    "identity": lambda x: x,
    "tanh": sympy.tanh,
    "relu": lambda x: sympy.Max(0, x),
    "gelu": lambda x: x * (1 + sympy.erf(x / sympy.sqrt(2))) / 2,
    "sigmoid": lambda x: 1 / (1 + sympy.exp(-x)),
}


def check_eps(eps: object) -> float:
    """``simplify_below`` as a float >= 0, or an error naming it."""
    if isinstance(eps, bool) or not isinstance(eps, Real):
        raise TypeError(f"simplify_below must be a real number >= 0, got {eps!r}")
    if not math.isfinite(float(eps)) or eps < 0:
        raise ValueError(f"simplify_below must be a finite number >= 0 (0 keeps every term), got {eps!r}")
    return float(eps)


def _number(value: Any) -> sympy.Float:
    """A float or 0-dim tensor as a sympy Float holding the same double."""
    return sympy.Float(float(value))


def _scaled(factor: Any, expr: sympy.Expr) -> sympy.Expr:
    """factor * expr, left unevaluated: sympy would distribute the number over a sum and query assumptions
    on every term, which takes seconds on a network's nested expressions."""
    return expr if float(factor) == 1.0 else sympy.Mul(_number(factor), expr, evaluate=False)


def _times(frequency: float, expr: sympy.Expr) -> sympy.Expr:
    """frequency * expr with an integral frequency written as an integer (cos(2*x), not cos(2.0*x))."""
    if frequency == 1.0:
        return expr
    if float(frequency).is_integer():
        return sympy.Mul(sympy.Integer(int(frequency)), expr, evaluate=False)
    return _scaled(frequency, expr)


def _kept(coefficient: float, eps: float) -> bool:
    """Whether a term with this coefficient stays: non-zero and not below ``eps`` in magnitude."""
    return coefficient != 0.0 and abs(coefficient) >= eps


def _edge_terms(spectrum: EdgeSpectrum, o: int, i: int) -> dict[tuple, list[float]]:
    """z of edge (o, i) as {phase key: [cos coefficient, sin coefficient]}: z = sum a cos(phase) + b sin(phase).
    A key is the frequency in x, rounded (all variables linear), or the frequency vector over the variables;
    a term and its mirror image share the key with a non-negative leading entry."""
    coefficients = spectrum.coefficients[o, i]
    linear = all(v.kind == LINEAR for v in spectrum.variables)
    frequencies = spectrum.frequencies[o, i] if linear else None
    terms: dict[tuple, list[float]] = {}
    for f, c in enumerate(coefficients.tolist()):
        vector = (float(frequencies[f]),) if frequencies is not None else tuple(spectrum.modes[f].tolist())
        lead = next((v for v in vector if round(v, FREQUENCY_DECIMALS) != 0), 0.0)
        sign = -1.0 if lead < 0 else 1.0
        key = tuple(round(sign * v, FREQUENCY_DECIMALS) + 0.0 for v in vector)
        entry = terms.setdefault(key, [0.0, 0.0])
        entry[0] += c.real
        entry[1] -= sign * c.imag if any(key) else 0.0
    return terms


def _variable_exprs(spectrum: EdgeSpectrum, o: int, i: int, x: sympy.Expr) -> list[sympy.Expr]:
    out = []
    for v in spectrum.variables:
        inner = _scaled(v.scale[o, i], x)
        out.append(
            inner
            if v.kind == LINEAR
            else sympy.acos(sympy.Add(inner, _number(v.shift[o, i]), evaluate=False), evaluate=False)
        )
    return out


def edge_z(spectrum: EdgeSpectrum, o: int, i: int, x: sympy.Expr, eps: float = 0.0) -> sympy.Expr:
    """<Z> of edge (o, i) as a sympy expression in its input ``x``, terms with |coefficient| < eps dropped."""
    linear = all(v.kind == LINEAR for v in spectrum.variables)
    variables = None if linear else _variable_exprs(spectrum, o, i, x)
    terms: list[sympy.Expr] = []
    for key, (a, b) in sorted(_edge_terms(spectrum, o, i).items()):
        if not any(key):  # the constant term
            terms += [_number(a)] if _kept(a, eps) else []
            continue
        if variables is None:
            phase = _times(key[0], x)
        else:
            phase = sympy.Add(*[_times(k, v) for k, v in zip(key, variables) if k])
        if _kept(a, eps):
            terms.append(_scaled(a, sympy.cos(phase, evaluate=False)))
        if _kept(b, eps):
            terms.append(_scaled(b, sympy.sin(phase, evaluate=False)))
    return sympy.Add(*terms)


def _activation_expr(layer: Any) -> Callable[[sympy.Expr], sympy.Expr]:
    name = activation_name(layer.base_activation)
    name = "identity" if name is None else name
    if not isinstance(name, str) or name not in SYMPY_ACTIVATIONS:
        raise ValueError(
            f"the base activation {layer.base_activation!r} has no sympy form (known: {sorted(SYMPY_ACTIVATIONS)}); "
            "zero base_weight or mask the base branch to export this layer"
        )
    return SYMPY_ACTIVATIONS[name]


def layer_exprs(layer: Any, inputs: Sequence[sympy.Expr], eps: float = 0.0) -> list[sympy.Expr]:
    """The layer's outputs as sympy expressions of ``inputs`` (docs/math.md, "A layer"):
    y_o = sum_i mask * (pw * (f_oi(x_i) + pb) + bw * sigma(x_i))."""
    spectrum = layer_spectrum(layer)
    p = layer.params()
    mask, pw, pb, bw = (
        t.detach().to("cpu", torch.float64) for t in (p.mask, p.postact_weights, p.postact_bias, p.base_weight)
    )
    base = mask * bw
    sigma = _activation_expr(layer) if any(_kept(b, eps) for b in base.flatten().tolist()) else None
    outputs = []
    for o in range(layer.out_dim):
        terms: list[sympy.Expr] = []
        constant = 0.0
        for i, x in enumerate(inputs):
            weight = float(mask[o, i] * pw[o, i])
            if _kept(weight, eps):
                z = edge_z(spectrum, o, i, x, eps)
                terms.append(_scaled(weight, readout_of_z(z, spectrum.readout, sympy.sqrt)))
                constant += weight * float(pb[o, i])
            if sigma is not None and _kept(float(base[o, i]), eps):
                terms.append(_scaled(base[o, i], sigma(x)))
        if _kept(constant, eps):
            terms.append(_number(constant))
        outputs.append(sympy.Add(*terms))
    return outputs


def to_sympy(model: Any, simplify_below: float = 0.0, input_names: Optional[Sequence[str]] = None) -> list[sympy.Expr]:
    """One exact sympy expression per output of a QKAN model or QKANLayer, in symbols x_1..x_n (or
    ``input_names``). ``simplify_below`` drops every Fourier term, edge, base branch and constant whose
    coefficient has magnitude below it (0 keeps all, so the expressions equal the forward to rounding).
    Circuits whose data enter through anything but affine or arccos(affine) angles raise ValueError."""
    from qkan.layer import QKANLayer
    from qkan.model import QKAN

    eps = check_eps(simplify_below)
    if isinstance(model, QKANLayer):
        layers, norm = [model], 0
    elif isinstance(model, QKAN):
        layers, norm = list(model._qkan_layers), model.norm_out
    else:
        raise TypeError(f"to_sympy takes a qkan.QKAN or qkan.QKANLayer, got {type(model).__name__}")
    n_in = layers[0].in_dim
    names = [f"x_{k + 1}" for k in range(n_in)] if input_names is None else list(input_names)
    if len(names) != n_in or not all(isinstance(n, str) and n for n in names):
        raise ValueError(f"input_names must be {n_in} non-empty strings, one per input, got {input_names!r}")
    h: list[sympy.Expr] = list(sympy.symbols(names))
    for layer in layers:
        h = layer_exprs(layer, h, eps)
    if norm:
        p = sympy.Float(float(norm))
        length = sympy.Add(*[sympy.Abs(e) ** p for e in h]) ** (1 / p)
        h = [e / sympy.Max(length, sympy.Float(1e-12)) for e in h]
    return h
