"""``solver="auto"``: pick a solver from the device and what each solver supports."""
from __future__ import annotations

import torch

from qkan.circuits import Circuit

from .base import LayerGeometry


def choose(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device) -> str:
    """exact on CPU; on CUDA the fused flash kernel when it supports the circuit, else cutn, else exact."""
    from .registry import supported_solvers

    supported = supported_solvers(circuit, geometry, dtype, device)
    preference = ["flash", "cutn", "exact"] if device.type == "cuda" else ["exact", "cutn"]
    for name in preference:
        if name in supported:
            return name
    raise ValueError(f"no solver can run circuit {circuit.name!r} with {dtype} on {device}")
