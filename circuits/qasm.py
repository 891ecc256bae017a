"""Export one edge of a circuit, with bound values, as OpenQASM 3 text."""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .bind import angle_value, finite_array
from .circuit import Circuit


def _check_exportable(circuit: Circuit) -> None:
    """Refuse a circuit with a gate that has no OpenQASM name (one registered without ``qasm=``)."""
    unnamed = sorted({op.spec.name for op in circuit.ops if op.spec.qasm is None})
    if unnamed:
        raise ValueError(
            f"gate(s) {', '.join(map(repr, unnamed))} have no OpenQASM name; register them with "
            "GateSpec(..., qasm='<stdgates name>') to export this circuit"
        )


def to_qasm(
    circuit: Circuit,
    theta: np.ndarray,
    x: float,
    preacts_weight: Optional[Sequence[float]] = None,
    preacts_bias: Optional[Sequence[float]] = None,
    preacts: bool = False,
) -> str:
    """OpenQASM 3 for one edge: every angle evaluated at ``theta`` (per-edge), input ``x`` and
    pre-activation ``w``/``c`` (defaults 1 and 0). The readout becomes a comment, since
    ``amp`` is not a measurement a device can make. Every value is checked (finite, of its shape)
    before any text is built."""
    if not isinstance(circuit, Circuit):
        raise TypeError(f"circuit must be a qkan.circuits.Circuit, got {type(circuit).__name__}")
    if not isinstance(preacts, (bool, np.bool_)):
        raise TypeError(f"preacts must be True or False, got {preacts!r}")
    circuit.validate()
    _check_exportable(circuit)
    reps = circuit.data_reps
    theta = np.asarray(theta)
    if theta.shape != circuit.parameter_shape:
        raise ValueError(f"theta for one edge must have shape {circuit.parameter_shape}, got {theta.shape}")
    theta = finite_array("theta", theta)
    x = float(finite_array("x", x, ()))
    w = np.ones(reps) if preacts_weight is None else finite_array("preacts_weight", preacts_weight, (reps,))
    c = np.zeros(reps) if preacts_bias is None else finite_array("preacts_bias", preacts_bias, (reps,))
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{circuit.n_qubits}] q;"]
    for op in circuit.ops:
        spec = op.spec
        args = ", ".join(f"q[{q}]" for q in op.qubits)
        if op.angle is None:
            lines.append(f"{spec.qasm} {args};")
        else:
            value = angle_value(op.angle, theta, x, w, c, preacts)
            lines.append(f"{spec.qasm}({value!r}) {args};")
    lines.append(f"// readout: {circuit.measured.kind} on q[{circuit.measured.qubit}]")
    return "\n".join(lines) + "\n"
