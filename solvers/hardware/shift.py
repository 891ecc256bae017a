"""Gradients of readout probabilities by the parameter-shift rule: every rotation is exp(-i t P / 2), so
dP/dt = (P(t + pi/2) - P(t - pi/2)) / 2 exactly, for shots=None as for sampled backends."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from .executor import Executor


class ShiftedProbabilities(torch.autograd.Function):
    """(P(0), P(1)) of rows of rotation angles (rows, R) through an executor; backward shifts ``columns`` only
    (the angles that depend on something trainable), two circuits per column and row."""

    @staticmethod
    def forward(ctx: Any, angles: torch.Tensor, executor: Executor, columns: tuple[int, ...]) -> torch.Tensor:
        ctx.executor, ctx.columns = executor, columns
        ctx.save_for_backward(angles)
        values = executor.probabilities(angles.detach().cpu().double().numpy())
        return torch.as_tensor(values, dtype=angles.dtype, device=angles.device)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None, None]:
        (angles,) = ctx.saved_tensors
        base = angles.detach().cpu().double().numpy()
        columns = list(ctx.columns)
        grad_angles = torch.zeros_like(angles)
        if not columns or base.shape[0] == 0:
            return grad_angles, None, None
        shifted = np.repeat(base[None, None], 2, axis=0).repeat(len(columns), axis=1)  # (2, C, rows, R)
        for j, column in enumerate(columns):
            shifted[0, j, :, column] += math.pi / 2
            shifted[1, j, :, column] -= math.pi / 2
        values = ctx.executor.probabilities(shifted.reshape(-1, base.shape[1])).reshape(2, len(columns), -1, 2)
        derivative = torch.as_tensor((values[0] - values[1]) / 2, dtype=angles.dtype, device=angles.device)
        grad_angles[:, columns] = (derivative * grad[None]).sum(-1).T
        return grad_angles, None, None
