"""flash's bf16/fp16 I/O kernels on the GPU: x, the output, its cotangent and grad_x stay 16-bit in memory while
the kernels compute in float32, so they equal the float32 kernels run on the same 16-bit values (then rounded)
bit for bit; under autocast no cast kernel runs, and every built-in stays within the README's bound of float64."""

from __future__ import annotations

import copy

import pytest
import torch
from test_flash_gpu import DEVICE, make_inputs

from qkan import QKAN, QKANLayer
from qkan.circuits import BUILTINS, builtin
from qkan.solvers import LayerGeometry
from qkan.solvers import compile as compile_program

pytestmark = pytest.mark.gpu
REDUCED = [pytest.param(torch.bfloat16, id="bf16"), pytest.param(torch.float16, id="fp16")]
# max |y - y_fp64| / max |y_fp64| of QKAN([6, 5, 3]) (every built-in, trained-looking parameters) under CUDA
# autocast on flash: the input of each layer is rounded to the autocast dtype as nn.Linear's is, and the output
BOUND = {torch.bfloat16: 0.03, torch.float16: 0.004}


def _outputs_and_grads(program, x, params, gout):
    out = program.layer_output(x, params)
    grads = torch.autograd.grad(out, [x, *[p for p in params if p.requires_grad]], gout.to(out.dtype))
    return out, grads


@pytest.mark.parametrize("low", REDUCED)
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_reduced_io_equals_float32_kernels_on_the_same_values(name, readout, low):
    circuit = builtin(name, 3, readout)
    geometry = LayerGeometry(7, 5, preacts=True, base_activation="silu")
    x32, params = make_inputs(circuit, 5, 7, 300, torch.float32, seed=3)
    x_low = x32.detach().to(low).requires_grad_()
    x_same = x_low.detach().float().requires_grad_()  # exactly the 16-bit values, in float32
    program = compile_program("flash", circuit, geometry, torch.float32, DEVICE)
    assert program.accepts_input(low)
    gout = torch.randn(300, 5, generator=torch.Generator().manual_seed(1)).to(DEVICE, low)
    out_low, grads_low = _outputs_and_grads(program, x_low, params, gout)
    out32, grads32 = _outputs_and_grads(program, x_same, params, gout.float())
    assert out_low.dtype == grads_low[0].dtype == low
    assert torch.equal(out_low, out32.to(low))  # one rounding (to nearest even) of the same float32 result
    assert torch.equal(grads_low[0], grads32[0].to(low))
    for g_low, g32 in zip(grads_low[1:], grads32[1:]):
        assert g_low.dtype == torch.float32 and torch.equal(g_low, g32)


@pytest.mark.parametrize("low", REDUCED)
def test_edge_values_and_empty_batch_in_reduced_io(low):
    layer = QKANLayer(4, 3, solver="flash", device=DEVICE, seed=0)
    x = torch.rand(9, 4, device=DEVICE).to(low)
    with torch.autocast("cuda", dtype=low):
        f = layer.circuit_values(x)
        empty = layer(torch.empty(0, 4, device=DEVICE, dtype=low, requires_grad=True))
    assert f.dtype == low and f.shape == (9, 3, 4)
    reference = layer.circuit_values(x.float())
    assert torch.equal(f, reference.to(low))
    assert empty.shape == (0, 3) and empty.dtype == low


@pytest.mark.parametrize("low", REDUCED)
def test_autocast_runs_no_cast_kernel(low):
    """Under autocast a flash layer's forward and backward on 16-bit input run without one dtype conversion."""
    layer = QKANLayer(16, 8, solver="flash", device=DEVICE, seed=0)
    x = torch.randn(256, 16, device=DEVICE, dtype=low, requires_grad=True)
    with torch.autocast("cuda", dtype=low):
        layer(x).float().sum().backward()  # warm-up: compiles the kernels
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            layer(x).sum().backward()
    copies = [e.key for e in prof.key_averages() if e.key in ("aten::_to_copy", "aten::to", "aten::copy_")]
    assert not copies, copies
    assert x.grad.dtype == low and layer.theta.grad.dtype == torch.float32


@pytest.mark.parametrize("low", REDUCED)
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_every_builtin_under_autocast_within_the_bound_of_float64(name, low):
    from test_models import _assert_fp32_grads, _trained_looking_qkan

    model = _trained_looking_qkan(name, seed=1).to(DEVICE)
    model.solver = "flash"
    reference = copy.deepcopy(model).double()
    reference.solver = "exact"
    x = (torch.rand(512, 6, generator=torch.Generator().manual_seed(1)) * 1.8 - 0.9).to(DEVICE)
    with torch.autocast("cuda", dtype=low):
        y = model(x)
    y_ref = reference(x.double())
    error = ((y.double() - y_ref).abs().max() / y_ref.abs().max()).item()
    print(f"flash {name} {low}: max|y - y_fp64| / max|y_fp64| = {error:.3g}")
    assert y.dtype == low and error <= BOUND[low]
    y.float().square().mean().backward()
    _assert_fp32_grads(model)


def test_bf16_parameters_read_bf16_input_natively():
    """A layer moved to bf16 computes in float32 on its bf16 parameters (exact in float32) and bf16 input."""
    model16 = QKAN([6, 4], solver="flash", seed=0, device=DEVICE).to(torch.bfloat16)
    model32 = copy.deepcopy(model16).float()
    x = torch.randn(50, 6, device=DEVICE).bfloat16()
    out = model16(x)
    assert out.dtype == torch.bfloat16
    assert torch.equal(out, model32(x.float()).to(torch.bfloat16))
    out.float().sum().backward()
    assert model16.layers[0].theta.grad.dtype == torch.bfloat16
