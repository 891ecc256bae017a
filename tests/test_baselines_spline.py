"""SplineKAN's constant-time lookup on CPU: values and gradients against the float64 per-edge reference
(edge_values) at several grid sizes and block splits, bitwise reproducibility, empty batches, NaN rows,
the cost's independence of G (a gather never touches more than two knots), and the CUDA source's ptxas report."""

import pytest
import torch

from qkan.baselines import SplineKAN, basis_contraction, spline_lookup
from qkan.solvers.cuda_runtime import nvcc_available, ptxas_report


@pytest.fixture(params=["sorted", "dense"])
def gradient_path(request, monkeypatch):
    """grad V by sorted runs (table_gradient_torch) or by hat-basis matmuls (table_gradient_dense), at every G."""
    monkeypatch.setattr(spline_lookup, "DENSE_GRADIENT_MAX_GRID", 0 if request.param == "sorted" else 1 << 20)
    return request.param


def layer_with_random_knots(in_dim, out_dim, grid_size, dtype=torch.float64, seed=0, **options):
    torch.manual_seed(seed)
    layer = SplineKAN(in_dim, out_dim, grid_size=grid_size, dtype=dtype, **options)
    with torch.no_grad():
        layer.knot_values.normal_()
    return layer


@pytest.mark.parametrize("grid_size", [1, 2, 7, 64])
@pytest.mark.parametrize("block_bytes", [None, 1])  # the default blocks, or one input per call/matmul
def test_lookup_matches_reference_values_and_gradients(grid_size, block_bytes, gradient_path, monkeypatch):
    if block_bytes is not None:
        monkeypatch.setattr(spline_lookup, "CACHE_BYTES", block_bytes)
        monkeypatch.setattr(basis_contraction, "BLOCK_BYTES", block_bytes)
    layer = layer_with_random_knots(6, 5, grid_size, grid_range=(-1.5, 2.0))
    x = (torch.randn(33, 6, dtype=torch.float64) * 2).requires_grad_(True)  # inside and outside the grid
    y = layer(x)
    reference = layer.edge_values(x).sum(-1)
    torch.testing.assert_close(y, reference, rtol=1e-13, atol=1e-13)
    g = torch.randn_like(y)
    ours = torch.autograd.grad(y, (x, layer.knot_values), g)
    want = torch.autograd.grad(reference, (x, layer.knot_values), g)
    for a, b in zip(ours, want):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_lookup_float32_within_1e5_of_float64():
    layer = layer_with_random_knots(16, 8, 32, dtype=torch.float32)
    x = torch.randn(200, 16) * 1.2
    reference = layer.double().edge_values(x.double()).sum(-1)
    y = layer.float()(x)
    assert ((y.double() - reference).abs().max() / reference.abs().max()).item() <= 1e-5


def test_gradcheck_through_the_custom_backward(gradient_path):
    layer = layer_with_random_knots(3, 2, 4)
    x = (torch.rand(6, 3, dtype=torch.float64) * 3 - 1.5).requires_grad_(True)
    table = layer.knot_values.detach().clone().requires_grad_(True)

    def fn(x, table):
        return spline_lookup.SplineLookupTorch.apply(x, table, layer.grid_range[0], layer.inv_step)

    assert torch.autograd.gradcheck(fn, (x, table))


def test_backward_is_bitwise_reproducible(gradient_path):
    layer = layer_with_random_knots(32, 16, 16, dtype=torch.float32)
    x = torch.randn(300, 32, requires_grad=True)
    runs = []
    for _ in range(2):
        layer.zero_grad()
        x.grad = None
        layer(x).square().sum().backward()
        runs.append((x.grad.clone(), layer.knot_values.grad.clone()))
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def test_empty_batch_and_nan_rows(gradient_path):
    layer = layer_with_random_knots(4, 3, 8)
    x = torch.empty(0, 4, dtype=torch.float64, requires_grad=True)
    y = layer(x)
    assert y.shape == (0, 3)
    y.sum().backward()
    assert x.grad.shape == (0, 4) and torch.equal(layer.knot_values.grad, torch.zeros_like(layer.knot_values))
    x = torch.randn(3, 4, dtype=torch.float64)
    x[1, 0] = float("nan")
    y = layer(x)
    assert torch.isnan(y[1]).all() and torch.isfinite(y[[0, 2]]).all()


def test_a_sample_touches_two_knots_per_edge():
    """Constant time per (sample, edge): the table gradient of one sample is non-zero on at most two knots
    of every input, whatever G."""
    for grid_size in (8, 256):
        layer = layer_with_random_knots(5, 3, grid_size)
        layer(torch.randn(1, 5, dtype=torch.float64)).sum().backward()
        touched = (layer.knot_values.grad != 0).any(-1).sum(-1)
        assert (touched <= 2).all() and (touched >= 1).all()


def test_backend_option():
    with pytest.raises(ValueError, match="unknown backend"):
        SplineKAN(2, 2, backend="triton")
    if not torch.cuda.is_available():
        with pytest.raises(RuntimeError, match="backend='cuda' needs a CUDA"):
            SplineKAN(2, 2, backend="cuda")(torch.randn(3, 2))


@pytest.mark.skipif(not nvcc_available(), reason="needs nvcc")
def test_spline_cuda_source_compiles_without_spills():
    from qkan.baselines.spline_cuda import SOURCE

    report = ptxas_report(SOURCE, arch="sm_90")
    assert len(report) == 6  # forward, grad x, grad table; float and double
    for name, info in report.items():
        assert info["spill_stores"] == 0 and info["spill_loads"] == 0, (name, info)
        assert info["registers"] <= 128, (name, info)
