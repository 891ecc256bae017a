"""FastKAN and BSplineKAN on a GPU (basis_cuda kernels inside basis_contraction): values and gradients
against the float64 plain formulation, single and many blocks, bitwise reproducible, and the train step's
peak memory at 1024->1024 B4096 against the plain (fast-kan / efficient-kan) formulation (<= 0.5x; the
speed target, >= 1.5x, is judged by qkan bench --cases baselines)."""

import pytest
import torch
from test_baselines_basis import plain_bspline, plain_fastkan

from qkan.baselines import BSplineKAN, FastKAN, basis_contraction
from qkan.solvers.cuda_runtime import cupy_available

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")]

LAYERS = {
    "fastkan-gaussian": (lambda **kw: FastKAN(64, 48, **kw), plain_fastkan),
    "fastkan-expit": (lambda **kw: FastKAN(64, 48, basis="expit", exponent=3.0, **kw), plain_fastkan),
    "bspline": (lambda **kw: BSplineKAN(64, 48, grid_size=7, **kw), plain_bspline),
}


def relative(value, reference) -> float:
    return ((value.double() - reference.double()).abs().max() / reference.double().abs().max()).item()


@pytest.mark.parametrize("name", sorted(LAYERS))
@pytest.mark.parametrize("block_bytes", [basis_contraction.BLOCK_BYTES, 4096])
def test_kernels_match_float64_plain_formulation(name, block_bytes, monkeypatch):
    monkeypatch.setattr(basis_contraction, "BLOCK_BYTES", block_bytes)
    make, plain = LAYERS[name]
    torch.manual_seed(0)
    layer = make(device="cuda")
    reference = make(device="cuda", dtype=torch.float64)
    reference.load_state_dict({k: v.double() for k, v in layer.state_dict().items()})
    x = torch.randn(300, 64, device="cuda") * 0.8
    x[0, :3] = torch.tensor([-1.0, 0.0, 1.0])  # knots and centres
    xa, xb = x.clone().requires_grad_(True), x.double().requires_grad_(True)
    y, y_ref = layer(xa), plain(reference, xb)
    assert relative(y, y_ref) <= 1e-5
    g = torch.randn_like(y)
    ours = torch.autograd.grad(y, [xa, *layer.parameters()], g)
    want = torch.autograd.grad(y_ref, [xb, *reference.parameters()], g.double())
    for a, b in zip(ours, want):
        assert relative(a, b) <= 1e-5


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_float64_kernels_match_to_1e12(name):
    make, plain = LAYERS[name]
    torch.manual_seed(0)
    layer = make(device="cuda", dtype=torch.float64)
    x = (torch.randn(100, 64, device="cuda", dtype=torch.float64) * 0.8).requires_grad_(True)
    y, y_ref = layer(x), plain(layer, x)
    assert relative(y, y_ref) <= 1e-12
    for a, b in zip(torch.autograd.grad(y.square().sum(), x), torch.autograd.grad(y_ref.square().sum(), x)):
        assert relative(a, b) <= 1e-12


def test_backward_is_bitwise_reproducible():
    layer = BSplineKAN(256, 256, device="cuda")
    x = torch.randn(1024, 256, device="cuda", requires_grad=True)
    runs = [torch.autograd.grad(layer(x).square().sum(), [x, *layer.parameters()]) for _ in range(2)]
    assert all(torch.equal(a, b) for a, b in zip(*runs))


def step_peak_mib(forward, params, x):
    """Peak MiB one forward+backward allocates beyond what is held before it."""
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    torch.autograd.grad(forward(x).square().mean(), [x, *params])
    torch.cuda.synchronize()
    return (torch.cuda.max_memory_allocated() - base) / 2**20


@pytest.mark.parametrize("name", ["fastkan-gaussian", "bspline"])
def test_train_step_memory_against_plain_formulation(name):
    """The blocked contraction never holds the (batch, in, grid) basis: peak memory at most half the plain
    formulation's (speed is judged by qkan bench --cases baselines, not by tests)."""
    plain = LAYERS[name][1]
    torch.manual_seed(0)
    layer = (FastKAN if name.startswith("fastkan") else BSplineKAN)(1024, 1024, device="cuda")
    x = torch.randn(4096, 1024, device="cuda", requires_grad=True)
    params = list(layer.parameters())
    ours_mib = step_peak_mib(layer, params, x)
    ref_mib = step_peak_mib(lambda x: plain(layer, x), params, x)
    print(
        f"\n{name} 1024->1024 B4096 on {torch.cuda.get_device_name()}: ours {ours_mib:.0f} MiB, plain {ref_mib:.0f} MiB"
    )
    assert ours_mib <= 0.5 * ref_mib
