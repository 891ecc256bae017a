"""Export one edge of a circuit, with bound values, as OpenQASM 3 text."""
from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from .bind import angle_value
from .circuit import Circuit


def to_qasm(circuit: Circuit, theta: np.ndarray, x: float, preacts_weight: Optional[Sequence[float]] = None,
            preacts_bias: Optional[Sequence[float]] = None, preacts: bool = False) -> str:
    """OpenQASM 3 for one edge: every angle evaluated at ``theta`` (per-edge), input ``x`` and
    pre-activation ``w``/``c`` (defaults 1 and 0). The readout becomes a comment, since
    ``amp`` is not a measurement a device can make."""
    circuit.validate()
    reps = circuit.data_reps
    w = np.ones(reps) if preacts_weight is None else np.asarray(preacts_weight, dtype=float)
    c = np.zeros(reps) if preacts_bias is None else np.asarray(preacts_bias, dtype=float)
    theta = np.asarray(theta, dtype=float)
    if theta.shape != circuit.parameter_shape:
        raise ValueError(f"theta for one edge must have shape {circuit.parameter_shape}, got {theta.shape}")
    lines = ["OPENQASM 3.0;", 'include "stdgates.inc";', f"qubit[{circuit.n_qubits}] q;"]
    for op in circuit.ops:
        spec = op.spec
        args = ", ".join(f"q[{q}]" for q in op.qubits)
        if op.angle is None:
            lines.append(f"{spec.qasm} {args};")
        else:
            value = angle_value(op.angle, theta, x, w, c, preacts)
            lines.append(f"{spec.qasm}({value!r}) {args};")
    lines.append(f"// readout: {circuit.readout.kind} on q[{circuit.readout.qubit}]")
    return "\n".join(lines) + "\n"
