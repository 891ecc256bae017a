"""KAN: the published ``qkan.KAN``, a stack of efficient-KAN B-spline layers (:class:`BSplineKAN`, the same
state_dict keys), with its initialisation from a trained QKAN; shared with :mod:`qkan.fourier_kan`."""

from __future__ import annotations

from typing import Any, Callable, Sequence, cast

import torch
from torch import nn

from .baselines import BSplineKAN
from .checks import check_positive_int
from .published_options import resolve_published


def seeded_layers(sizes: Sequence[int], seed: int, build: Callable[[int, int], nn.Module]) -> nn.ModuleList:
    """``build(in, out)`` for consecutive ``sizes``, initialised from ``seed`` without moving the global RNG."""
    sizes = [check_positive_int("layers_hidden entries", s) for s in sizes]
    if len(sizes) < 2:
        raise ValueError(f"layers_hidden must list at least two layer sizes, got {list(sizes)!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        return nn.ModuleList(build(i, o) for i, o in zip(sizes, sizes[1:]))


def check_silu(base_activation: Any) -> None:
    """The layers here use SiLU as the base branch, the published default; refuse any other."""
    if base_activation is not nn.SiLU:
        raise ValueError(f"base_activation must be torch.nn.SiLU (the only base branch here), got {base_activation!r}")


def fit_layer(layer: nn.Module, x: torch.Tensor, y: torch.Tensor, max_iter: int = 200, tol: float = 1e-5) -> None:
    """Adam (lr 0.1) on MSE between ``layer(x)`` and ``y`` until the loss changes by less than ``tol``."""
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-1)
    previous = float("inf")
    for _ in range(check_positive_int("max_iter", max_iter)):
        optimizer.zero_grad()
        loss = nn.functional.mse_loss(layer(x), y)
        loss.backward()
        optimizer.step()
        if abs(previous - loss.item()) < tol:
            break
        previous = loss.item()


def fit_from_qkan(layers: nn.ModuleList, qkan: nn.Module, x0: torch.Tensor, sampling: int = 100) -> None:
    """Fit each layer to the matching QKAN layer: the first on ``x0``, later ones on ``sampling`` points
    spanning the range the previous QKAN layer produced."""
    qkan_layers = list(getattr(qkan, "layers", []))
    if len(qkan_layers) != len(layers):
        raise ValueError(f"the QKAN has {len(qkan_layers)} layers, this model {len(layers)}; the widths must match")
    x, out, sampling = x0, x0, check_positive_int("sampling", sampling)
    for index, (layer, source) in enumerate(zip(layers, qkan_layers)):
        if index:
            lo, hi = out.min(dim=0).values, out.max(dim=0).values
            steps = torch.linspace(0.0, 1.0, sampling, device=x0.device, dtype=x0.dtype)[:, None]
            x = lo + (hi - lo) * steps
        with torch.no_grad():
            out = source(x)
        fit_layer(layer, x, out)


class KAN(nn.Module):
    """B-spline KAN over ``layers_hidden`` = [n_in, hidden..., n_out] (efficient-KAN layers)."""

    def __init__(
        self,
        layers_hidden: Sequence[int],
        grid_size: int = 5,
        spline_order: int = 3,
        scale_noise: float = 0.1,
        scale_base: float = 1.0,
        scale_spline: float = 1.0,
        base_activation: Any = nn.SiLU,
        grid_eps: float = 0.02,
        grid_range: Sequence[float] = (-1, 1),
        device: Any = "cpu",
        seed: int = 0,
        **kwargs: Any,
    ):
        super().__init__()
        check_silu(base_activation)
        resolve_published("KAN", kwargs, None, lenient=True)
        self.grid_size, self.spline_order, self.grid_eps = grid_size, spline_order, float(grid_eps)
        bounds = (float(grid_range[0]), float(grid_range[1]))
        self.layers = seeded_layers(
            layers_hidden,
            seed,
            lambda i, o: BSplineKAN(i, o, grid_size, spline_order, bounds, scale_noise, scale_base, scale_spline),
        )
        self.device = device
        self.to(device)

    def forward(self, x: torch.Tensor, update_grid: bool = False) -> torch.Tensor:
        if update_grid:
            raise ValueError("update_grid=True is not supported here (docs/migrating.md); the grid stays fixed")
        for layer in self.layers:
            x = layer(x)
        return x

    def regularization_loss(self, regularize_activation: float = 1.0, regularize_entropy: float = 1.0) -> torch.Tensor:
        """efficient-KAN's surrogate: l1 of the mean |coefficient| per edge plus its entropy, summed over layers."""
        return sum_regularisation(
            [cast(BSplineKAN, layer).spline_weight for layer in self.layers], regularize_activation, regularize_entropy
        )

    def initialize_from_qkan(self, qkan: nn.Module, x0: torch.Tensor, sampling: int = 100) -> None:
        """Fit this KAN layer by layer to a trained QKAN of the same widths (see :func:`fit_from_qkan`)."""
        fit_from_qkan(self.layers, qkan, x0, sampling)


def sum_regularisation(weights: Sequence[torch.Tensor], activation: float, entropy: float) -> torch.Tensor:
    """Sum over ``weights`` (O, I, K) of activation * l1 + entropy * H, with l1 the sum of per-edge mean |w|
    and H the entropy of those means normalised to one."""
    total = torch.zeros((), device=weights[0].device, dtype=weights[0].dtype)
    for weight in weights:
        l1 = weight.abs().mean(-1)
        p = l1 / l1.sum()
        total = total + activation * l1.sum() - entropy * (p * p.log()).sum()
    return total
