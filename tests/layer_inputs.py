"""Inputs and parameter values for the layer tests: float64 data inside the arccos domain, and parameters
moved off their initial values so that a function-preserving change is tested on a generic layer."""

import torch

F64 = torch.float64


def uniform_inputs(batch: int, dim: int, seed: int = 0, scale: float = 0.9) -> torch.Tensor:
    """(batch, dim) float64 values uniform in [-scale, scale], from ``seed``."""
    return (torch.rand(batch, dim, generator=torch.Generator().manual_seed(seed), dtype=F64) * 2 - 1) * scale


def randomize_parameters(model: torch.nn.Module, seed: int) -> None:
    """Move every tensor off its initial value (pre-activations stay arccos-safe for |x| < 1)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.rand(p.shape, generator=g, dtype=p.dtype) - 0.5
            leaf = name.rsplit(".", 1)[-1]
            if leaf == "preacts_weight":
                p.copy_(0.75 + 0.4 * noise)
            elif leaf in ("preacts_bias", "postact_bias"):
                p.copy_(0.1 * noise)
            elif leaf != "mask":
                p.add_(noise)
