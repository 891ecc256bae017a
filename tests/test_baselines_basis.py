"""FastKAN and BSplineKAN contract their bases block by block (basis_contraction): values and gradients
equal the plain formulation (whole basis, torch autograd) for any block split, the expit basis follows
its definition, and bad basis options are refused."""

import pytest
import torch
import torch.nn.functional as F

from qkan.baselines import BSplineKAN, FastKAN, basis_contraction
from qkan.baselines.bspline import bspline_basis
from qkan.solvers.cuda_runtime import nvcc_available, ptxas_report


def plain_fastkan(layer, x):
    """fast-kan's formulation: the whole (N, I, G) basis, one matmul, autograd through everything."""
    z = layer.layernorm(x)
    d = (z[..., None] - layer.centers) / layer.width
    if layer.basis == "gaussian":
        phi = torch.exp(-(d**2))
    else:
        phi = 1 / (torch.exp(-(d.abs() ** layer.exponent)) + 1)
    y = phi.flatten(-2) @ layer.spline_weight.reshape(layer.out_dim, -1).T
    return y + F.linear(F.silu(x), layer.base_weight, layer.base_bias)


def plain_bspline(layer, x):
    """efficient-kan's formulation: the whole basis, one matmul, autograd through the recursion."""
    bases = bspline_basis(x, layer.grid, layer.spline_order).flatten(1)
    scaled = (layer.spline_weight * layer.spline_scaler[..., None]).reshape(layer.out_dim, -1)
    return F.linear(F.silu(x), layer.base_weight) + bases @ scaled.T


CASES = [
    ("fastkan-gaussian", lambda: FastKAN(7, 5, dtype=torch.float64), plain_fastkan),
    ("fastkan-expit", lambda: FastKAN(7, 5, basis="expit", dtype=torch.float64), plain_fastkan),
    ("fastkan-expit-3", lambda: FastKAN(7, 5, basis="expit", exponent=3.0, dtype=torch.float64), plain_fastkan),
    ("bspline", lambda: BSplineKAN(7, 5, grid_size=6, dtype=torch.float64), plain_bspline),
]


@pytest.mark.parametrize("name,make,plain", CASES, ids=[c[0] for c in CASES])
@pytest.mark.parametrize("block_bytes", [basis_contraction.BLOCK_BYTES, 1])  # one block, one input per block
def test_blocked_contraction_equals_plain_formulation(name, make, plain, block_bytes, monkeypatch):
    monkeypatch.setattr(basis_contraction, "BLOCK_BYTES", block_bytes)
    torch.manual_seed(0)
    layer = make()
    with torch.no_grad():
        for p in layer.parameters():
            p.add_(0.1 * torch.randn_like(p))
    x = (torch.randn(19, 7, dtype=torch.float64) * 0.9).requires_grad_(True)
    y, reference = layer(x), plain(layer, x)
    torch.testing.assert_close(y, reference, rtol=1e-12, atol=1e-12)
    g = torch.randn_like(y)
    leaves = [x, *layer.parameters()]
    for a, b in zip(torch.autograd.grad(y, leaves, g), torch.autograd.grad(reference, leaves, g)):
        torch.testing.assert_close(a, b, rtol=1e-10, atol=1e-12)


def test_single_block_is_bitwise_the_plain_forward():
    torch.manual_seed(0)
    layer = FastKAN(16, 8)
    x = torch.randn(30, 16)
    assert torch.equal(layer(x), plain_fastkan(layer, x))


def test_expit_gradcheck_through_the_blocked_backward(monkeypatch):
    monkeypatch.setattr(basis_contraction, "BLOCK_BYTES", 1)
    torch.manual_seed(0)
    layer = FastKAN(3, 2, basis="expit", exponent=2.5, dtype=torch.float64)
    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: layer(x), (x,))


def test_basis_options_are_checked():
    with pytest.raises(ValueError, match="unknown basis 'relu'"):
        FastKAN(2, 2, basis="relu")
    with pytest.raises(ValueError, match="exponent must be a finite number >= 1"):
        FastKAN(2, 2, basis="expit", exponent=0.5)
    with pytest.raises(ValueError, match="got nan"):
        FastKAN(2, 2, basis="expit", exponent=float("nan"))
    assert "basis=expit, exponent=3.0" in repr(FastKAN(2, 2, basis="expit", exponent=3))


def test_empty_batch():
    for layer in (FastKAN(4, 3), BSplineKAN(4, 3)):
        x = torch.empty(0, 4, requires_grad=True)
        y = layer(x)
        y.sum().backward()
        assert y.shape == (0, 3) and x.grad.shape == (0, 4)


def test_double_slot_round_trips():
    import numpy as np

    from qkan.baselines.basis_cuda import double_slot

    for value in (0.5714285714285714, -2.0, 3.0):
        assert np.int64(double_slot(value)).view(np.float64) == value


@pytest.mark.skipif(not nvcc_available(), reason="needs nvcc")
def test_basis_cuda_source_compiles_without_spills():
    from qkan.baselines.basis_cuda import SOURCE

    report = ptxas_report(SOURCE, arch="sm_90")
    assert len(report) == 8  # rbf and B-spline values and input gradients, float and double
    for name, info in report.items():
        assert info["spill_stores"] == 0 and info["spill_loads"] == 0, (name, info)


@pytest.mark.parametrize("name", ["spline", "bspline", "fastkan"])
def test_lookup_and_contraction_layers_under_cpu_autocast(name):
    """Under autocast the custom Functions run at the parameters' precision, forward and backward (the
    Linear base branches of BSplineKAN and FastKAN run in bfloat16, hence the tolerance)."""
    from qkan.baselines import BASELINES

    torch.manual_seed(0)
    layer = BASELINES[name](8, 4)
    x = torch.randn(5, 8, requires_grad=True)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        y = layer(x)
    y.sum().backward()
    assert y.dtype == torch.float32
    torch.testing.assert_close(y, layer(x), rtol=0.05, atol=0.05)
    assert x.grad.dtype == torch.float32 and all(p.grad is not None for p in layer.parameters())
