"""flash in whole models on the GPU: a train step of large layers, torch.compile of a Program and of a model
against eager, and the graphed train step against eager steps."""

from __future__ import annotations

import copy

import pytest
import torch
from test_flash_gpu import DEVICE, make_inputs

from qkan import QKAN
from qkan.circuits import builtin
from qkan.graphs import make_graphed_train_step, prepare_for_capture
from qkan.solvers import LayerGeometry
from qkan.solvers import compile as compile_program

pytestmark = pytest.mark.gpu


@pytest.mark.parametrize("width", [256, 1024])
def test_large_layers_train_step(width):
    model = QKAN([width, width], solver="flash", seed=0, device=DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    x, y = torch.randn(4096, width, device=DEVICE), torch.randn(4096, width, device=DEVICE)
    loss = torch.nn.functional.mse_loss(model(x), y)
    loss.backward()
    optimizer.step()
    assert torch.isfinite(loss).item()
    assert torch.isfinite(model.layers[0].theta.grad).all().item()
    assert model.layers[0].theta.grad.abs().sum().item() > 0


def _model_and_data(seed=0):
    model = QKAN([8, 6, 4], solver="flash", seed=seed, device=DEVICE)
    x = torch.rand(64, 8, device=DEVICE) * 2 - 1
    y = torch.rand(64, 4, device=DEVICE)
    return model, x, y


def test_torch_compile_program_fullgraph():
    """The flash ops trace into one graph (no breaks) with forward and backward."""
    circuit, geometry = builtin("pz", 2, "amp"), LayerGeometry(5, 3, preacts=True)
    x, params = make_inputs(circuit, 3, 5, 40, torch.float32)
    program = compile_program("flash", circuit, geometry, torch.float32, DEVICE)
    compiled = torch.compile(program.layer_output, fullgraph=True)
    torch.testing.assert_close(compiled(x, params), program.layer_output(x, params), rtol=1e-6, atol=1e-6)
    grad = torch.autograd.grad(compiled(x, params).square().sum(), params.theta)[0]
    torch.testing.assert_close(
        grad, torch.autograd.grad(program.layer_output(x, params).square().sum(), params.theta)[0], rtol=1e-6, atol=1e-6
    )


def test_torch_compile_model_matches_eager():
    model, x, y = _model_and_data()
    compiled = torch.compile(model)
    eager_loss = torch.nn.functional.mse_loss(model(x), y)
    eager_grad = torch.autograd.grad(eager_loss, model.layers[0].theta)[0]
    compiled_loss = torch.nn.functional.mse_loss(compiled(x), y)
    compiled_grad = torch.autograd.grad(compiled_loss, model.layers[0].theta)[0]
    torch.testing.assert_close(compiled_loss, eager_loss, rtol=1e-6, atol=1e-7)
    torch.testing.assert_close(compiled_grad, eager_grad, rtol=1e-6, atol=1e-7)


def test_graphed_train_step_matches_eager():
    model, x, y = _model_and_data()
    twin = copy.deepcopy(model)
    loss_fn = torch.nn.functional.mse_loss
    optimizer, twin_opt = torch.optim.Adam(model.parameters(), lr=1e-2), torch.optim.Adam(twin.parameters(), lr=1e-2)
    for opt, net in ((optimizer, model), (twin_opt, twin)):  # one eager step first: state on the CPU
        opt.zero_grad()
        loss_fn(net(x), y).backward()
        opt.step()
    step = make_graphed_train_step(model, loss_fn, optimizer, x, y)
    # the twin steps with the optimizer settings the capture uses (capturable, per-tensor kernels): Adam turns
    # rounding differences in near-zero gradients into whole steps, so another implementation's steps differ
    prepare_for_capture(twin_opt)
    for n in range(4):
        xs, ys = x.roll(n, 0), y.roll(n, 0)
        graphed = step(xs, ys).item()
        twin_opt.zero_grad()
        eager = loss_fn(twin(xs), ys)
        eager.backward()
        twin_opt.step()
        assert abs(graphed - eager.item()) <= 1e-5 * max(1.0, abs(eager.item())), (n, graphed, eager.item())
    # the replays leave the gradients of the last step readable and the parameters stepped alike
    torch.testing.assert_close(model.layers[0].theta.grad, twin.layers[0].theta.grad, rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(model.layers[0].theta, twin.layers[0].theta, rtol=1e-5, atol=1e-6)
    assert optimizer.param_groups[0]["foreach"] is False  # two trainable tensors (theta of each layer): per tensor


def test_graphed_train_step_keeps_an_explicit_foreach():
    model, x, y = _model_and_data()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2, foreach=True)
    step = make_graphed_train_step(model, torch.nn.functional.mse_loss, optimizer, x, y)
    step(x, y)
    assert optimizer.param_groups[0]["foreach"] is True and optimizer.param_groups[0]["capturable"] is True
