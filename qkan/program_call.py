"""How a layer calls its compiled Program: the autocast dtype in force, and the call itself, which under
torch.compile goes through one opaque op for a Program dynamo cannot trace (solvers/opaque.py)."""

from __future__ import annotations

from typing import Optional

import torch

from qkan.solvers import LayerParams, Program
from qkan.solvers.opaque import opaque_apply


def call_program(program: Program, method: str, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
    """``program.method(x, params)``; under torch.compile, as one opaque op for a Program dynamo cannot trace."""
    if program.traceable or not torch.compiler.is_compiling():
        return getattr(program, method)(x, params)
    return opaque_apply(program, method, x, params)


def autocast_dtype(device: torch.device) -> Optional[torch.dtype]:
    """The autocast dtype when autocast is on for ``device``'s type, else None."""
    kind = device.type
    if torch.amp.is_autocast_available(kind) and torch.is_autocast_enabled(kind):
        return torch.get_autocast_dtype(kind)
    return None
