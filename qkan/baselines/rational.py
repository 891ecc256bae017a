"""RationalKAN: the GR-KAN layer of the Kolmogorov-Arnold Transformer (KAT).

y = Linear(F(x)), F the group-wise safe Pade unit of rational_math (numerator shared, one denominator
per group of contiguous input features). CUDA float32/float64 inputs use the kernels of
rational_cuda when CuPy is present; everything else uses the torch implementation.
"""

from __future__ import annotations

import math
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from qkan.solvers.cuda_runtime import cupy_available

from .base import BaselineLayer, Device, check_positive_int, factory_kwargs, init_like_linear
from .rational_cuda import SUPPORTED_DTYPES, rational_forward
from .rational_math import DENOMINATOR_TERMS, NUMERATOR_TERMS, grouped_safe_pade

# (numerator a_0..a_5, denominator |b_1|..|b_4|) of P(x) / (1 + sum_j |b_j| |x|^j).
# identity: exact (the least-squares optimum, error 0).
# silu: rational_math.fit_safe_pade(F.silu) (4001 uniform points on [-3, 3], float64, linearised
#       start then L-BFGS): max abs error 8.9e-7 on [-3, 3].
# gelu: fit_safe_pade(F.gelu, start=silu preset rescaled to silu(1.702 x) / 1.702, i.e.
#       a_k * 1.702^(k-1), b_j * 1.702^j), same points: max abs error 4.5e-3 on [-3, 3]
#       (the linearised start alone stops at 4.4e-2).
PRESETS: dict[str, tuple[tuple[float, ...], tuple[float, ...]]] = {
    "identity": ((0.0, 1.0, 0.0, 0.0, 0.0, 0.0), (0.0, 0.0, 0.0, 0.0)),
    "silu": (
        (
            4.412814753951323e-07,
            0.5000010960832554,
            0.24999728275148375,
            0.05325185413910773,
            0.00579637007507942,
            0.000274316362797627,
        ),
        (5.484692430558957e-06, 0.10649909434177837, 1.6012316630623937e-06, 0.0005484354317129585),
    ),
    "gelu": (
        (
            -0.001686373447654054,
            0.49920908652368334,
            0.4127974921705713,
            0.15250884287578487,
            0.03965367263771177,
            0.005550840788092203,
        ),
        (3.424472301843606e-10, 0.30192024382962074, 0.0020148761822267507, 0.01075902381478573),
    ),
}
BACKENDS = ("auto", "torch", "cuda")


def rational_activation(
    x: torch.Tensor, numerator: torch.Tensor, denominator: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """F(x) on x (..., D): the CUDA kernel for CUDA float32/float64 when available ("auto"), else torch."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
    kernel_ok = x.is_cuda and x.dtype in SUPPORTED_DTYPES and cupy_available()
    if backend == "cuda" and not kernel_ok:
        raise RuntimeError(
            f"backend='cuda' needs a CUDA float32/float64 input and CuPy; got a {x.dtype} input on "
            f"{x.device} (CuPy {'present' if cupy_available() else 'absent'}); use backend='torch'"
        )
    if backend == "cuda" or (backend == "auto" and kernel_ok):
        return rational_forward(x, numerator, denominator)
    return grouped_safe_pade(x, numerator, denominator)


class RationalKAN(BaselineLayer):
    """GR-KAN: y = F(x) W^T + bias, F a safe Pade unit per group of ``in_dim // groups`` features."""

    def __init__(
        self,
        in_dim: int,
        out_dim: int,
        groups: Optional[int] = None,
        init: str = "gelu",
        bias: bool = True,
        backend: str = "auto",
        device: Device = None,
        dtype: Optional[torch.dtype] = None,
    ):
        super().__init__(in_dim, out_dim)
        groups = math.gcd(in_dim, 8) if groups is None else check_positive_int("groups", groups)
        if in_dim % groups:
            raise ValueError(
                f"in_dim={in_dim} is not divisible by groups={groups}; choose groups among the divisors of {in_dim}"
            )
        if init not in PRESETS:
            raise ValueError(f"unknown init {init!r}; expected one of {sorted(PRESETS)}")
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r}; expected one of {BACKENDS}")
        self.groups, self.init, self.backend = groups, init, backend
        factory = factory_kwargs(device, dtype)
        self.numerator = nn.Parameter(torch.empty(NUMERATOR_TERMS, **factory))
        self.denominator = nn.Parameter(torch.empty(groups, DENOMINATOR_TERMS, **factory))
        self.weight = nn.Parameter(torch.empty(out_dim, in_dim, **factory))
        self.bias = nn.Parameter(torch.empty(out_dim, **factory)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Rational unit from the preset ``init`` in every group; weight and bias as torch.nn.Linear."""
        numerator, denominator = PRESETS[self.init]
        with torch.no_grad():
            self.numerator.copy_(torch.tensor(numerator, dtype=torch.float64))
            self.denominator.copy_(torch.tensor(denominator, dtype=torch.float64).expand(self.groups, -1))
        init_like_linear(self.weight, self.bias)

    def activation(self, x: torch.Tensor) -> torch.Tensor:
        """F(x) (..., in_dim): the group-wise rational unit before the linear map."""
        if x.dtype != self.numerator.dtype:  # autocast: the rational unit runs at the parameters' precision
            x = x.to(self.numerator.dtype)
        return rational_activation(x, self.numerator, self.denominator, self.backend)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self._check_input(x)
        return F.linear(self.activation(x), self.weight, self.bias)

    def edge_values(self, x: torch.Tensor) -> torch.Tensor:
        """(B, out_dim, in_dim): W[o, i] F(x_i); summed over inputs plus ``bias`` gives ``forward``."""
        self._check_input(x, exact_rank=2)
        return self.activation(x)[:, None, :] * self.weight

    def extra_repr(self) -> str:
        return (
            f"in_dim={self.in_dim}, out_dim={self.out_dim}, groups={self.groups}, init={self.init}, "
            f"bias={self.bias is not None}, backend={self.backend}"
        )
