"""The value checks on a layer's input (NaN/inf, the arccos domain) and the process-wide mode that picks
how they run: at the call with a host sync ("full"), on the device without one ("async"), or not at all.

"auto", the default, is "full" for CPU inputs and "async" elsewhere (a sync per layer call costs more
than a small layer's kernels). "async" asserts on the device (``torch._assert_async``): a bad CUDA input
fails the stream at its next sync point, and a failed device assert leaves that process's CUDA context
unusable. Where a sync cannot happen (torch.compile tracing, CUDA graph capture) "full" asserts on the
device as well; on CPU a device assert raises at the call (RuntimeError).
"""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch.fx.experimental.symbolic_shapes import guard_or_false

from qkan.solvers import LayerGeometry, LayerParams
from qkan.solvers.layer_math import arccos_domain_bounds, arccos_domain_message, check_arccos_domain

MODES = ("auto", "full", "async", "off")
_mode = "auto"


def set_validation(mode: str) -> None:
    """Set how every QKAN layer checks its input values: "auto" (default), "full", "async" or "off"."""
    global _mode
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    _mode = mode


def get_validation() -> str:
    """The mode :func:`set_validation` set ("auto" unless changed)."""
    return _mode


def layer_mode(check_finite: Optional[bool], device: torch.device) -> str:
    """ "full", "async" or "off" for a layer's input on ``device``: the layer's ``check_finite`` override
    (True: "full", False: "off") or else the process-wide mode, "auto" being "full" on CPU, "async" elsewhere."""
    if check_finite is not None:
        return "full" if check_finite else "off"
    if _mode == "auto":
        return "full" if device.type == "cpu" else "async"
    return _mode


def asserts_on_device(x: torch.Tensor, mode: str) -> bool:
    """Whether a check of ``x`` in ``mode`` ("full" or "async") runs as a device assert (no host sync): in
    "async" mode off the CPU, and wherever a sync cannot happen (torch.compile tracing, CUDA graph capture)."""
    cannot_sync = torch.compiler.is_compiling() or (x.is_cuda and torch.cuda.is_current_stream_capturing())
    return cannot_sync or (mode == "async" and x.device.type != "cpu")


def check_values(
    x: torch.Tensor, params: LayerParams, geometry: LayerGeometry, arccos_reps: Sequence[int], mode: str, name: str
) -> None:
    """Check that ``x`` is finite and that the arccos re-uploads ``arccos_reps`` see w*x+c in [-1, 1],
    the way ``mode`` ("full", "async" or "off") says; ``name`` starts the NaN/inf message."""
    if mode == "off" or guard_or_false(x.numel() == 0):  # an unknown batch size (compiled, unbacked) is checked
        return
    finite_message = f"{name}: input contains NaN or inf"
    if asserts_on_device(x, mode):
        torch._assert_async(torch.isfinite(x).all(), finite_message)
        if arccos_reps:
            lo, hi = arccos_domain_bounds(x, params, geometry, arccos_reps)
            torch._assert_async((lo >= -1.0) & (hi <= 1.0), arccos_domain_message())
        return
    if not torch.isfinite(x).all():
        raise ValueError(finite_message)
    if arccos_reps:
        check_arccos_domain(x, params, geometry, arccos_reps)
