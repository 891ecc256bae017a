"""The cutn solver's front: whether it can run a circuit here, its options (one place for their
defaults, checked once when a Program is built) and its memory estimate (docs/design.md, "Solver contract")."""

from __future__ import annotations

import importlib.util
from typing import Any, Optional, Union

import torch

from qkan.circuits import Circuit

from .. import memory
from ..base import LayerGeometry, Solver
from ..statevector import COMPLEX_OF
from .program import CutnProgram

DEFAULT_MEMORY_FRACTION = 0.5  # of free GPU memory, when memory_limit is not given
BACKWARDS = ("cutensornet", "environments")


def resolve_memory_limit(memory_limit: Union[int, float, None], device: torch.device) -> Optional[int]:
    """Bytes: an int as given, a float in (0, 1] as that fraction of free memory on ``device``;
    None means DEFAULT_MEMORY_FRACTION of free GPU memory, and no limit on CPU."""
    if memory_limit is None:
        if device.type != "cuda":
            return None
        memory_limit = DEFAULT_MEMORY_FRACTION
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, float)):
        raise TypeError(
            f"memory_limit must be bytes (int) or a fraction of free memory (float), "
            f"got {memory_limit!r} ({type(memory_limit).__name__})"
        )
    if isinstance(memory_limit, float):
        if not 0.0 < memory_limit <= 1.0:
            raise ValueError(f"a fractional memory_limit must be in (0, 1], got {memory_limit!r}")
        return int(memory_limit * memory.free_memory(device))
    if memory_limit <= 0:
        raise ValueError(f"memory_limit must be a positive number of bytes, got {memory_limit!r}")
    return memory_limit


class CutnSolver(Solver):
    """Tensor-network backend: any circuit, CPU (opt_einsum) or CUDA (cuTensorNet), fp32/fp64.

    ``memory_limit``: bytes, or a fraction of free memory (None: half the free GPU memory, no limit on
    CPU). ``backward``: ``cutensornet`` (its own gradients where they apply, else environments) or
    ``environments`` (one contraction per operand)."""

    name = "cutn"
    options = {"memory_limit": None, "backward": "cutensornet"}
    auto_rank = {"cuda": 2, "cpu": 1}
    bounded_memory = True

    def unsupported_reason(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device
    ) -> Optional[str]:
        if dtype not in COMPLEX_OF:
            return f"cutn computes in float32 or float64, got {dtype}"
        if torch.device(device).type == "cuda" and importlib.util.find_spec("cuquantum") is None:
            return (
                "cuQuantum (cuTensorNet) is not installed: pip install cuquantum-python-cu13 "
                "(or qkan-toolkit[gpu]), or use solver='exact'"
            )
        return None

    def build(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        device: torch.device,
        **options: Any,
    ) -> CutnProgram:
        """``memory_limit`` (bytes, a fraction of free memory, or None) and ``backward`` (one of BACKWARDS)."""
        memory_limit, backward = options["memory_limit"], options["backward"]
        if backward not in BACKWARDS:
            raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}")
        device = torch.device(device)
        return CutnProgram(circuit, geometry, dtype, device, resolve_memory_limit(memory_limit, device), backward)

    def estimate_bytes(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, batch: int) -> int:
        """Planned under a memory limit; this is the unsliced amplitude tensor."""
        real = torch.finfo(dtype).bits // 8
        return batch * geometry.out_dim * geometry.in_dim * (2**circuit.n_qubits) * 2 * real * 2
