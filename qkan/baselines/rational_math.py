"""The safe Pade unit of GR-KAN in torch (the CPU path and the reference for the CUDA kernel), and
the least-squares fit that produced the activation presets.

    F_g(x) = P(x) / Q_g(x),  P(x) = sum_{k=0..5} a_k x^k  (shared),
                             Q_g(x) = 1 + sum_{j=1..4} |b_gj| |x|^j  (one per group)

|v| is written as where(v >= 0, v, -v) so its derivative at 0 is +1, not torch.abs's 0: a preset
with b = 0 (identity) can still learn its denominator. The CUDA kernel uses the same convention.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
import torch.nn.functional as F

NUMERATOR_TERMS = 6  # a_0..a_5
DENOMINATOR_TERMS = 4  # b_1..b_4


def safe_abs(v: torch.Tensor) -> torch.Tensor:
    """|v| with derivative +1 at v = 0."""
    return torch.where(v >= 0, v, -v)


def polyval(coefs: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """sum_k coefs[..., k] x^k by Horner (at least 2 terms); ``coefs[..., k]`` broadcasts against ``x``."""
    out = coefs[..., -1] * x + coefs[..., -2]
    for k in range(coefs.shape[-1] - 3, -1, -1):
        out = out * x + coefs[..., k]
    return out


def safe_pade(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """F(x) elementwise on x (..., groups, group_dim), numerator (6,), denominator (groups, 4)."""
    ax = safe_abs(x)
    p = polyval(numerator, x)
    b = safe_abs(denominator)[:, None, :]  # (groups, 1, 4) against (..., groups, group_dim)
    q = 1 + ax * polyval(b, ax)
    return p / q


def grouped_safe_pade(x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor) -> torch.Tensor:
    """F on x (..., D): the D features split into len(denominator) contiguous groups."""
    groups = denominator.shape[0]
    shape = x.shape
    return safe_pade(x.reshape(*shape[:-1], groups, shape[-1] // groups), numerator, denominator).reshape(shape)


def fit_safe_pade(
    fn: Callable[[torch.Tensor], torch.Tensor],
    low: float = -3.0,
    high: float = 3.0,
    n_points: int = 4001,
    iterations: int = 2000,
    start: Optional[tuple[torch.Tensor, torch.Tensor]] = None,
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Least-squares fit of (a, b) so that P(x)/(1 + sum |b_j||x|^j) ~ fn(x) on ``n_points`` uniform
    points of [low, high], in float64: L-BFGS on the squared error from ``start`` (default: the
    linearised solve fn * Q ~ P, linear in a and b). Returns a (6,), b (4,) and the max abs error."""
    x = torch.linspace(low, high, n_points, dtype=torch.float64)
    y = fn(x)
    if start is None:
        ax = x.abs()
        design = torch.cat(
            [
                torch.stack([x**k for k in range(NUMERATOR_TERMS)], 1),
                -torch.stack([y * ax**j for j in range(1, DENOMINATOR_TERMS + 1)], 1),
            ],
            1,
        )
        solution = torch.linalg.lstsq(design, y[:, None]).solution[:, 0]
        start = solution[:NUMERATOR_TERMS], solution[NUMERATOR_TERMS:]
    a = start[0].to(torch.float64).clone().requires_grad_(True)
    b = start[1].to(torch.float64).abs().clone().requires_grad_(True)
    opt = torch.optim.LBFGS(
        [a, b],
        max_iter=iterations,
        tolerance_grad=1e-14,
        tolerance_change=1e-18,
        history_size=50,
        line_search_fn="strong_wolfe",
    )

    def closure() -> torch.Tensor:
        opt.zero_grad()
        loss = ((safe_pade(x[None, :], a, b[None, :])[0] - y) ** 2).mean()
        loss.backward()
        return loss

    opt.step(closure)
    with torch.no_grad():
        error = (safe_pade(x[None, :], a, b[None, :])[0] - y).abs().max().item()
    return a.detach(), b.detach().abs(), error


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "identity": lambda x: x,
    "silu": F.silu,
    "gelu": F.gelu,
}
