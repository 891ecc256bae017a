"""The published CUDA-Q function ``qkan.solver.cudaq_solver`` (module ``qkan.solver.cudaq``): without cudaq it names
the extra to install; with cudaq (skipped where it is not installed) its <Z> values and parameter-shift gradients
equal the exact solver's, and the published package's own ``cudaq_solver`` run on the same tensors."""

import importlib
import importlib.util

import pytest
import torch

import qkan
import qkan.solver
from qkan import QKANLayer
from qkan.solver import cudaq_solver
from qkan.solvers import UnsupportedCircuit, registry

from .published import run_published

# (ansatz, preacts_trainable, theta shape): per edge for a (2 -> 3) layer, and one group broadcast to every edge
CASES = [
    ("pz_encoding", False, (3, 2, 3, 2)),
    ("pz", True, (3, 2, 3, 2)),
    ("rpz", True, (3, 2, 3, 1)),
    ("real", False, (3, 2, 2, 1)),
    ("pz", True, (1, 3, 2)),
]


def case_tensors(shape, seed):
    g = torch.Generator().manual_seed(seed)
    lead = shape[:-2]
    theta = torch.randn(*shape, dtype=torch.float64, generator=g)
    weight, bias = (torch.randn(*lead, 2, dtype=torch.float64, generator=g) for _ in range(2))
    return theta, weight, bias


def values_and_theta_grad(theta, weight, bias, x, ansatz, preacts):
    theta = theta.clone().requires_grad_()
    layer_keywords = {"device": x.device, "group": -1, "fast_measure": True, "dtype": None, "checkpoint_reps": False}
    y = cudaq_solver(x, theta, weight, bias, 2, ansatz=ansatz, preacts_trainable=preacts, out_dim=3, **layer_keywords)
    return y.detach(), torch.autograd.grad((y * torch.linspace(-1, 1, y.numel()).view_as(y)).sum(), theta)[0]


def test_the_published_paths_name_the_function():
    assert importlib.import_module("qkan.solver.cudaq").cudaq_solver is qkan.solver.cudaq_solver


def test_without_cudaq_the_call_names_the_extra(monkeypatch):
    monkeypatch.setattr(registry, "_PROGRAMS", {})  # no Program compiled with cudaq by an earlier test
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cudaq" else real(name, *a))
    theta, weight, bias = case_tensors((3, 2, 3, 2), 0)
    with pytest.raises(UnsupportedCircuit, match=r"pip install 'qkan-toolkit\[cudaq\]'"):
        cudaq_solver(torch.zeros(4, 2, dtype=torch.float64), theta, weight, bias, 2, out_dim=3)


def test_shapes_and_options_are_checked():
    theta, weight, bias = case_tensors((3, 2, 3, 2), 0)
    x = torch.zeros(4, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"theta must have shape \(out_dim=3, in_dim=2, \.\.\.\)"):
        cudaq_solver(x, theta[..., None], weight, bias, 2, out_dim=3)
    with pytest.raises(ValueError, match="must share their grouping"):
        cudaq_solver(x, theta, weight[0, :1], bias[0, :1], 2, out_dim=3)
    with pytest.raises(TypeError, match=r"unknown option\(s\) \['initial_layout'\]"):
        cudaq_solver(x, theta, weight, bias, 2, out_dim=3, initial_layout=[0])


@pytest.mark.parametrize("ansatz, preacts, shape", CASES)
def test_values_and_gradients_equal_the_exact_solver(ansatz, preacts, shape):
    pytest.importorskip("cudaq")
    theta, weight, bias = case_tensors(shape, 1)
    x = torch.rand(5, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(2)) * 1.6 - 0.8
    values, grad = values_and_theta_grad(theta, weight, bias, x, ansatz, preacts)
    groups = 1 if len(shape) == 3 else -1
    ref = QKANLayer(2, 3, reps=2, ansatz=ansatz, fast_measure=False, preact_trainable=preacts, group=groups)
    ref = ref.to(torch.float64)
    with torch.no_grad():
        ref.theta.copy_(theta.reshape(ref.theta.shape))
        ref.preacts_weight.copy_(weight.reshape(ref.preacts_weight.shape))
        ref.preacts_bias.copy_(bias.reshape(ref.preacts_bias.shape))
    exact = ref.circuit_values(x)
    exact_grad = torch.autograd.grad((exact * torch.linspace(-1, 1, exact.numel()).view_as(exact)).sum(), ref.theta)[0]
    assert (values - exact.detach()).abs().max().item() < 1e-12
    assert (grad - exact_grad.reshape(grad.shape)).abs().max().item() < 1e-12


def test_values_and_gradients_equal_the_published_cudaq_solver():
    pytest.importorskip("cudaq")
    x = torch.rand(4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3)) * 1.6 - 0.8
    cases = [(ansatz, preacts, *case_tensors(shape, k)) for k, (ansatz, preacts, shape) in enumerate(CASES)]
    published = run_published(
        """
        from qkan.solver import cudaq_solver
        x = inputs["x"]
        outputs["results"] = []
        for ansatz, preacts, theta, weight, bias in inputs["cases"]:
            theta = theta.clone().requires_grad_()
            y = cudaq_solver(x, theta, weight, bias, 2, ansatz=ansatz, preacts_trainable=preacts, out_dim=3)
            w = torch.linspace(-1, 1, y.numel()).view_as(y)
            outputs["results"].append((y.detach(), torch.autograd.grad((y * w).sum(), theta)[0]))
        """,
        {"x": x, "cases": cases},
    )
    for (ansatz, preacts, theta, weight, bias), (y, g) in zip(cases, published["results"]):
        values, grad = values_and_theta_grad(theta, weight, bias, x, ansatz, preacts)
        assert (values - y).abs().max().item() < 1e-12, ansatz
        assert (grad - g).abs().max().item() < 1e-12, ansatz


def test_a_published_cudaq_model_gives_the_same_outputs_here():
    """The published QKAN([1, 2, 1], solver="cudaq", fast_measure=False) (its <Z> readout) and ours with its
    state_dict, float32 as published by default: the same outputs within 1e-5, as checkpoints load."""
    pytest.importorskip("cudaq")
    x = torch.linspace(-1, 1, 8)[:, None]
    published = run_published(
        """
        model = qkan.QKAN([1, 2, 1], reps=2, seed=0, solver="cudaq", fast_measure=False)
        with torch.no_grad():
            outputs["y"] = model(inputs["x"])
        outputs["state"] = model.state_dict()
        """,
        {"x": x},
    )
    ours = qkan.QKAN([1, 2, 1], reps=2, seed=1, solver="cudaq", fast_measure=False)
    ours.load_state_dict(published["state"])
    with torch.no_grad():
        torch.testing.assert_close(ours(x), published["y"], atol=1e-5, rtol=0)
