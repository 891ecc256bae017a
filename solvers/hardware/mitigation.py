"""Error mitigation on the qiskit path, with qiskit's own tools (mitiq needs numpy < 2.3, which this
environment cannot take): readout-error correction of the one measured qubit from two calibration
circuits, and zero-noise extrapolation by unitary folding (G -> G (G^dagger G)^k) with Richardson weights."""

from __future__ import annotations

import math
from typing import Any, Optional

import numpy as np

MITIGATIONS = (None, "readout", "zne", "readout+zne")
ZNE_SCALES = (1, 3, 5)  # noise scale factors: each gate folded (scale - 1) / 2 times


def check_mitigation(mitigation: Optional[str], shots: Optional[int]) -> None:
    """ValueError naming an unknown mitigation, or readout correction without shots (nothing is measured)."""
    if mitigation not in MITIGATIONS:
        raise ValueError(f"unknown mitigation {mitigation!r}; expected one of {MITIGATIONS}")
    if mitigation is not None and "readout" in mitigation and shots is None:
        raise ValueError("mitigation='readout' corrects measured counts: it needs shots (an integer), got shots=None")


def scales(mitigation: Optional[str]) -> tuple[int, ...]:
    """The noise scale factors a call runs: (1,) or ZNE_SCALES."""
    return ZNE_SCALES if mitigation is not None and "zne" in mitigation else (1,)


def folded(circuit: Any, scale: int) -> Any:
    """A qiskit circuit with every gate G replaced by G (G^dagger G)^((scale - 1) / 2); measurements kept."""
    out = circuit.copy_empty_like()
    for instruction in circuit.data:
        out.append(instruction)
        if instruction.operation.name in ("measure", "barrier"):
            continue
        for _ in range((scale - 1) // 2):
            out.append(instruction.operation.inverse(), instruction.qubits, instruction.clbits)
            out.append(instruction)
    return out


def richardson_weights(factors: tuple[int, ...]) -> np.ndarray:
    """Lagrange weights that extrapolate values at ``factors`` to zero noise (they sum to 1)."""
    return np.array(
        [math.prod(s / (s - r) for s in factors if s != r) for r in factors],
    )


def corrected_probability(p0: np.ndarray, p0_given0: float, p0_given1: float) -> np.ndarray:
    """P(0) with the readout qubit's assignment errors undone: (p - P(0|1)) / (P(0|0) - P(0|1))."""
    return (p0 - p0_given1) / (p0_given0 - p0_given1)
