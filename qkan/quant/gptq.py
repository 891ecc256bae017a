"""GPTQ (Frantar et al.): quantise a linear layer's weight column by column, spreading each column's
rounding error over the columns not yet quantised through the inverse Hessian of the layer's
reconstruction loss ||X W^T - X W_hat^T||^2, H = X^T X / N from calibration inputs."""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

DAMPING = 0.01  # fraction of the mean Hessian diagonal added for a stable Cholesky factorisation
BLOCK = 128  # columns per lazy-update block


def supports_gptq(module: nn.Module) -> bool:
    """nn.Linear, and nn.Conv2d without groups and with numeric zero padding (its input patches are rows)."""
    if isinstance(module, nn.Linear):
        return True
    return (
        isinstance(module, nn.Conv2d)
        and module.groups == 1
        and module.padding_mode == "zeros"
        and not isinstance(module.padding, str)
    )


def input_rows(module: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """(N, fan_in) rows that ``module``'s flattened (out, fan_in) weight multiplies: features for a linear
    layer, unfolded patches for a convolution."""
    if isinstance(module, nn.Conv2d):
        assert not isinstance(module.padding, str), "supports_gptq refuses string padding"
        patches = F.unfold(x, module.kernel_size, module.dilation, module.padding, module.stride)
        return patches.transpose(1, 2).reshape(-1, patches.shape[1])
    return x.reshape(-1, x.shape[-1])


class HessianAccumulator:
    """Running X^T X / N over batches of a layer's input rows (see :func:`input_rows`), in float64."""

    def __init__(self, module: nn.Module):
        weight = module.weight
        assert isinstance(weight, torch.Tensor), f"{type(module).__name__} has no weight tensor"
        fan_in = weight[0].numel()
        self.module = module
        self.hessian = torch.zeros(fan_in, fan_in, dtype=torch.float64, device=weight.device)
        self.count = 0

    def add(self, x: torch.Tensor) -> None:
        rows = input_rows(self.module, x.detach()).to(torch.float64)
        total = self.count + rows.shape[0]
        self.hessian.mul_(self.count / total).add_(rows.T @ rows / total)
        self.count = total


def gptq_quantize(
    weight: torch.Tensor, hessian: torch.Tensor, quantize_columns: Callable[[torch.Tensor], torch.Tensor]
) -> torch.Tensor:
    """The GPTQ-quantised ``weight`` (out, ...), flattened to (out, fan_in) for the solve:
    ``quantize_columns`` fake-quantises an (out, k) slice on the weight's (per-row or per-tensor) grid,
    fixed beforehand. Inputs never seen (zero Hessian diagonal) get weight 0. Returns values on the
    grid, in ``weight``'s shape and dtype."""
    shape = weight.shape
    weight = weight.reshape(shape[0], -1)
    if hessian.shape != (weight.shape[1], weight.shape[1]):
        raise ValueError(
            f"Hessian must be ({weight.shape[1]}, {weight.shape[1]}) for a weight of shape "
            f"{tuple(weight.shape)}, got {tuple(hessian.shape)}"
        )
    w = weight.detach().to(torch.float64).clone()
    h = hessian.to(torch.float64).clone()
    dead = torch.diagonal(h) == 0
    h[dead, dead] = 1.0
    w[:, dead] = 0.0
    h.diagonal().add_(DAMPING * torch.diagonal(h).mean())
    # upper Cholesky factor of H^-1: row j holds the updates for columns after j
    h_inv = torch.linalg.cholesky(torch.cholesky_inverse(torch.linalg.cholesky(h)), upper=True)
    out = torch.zeros_like(w)
    n = w.shape[1]
    for start in range(0, n, BLOCK):
        end = min(start + BLOCK, n)
        block = w[:, start:end].clone()
        errors = torch.zeros_like(block)
        for j in range(end - start):
            column = block[:, j : j + 1]
            quantized = quantize_columns(column.to(weight.dtype)).to(torch.float64)
            out[:, start + j : start + j + 1] = quantized
            err = (column - quantized) / h_inv[start + j, start + j]
            block[:, j:] -= err @ h_inv[start + j : start + j + 1, start + j : end]
            errors[:, j : j + 1] = err
        w[:, end:] -= errors @ h_inv[start:end, end:]
    return out.to(weight.dtype).reshape(shape)
