"""Synthetic regression datasets in the pykan/published-qkan dict format."""

from __future__ import annotations

from numbers import Integral
from typing import Callable, Sequence, Union

import torch

from .checks import check_positive_int

Ranges = Union[Sequence[float], Sequence[Sequence[float]]]
MAX_SEED = 2**63 - 1  # torch.Generator.manual_seed's largest signed seed


def check_seed(value: object) -> int:
    """``seed`` as an int in [0, MAX_SEED] (numpy integers accepted), or ValueError naming it."""
    if isinstance(value, bool) or not isinstance(value, Integral) or not 0 <= int(value) <= MAX_SEED:
        raise ValueError(f"seed must be an integer in [0, 2**63 - 1], got {value!r}")
    return int(value)


def _bounds(ranges: Ranges, n_var: int) -> torch.Tensor:
    """(n_var, 2) float64 (lo, hi) rows from one pair or one pair per variable, finite with lo < hi."""
    message = f"ranges must be (lo, hi) or {n_var} such pairs of finite numbers with lo < hi, got {ranges!r}"
    try:
        bounds = torch.as_tensor(ranges, dtype=torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ValueError(message) from None
    if bounds.shape == (2,):
        bounds = bounds.expand(n_var, 2)
    if (
        bounds.shape != (n_var, 2)
        or not bool(torch.isfinite(bounds).all())
        or not bool((bounds[:, 0] < bounds[:, 1]).all())
    ):
        raise ValueError(message)
    return bounds


def _labels(f: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """f(x) as (n, n_out) float64, refusing a non-tensor, a wrong row count, complex or non-finite values."""
    n = x.shape[0]
    y = f(x)
    if not isinstance(y, torch.Tensor):
        raise TypeError(f"f must return a torch.Tensor, got {type(y).__name__}")
    if y.dim() == 0 or y.shape[0] != n:
        raise ValueError(
            f"f must return one row per sample: f(x) for x of shape {tuple(x.shape)} has shape "
            f"{tuple(y.shape)}, expected ({n}, n_out) or ({n},)"
        )
    if y.dtype.is_complex:
        raise TypeError(f"f must return real values, got {y.dtype}")
    y = y.reshape(n, -1).to(torch.float64)
    finite = torch.isfinite(y).all(dim=1)
    if not bool(finite.all()):
        row = int((~finite).nonzero()[0])
        raise ValueError(
            f"f returned {y[row].tolist()} (NaN or inf) at x={x[row].tolist()}; choose ranges where f is finite"
        )
    return y


def create_dataset(
    f: Callable[[torch.Tensor], torch.Tensor],
    n_var: int = 2,
    ranges: Ranges = (-1.0, 1.0),
    train_num: int = 1000,
    test_num: int = 1000,
    seed: int = 0,
    device: Union[str, torch.device] = "cpu",
    dtype: torch.dtype = torch.float32,
    *,
    f_mode: str = "col",
    normalize_input: bool = False,
    normalize_label: bool = False,
) -> dict[str, torch.Tensor]:
    """Uniform samples of ``f`` on ``ranges`` (one (lo, hi) for all variables, or one per variable):
    ``train_input`` (train_num, n_var), ``train_label`` (train_num, n_out) and the same for test.
    ``f_mode="row"``: f takes x transposed, (n_var, n). ``normalize_*``: standardised with the training
    split's mean and std (published options). Every argument is checked first, and f's values (finite, one
    row per sample) before anything is moved."""
    if not callable(f):
        raise TypeError(f"f must be a callable taking x of shape (n, n_var), got {type(f).__name__}")
    if f_mode not in ("col", "row"):
        raise ValueError(f"f_mode must be 'col' (f takes (n, n_var)) or 'row' (f takes (n_var, n)), got {f_mode!r}")
    for name, flag in (("normalize_input", normalize_input), ("normalize_label", normalize_label)):
        if not isinstance(flag, bool):
            raise TypeError(f"{name} must be True or False, got {flag!r}")
    n_var = check_positive_int("n_var", n_var)
    train_num = check_positive_int("train_num", train_num)
    test_num = check_positive_int("test_num", test_num)
    seed = check_seed(seed)
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise TypeError(f"dtype must be a floating torch.dtype, got {dtype!r}")
    try:
        device = torch.empty(0, device=device).device  # parsed, and usable here
    except (TypeError, RuntimeError, AssertionError) as err:
        raise ValueError(
            f"device must name a usable torch device such as 'cpu' or 'cuda:0', got {device!r} ({err})"
        ) from None
    bounds = _bounds(ranges, n_var)
    gen = torch.Generator().manual_seed(seed)
    samples = {}
    for split, n in (("train", train_num), ("test", test_num)):
        x = bounds[:, 0] + (bounds[:, 1] - bounds[:, 0]) * torch.rand(n, n_var, generator=gen, dtype=torch.float64)
        samples[split] = x, _labels(f if f_mode == "col" else (lambda rows: f(rows.T)), x)
    for index, wanted in ((0, normalize_input), (1, normalize_label)):
        if wanted:
            train = samples["train"][index]
            mean, std = train.mean(0, keepdim=True), train.std(0, keepdim=True)
            for split, pair in samples.items():
                samples[split] = tuple((t - mean) / std if k == index else t for k, t in enumerate(pair))  # type: ignore
    return {
        f"{split}_{kind}": tensor.to(device=device, dtype=dtype)
        for split, pair in samples.items()
        for kind, tensor in zip(("input", "label"), pair)
    }
