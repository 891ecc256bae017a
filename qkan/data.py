"""Synthetic regression datasets in the pykan/published-qkan dict format."""
from __future__ import annotations

from typing import Callable, Sequence, Union

import torch

Ranges = Union[Sequence[float], Sequence[Sequence[float]]]


def create_dataset(f: Callable[[torch.Tensor], torch.Tensor], n_var: int = 2, ranges: Ranges = (-1.0, 1.0),
                   train_num: int = 1000, test_num: int = 1000, seed: int = 0,
                   device: Union[str, torch.device] = "cpu", dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """Uniform samples of ``f`` on ``ranges`` (one (lo, hi) for all variables, or one per variable):
    ``train_input`` (train_num, n_var), ``train_label`` (train_num, n_out) and the same for test."""
    if not isinstance(n_var, int) or n_var < 1:
        raise ValueError(f"n_var must be a positive integer, got {n_var!r}")
    bounds = torch.as_tensor(ranges, dtype=torch.float64)
    if bounds.shape == (2,):
        bounds = bounds.expand(n_var, 2)
    if bounds.shape != (n_var, 2) or not bool((bounds[:, 0] < bounds[:, 1]).all()):
        raise ValueError(f"ranges must be (lo, hi) or {n_var} such pairs with lo < hi, got {ranges!r}")
    gen = torch.Generator().manual_seed(seed)

    def sample(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        x = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * torch.rand(n, n_var, generator=gen, dtype=torch.float64)
        y = f(x)
        y = y.reshape(n, -1) if y.dim() != 2 else y
        return x.to(device=device, dtype=dtype), y.to(device=device, dtype=dtype)

    train_input, train_label = sample(train_num)
    test_input, test_label = sample(test_num)
    return {"train_input": train_input, "train_label": train_label, "test_input": test_input, "test_label": test_label}
