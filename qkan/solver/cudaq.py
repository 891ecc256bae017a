"""The published ``qkan.solver.cudaq`` function: circuit values of a published ansatz on ``solver="cudaq"``.

The published ``cudaq_solver(x, theta, preacts_weight, preacts_bias, reps, **kwargs)`` returns <Z> of every
edge's circuit, (batch, out_dim, in_dim), differentiable by parameter shift. Here it compiles the built-in
circuit with the z readout for :class:`qkan.solvers.hardware.CudaqSolver` and evaluates it; its keywords are that
solver's options (``target``, ``url``, ``executor``, ``api_key``, ``machine``, ``shots``, ``parallel_qubits`` ...)
plus the published ``ansatz``, ``preacts_trainable`` and ``out_dim``; the published layer's ``device``, ``group``,
``fast_measure``, ``dtype`` and ``checkpoint_reps`` are accepted and ignored, as published. It evaluates per sample,
as published, unless ``evaluation`` says otherwise."""

from __future__ import annotations

from typing import Any, Optional

import torch

from qkan.circuits import builtin
from qkan.solvers import compile as compile_program
from qkan.solvers.base import LayerGeometry, LayerParams

__all__ = ["cudaq_solver"]

# what the published layer passes every solver function and its cudaq_solver ignores (it always returns <Z>)
PUBLISHED_IGNORED = ("device", "group", "fast_measure", "dtype", "checkpoint_reps")


def _edges(t: torch.Tensor, tail: int, out_dim: int, in_dim: int, name: str) -> tuple[torch.Tensor, Optional[int]]:
    """A published per-edge tensor as ours, with its group count: (O, I, *tail) passes (None); (g, *tail) or
    (1, g, *tail) is g groups, edge (o, i) taking group i mod g as the published broadcasting does."""
    if t.dim() == tail + 2 and t.shape[:2] == (out_dim, in_dim):
        return t, None
    if t.dim() == tail + 2 and t.shape[0] == 1:
        t = t[0]
    if t.dim() == tail + 1:
        return t, t.shape[0]
    raise ValueError(
        f"{name} must have shape (out_dim={out_dim}, in_dim={in_dim}, ...) or (groups, ...) with {tail} trailing "
        f"dims, got {tuple(t.shape)}"
    )


def cudaq_solver(
    x: torch.Tensor,
    theta: torch.Tensor,
    preacts_weight: torch.Tensor,
    preacts_bias: torch.Tensor,
    reps: int,
    **kwargs: Any,
) -> torch.Tensor:
    """<Z> of each edge's circuit at each sample, (batch, out_dim, in_dim), run on CUDA-Q (the published call)."""
    if not isinstance(x, torch.Tensor) or x.dim() != 2:
        raise ValueError(f"x must be a (batch, in_dim) tensor, got {getattr(x, 'shape', type(x).__name__)}")
    ansatz = kwargs.pop("ansatz", "pz_encoding")
    preacts = kwargs.pop("preacts_trainable", False)
    out_dim = kwargs.pop("out_dim", x.shape[1])
    for ignored in PUBLISHED_IGNORED:
        kwargs.pop(ignored, None)
    options = {"evaluation": "per_sample", **kwargs}
    circuit = builtin(ansatz, reps, "z")
    in_dim = x.shape[1]
    theta, groups = _edges(theta, len(circuit.theta_shape or ()), out_dim, in_dim, "theta")  # built-ins have one
    weight, weight_groups = _edges(preacts_weight, 1, out_dim, in_dim, "preacts_weight")
    bias, bias_groups = _edges(preacts_bias, 1, out_dim, in_dim, "preacts_bias")
    if not groups == weight_groups == bias_groups:
        raise ValueError(
            f"theta, preacts_weight and preacts_bias must share their grouping, got {groups}, "
            f"{weight_groups}, {bias_groups}"
        )
    geometry = LayerGeometry(in_dim, out_dim, groups, preacts)
    program = compile_program("cudaq", circuit, geometry, x.dtype, x.device, **options)
    unused = x.new_empty(0)  # circuit values read theta and the pre-activations only
    return program.circuit_values(x, LayerParams(theta, weight, bias, unused, unused, unused, unused))
