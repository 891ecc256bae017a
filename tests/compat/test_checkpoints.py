"""Checkpoints move between the published qkan 0.2.3 and this package with the same outputs (1e-5), both
directions, for the new constructor keywords too (p_dim, theta_init, checkpoint_reps) and for KAN/FourierKAN."""

from __future__ import annotations

import pytest
import torch

import qkan

from .published import run_published

CASES = {
    "default": dict(reps=3),
    "p_dim2": dict(reps=2, p_dim=2),
    "small_gaussian": dict(reps=4, theta_init="small_gaussian"),
    "checkpoint_reps": dict(reps=2, checkpoint_reps=True),
    "trainable": dict(reps=2, preact_trainable=True, postact_weight_trainable=True, postact_bias_trainable=True),
}
WIDTH = [3, 4, 2]


@pytest.fixture(scope="module")
def exchange() -> dict:
    """Per case: the published model's state_dict and outputs, and its outputs with our state_dict loaded."""
    x = torch.rand(16, 3) * 2 - 1
    ours = {}
    for name, kwargs in CASES.items():
        model = qkan.QKAN(WIDTH, seed=1, **kwargs)
        ours[name] = {k: v.clone() for k, v in model.state_dict().items()}
    code = """
    for name, kwargs in inputs["cases"].items():
        model = qkan.QKAN(inputs["width"], seed=0, **kwargs)
        own_state = {k: v.clone() for k, v in model.state_dict().items()}
        with torch.no_grad():
            own = model(inputs["x"])
        model.load_state_dict(inputs["ours"][name])
        with torch.no_grad():
            on_ours = model(inputs["x"])
        outputs[name] = dict(state=own_state, own=own, on_ours=on_ours)
    kan, fourier = qkan.KAN([3, 4, 2], seed=0), qkan.FourierKAN([3, 4, 2], seed=0)
    with torch.no_grad():
        outputs["kan"] = dict(state=kan.state_dict(), own=kan(inputs["x"]))
        outputs["fourier"] = dict(state=fourier.state_dict(), own=fourier(inputs["x"]))
    """
    results = run_published(code, {"cases": CASES, "width": WIDTH, "x": x, "ours": ours})
    return {"x": x, "ours": ours, **results}


@pytest.mark.parametrize("name", sorted(CASES))
def test_published_checkpoint_loads_here_with_the_same_outputs(exchange, name):
    model = qkan.QKAN(WIDTH, seed=5, **CASES[name])
    model.load_state_dict(exchange[name]["state"])
    with torch.no_grad():
        torch.testing.assert_close(model(exchange["x"]), exchange[name]["own"], atol=1e-5, rtol=0)


@pytest.mark.parametrize("name", sorted(CASES))
def test_our_checkpoint_loads_there_with_the_same_outputs(exchange, name):
    model = qkan.QKAN(WIDTH, seed=1, **CASES[name])
    assert {k: tuple(v.shape) for k, v in model.state_dict().items()} == {
        k: tuple(v.shape) for k, v in exchange[name]["state"].items()
    }
    with torch.no_grad():
        torch.testing.assert_close(exchange[name]["on_ours"], model(exchange["x"]), atol=1e-5, rtol=0)


@pytest.mark.parametrize("name, cls", [("kan", qkan.KAN), ("fourier", qkan.FourierKAN)])
def test_kan_checkpoints_load_both_ways(exchange, name, cls):
    model = cls([3, 4, 2], seed=3)
    assert sorted(model.state_dict()) == sorted(exchange[name]["state"])
    model.load_state_dict(exchange[name]["state"])
    with torch.no_grad():
        torch.testing.assert_close(model(exchange["x"]), exchange[name]["own"], atol=1e-5, rtol=0)


def test_p_dim_layouts_load_into_each_other():
    x = torch.rand(8, 3)
    flat, full = qkan.QKAN(WIDTH, reps=2, seed=0, p_dim=2), qkan.QKAN(WIDTH, reps=2, seed=4)
    assert flat.state_dict()["layers.0.theta"].dim() == 2 and full.state_dict()["layers.0.theta"].dim() == 4
    full.load_state_dict(flat.state_dict())
    torch.testing.assert_close(full(x), flat(x), atol=0, rtol=0)
    with pytest.raises(RuntimeError, match="size mismatch"):
        qkan.QKAN([4, 3, 2], reps=2, p_dim=2).load_state_dict(full.state_dict())
