"""Export a circuit as OpenQASM 3 (or 2) text: one edge with bound values, or the circuit itself with named
parameters (``theta_<l>_<k>``, ``x_<rep>_<encoding>``), which :meth:`Circuit.from_qasm` reads back."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .angles import Angle, Theta
from .bind import angle_value, finite_array
from .circuit import Circuit
from .qasm_import import data_name, theta_name

QASM_HEADERS = {
    2: ("OPENQASM 2.0;", 'include "qelib1.inc";', "qreg q[{n}];"),
    3: ("OPENQASM 3.0;", 'include "stdgates.inc";', "qubit[{n}] q;"),
}


def _check_exportable(circuit: Circuit) -> None:
    """Refuse a circuit with a gate that has no OpenQASM name (one registered without ``qasm=``)."""
    unnamed = sorted({op.spec.name for op in circuit.ops if op.spec.qasm is None})
    if unnamed:
        raise ValueError(
            f"gate(s) {', '.join(map(repr, unnamed))} have no OpenQASM name; register them with "
            "GateSpec(..., qasm='<stdgates name>') to export this circuit"
        )


def symbolic_angle(angle: Angle) -> str:
    """An angle as exact QASM text over named parameters: coefficients and constant written with repr."""
    parts = [
        f"{coef!r}*{theta_name(slot.index) if isinstance(slot, Theta) else data_name(slot.rep, slot.encoding)}"
        for slot, coef in angle.terms
    ]
    if angle.const != 0.0 or not parts:
        parts.append(repr(angle.const))
    return " + ".join(parts)


def _parameters(circuit: Circuit) -> list[str]:
    """The named parameters the circuit's angles use, in order of first use."""
    names: dict[str, None] = {}
    for op in circuit.ops:
        for slot, _ in op.angle.terms if op.angle else ():
            names[theta_name(slot.index) if isinstance(slot, Theta) else data_name(slot.rep, slot.encoding)] = None
    return list(names)


def to_qasm(
    circuit: Circuit,
    theta: Optional[np.ndarray] = None,
    x: Optional[float] = None,
    preacts_weight: Optional[Sequence[float]] = None,
    preacts_bias: Optional[Sequence[float]] = None,
    preacts: bool = False,
    version: int = 3,
) -> str:
    """OpenQASM text of ``circuit``. With ``theta`` (per-edge) and ``x``: one edge, every angle evaluated at them
    and pre-activation ``w``/``c`` (defaults 1 and 0). Without both: the circuit with named parameters (QASM 3
    declares them as inputs) and a ``// qkan:`` comment with reps and theta_shape. The readout becomes a
    comment, since ``amp`` is not a measurement a device can make. Values are checked before any text is built."""
    if not isinstance(circuit, Circuit):
        raise TypeError(f"circuit must be a qkan.circuits.Circuit, got {type(circuit).__name__}")
    if not isinstance(preacts, (bool, np.bool_)):
        raise TypeError(f"preacts must be True or False, got {preacts!r}")
    if version not in QASM_HEADERS:
        raise ValueError(f"version must be one of {sorted(QASM_HEADERS)}, got {version!r}")
    circuit.validate()
    _check_exportable(circuit)
    lines = [line.format(n=circuit.n_qubits) for line in QASM_HEADERS[version]]
    if theta is None and x is None:
        shape = ",".join(map(str, circuit.parameter_shape))
        lines.insert(0, f"// qkan: reps={circuit.data_reps} theta_shape=({shape})")
        lines += [f"input float[64] {name};" for name in _parameters(circuit)] if version == 3 else []
        angle_text = symbolic_angle
    else:
        reps = circuit.data_reps
        theta = np.asarray(theta)
        if theta.shape != circuit.parameter_shape:
            raise ValueError(f"theta for one edge must have shape {circuit.parameter_shape}, got {theta.shape}")
        theta = finite_array("theta", theta)
        x = float(finite_array("x", x, ()))
        w = np.ones(reps) if preacts_weight is None else finite_array("preacts_weight", preacts_weight, (reps,))
        c = np.zeros(reps) if preacts_bias is None else finite_array("preacts_bias", preacts_bias, (reps,))

        def angle_text(angle: Angle) -> str:
            return repr(angle_value(angle, theta, x, w, c, preacts))

    for op in circuit.ops:
        args = ", ".join(f"q[{q}]" for q in op.qubits)
        angle = "" if op.angle is None else f"({angle_text(op.angle)})"
        lines.append(f"{op.spec.qasm}{angle} {args};")
    lines.append(f"// readout: {circuit.measured.kind} on q[{circuit.measured.qubit}]")
    return "\n".join(lines) + "\n"
