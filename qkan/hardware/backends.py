"""The best-calibrated qubits of a qiskit backend (:func:`best_qubits`, as in the published qkan 0.2.3): where
many one-qubit circuits share a job, a few bad qubits bias every result, so pick the n best."""

from __future__ import annotations

from typing import Any, Optional

from .layout import rank_qubits
from .profile import DeviceProfile


def best_qubits(
    backend: Any,
    n: int,
    *,
    max_readout_error: Optional[float] = None,
    qubit_error_threshold: Optional[float] = None,
    strict: bool = True,
) -> list[int]:
    """The ``n`` working qubits of ``backend`` with the least readout and 1q-gate error (short T2 a small
    penalty), best first, from its Target or legacy properties; [] where it reports no calibration and no
    threshold asks for one. Thresholds keep qubits at or under them; fewer than ``n`` left raise ValueError,
    or with ``strict=False`` give all that pass."""
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"best_qubits: n must be a positive integer, got {n!r}")
    try:
        profile = DeviceProfile.from_qiskit(backend)
    except ValueError:
        if max_readout_error is not None or qubit_error_threshold is not None:
            raise
        return []
    return rank_qubits(
        profile,
        n,
        max_readout_error=max_readout_error,
        qubit_error_threshold=qubit_error_threshold,
        strict=strict,
    )
