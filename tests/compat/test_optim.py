"""qkan.optim as the published optim guide uses it, and step for step the same parameters as the published
optimizers given the same parameters and gradients."""

from __future__ import annotations

import copy

import pytest
import torch

import qkan
from qkan.optim import (
    AdaBelief,
    LBFGSFinisher,
    QKANAdamMini,
    QKANBeliefMini,
    QKANMuon,
    QKANSpectralMini,
    TritonAdaBelief,
    adam_then_lbfgs,
    reshape_optimizer_state,
)

from .published import run_published

SHAPES = {
    "layers.0.theta": (3, 2, 4, 2),
    "layers.0.preacts_weight": (3, 2, 3),
    "layers.0.base_weight": (3, 2),
    "fc.weight": (5, 4),
    "fc.bias": (5,),
}
OPTIMIZERS = {
    "AdaBelief": dict(lr=1e-2, weight_decay=0.1),
    "TritonAdaBelief": dict(lr=1e-2, state_dtype=torch.float64),
    "QKANAdamMini": dict(lr=1e-2, weight_decay=0.1),
    "QKANBeliefMini": dict(lr=1e-2),
    "QKANSpectralMini": dict(lr=1e-2, eps=1e-3),
    "QKANMuon": dict(lr=1e-2, adamw_lr=1e-2, weight_decay=0.1),
}
STEPS = 5


def _run(cls, kwargs: dict, start: dict, grads: list) -> dict:
    params = {n: torch.nn.Parameter(t.clone()) for n, t in start.items()}
    opt = cls(list(params.items()), **kwargs)
    for grad in grads:
        for n, p in params.items():
            p.grad = grad[n].clone()
        opt.step()
    return {n: p.detach() for n, p in params.items()}


@pytest.fixture(scope="module")
def published_runs() -> dict:
    gen = torch.Generator().manual_seed(0)
    start = {n: torch.randn(s, generator=gen, dtype=torch.float64) for n, s in SHAPES.items()}
    grads = [{n: torch.randn(s, generator=gen, dtype=torch.float64) for n, s in SHAPES.items()} for _ in range(STEPS)]
    code = """
    import qkan.optim as optim
    for name, kwargs in inputs["optimizers"].items():
        params = {n: torch.nn.Parameter(t.clone()) for n, t in inputs["start"].items()}
        named = name not in ("AdaBelief", "TritonAdaBelief")
        opt = getattr(optim, name)(list(params.items()) if named else list(params.values()), **kwargs)
        for grad in inputs["grads"]:
            for n, p in params.items():
                p.grad = grad[n].clone()
            opt.step()
        outputs[name] = {n: p.detach() for n, p in params.items()}
    """
    published = run_published(code, {"optimizers": OPTIMIZERS, "start": start, "grads": grads})
    return {"start": start, "grads": grads, "published": published}


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_steps_match_the_published_optimizer(published_runs, name):
    cls = getattr(qkan.optim, name)
    ours = _run(cls, OPTIMIZERS[name], published_runs["start"], published_runs["grads"])
    for param, value in published_runs["published"][name].items():
        # Muon orthogonalises in bfloat16 on both sides, so its matrices agree to bfloat16 rounding
        tol = 2e-3 if name == "QKANMuon" and param == "fc.weight" else 1e-12
        torch.testing.assert_close(ours[param], value, atol=tol, rtol=0, msg=f"{name} {param}")


def _toy() -> tuple[qkan.QKAN, torch.Tensor, torch.Tensor]:
    model = qkan.QKAN([2, 3, 1], reps=2, seed=0, preact_trainable=True)
    x = torch.rand(32, 2) * 2 - 1
    return model, x, (x[:, :1] * x[:, 1:]).sin()


@pytest.mark.parametrize(
    "make",
    [
        lambda m: AdaBelief(m.parameters(), lr=1e-2, weight_decay=0.0),
        lambda m: TritonAdaBelief(m.parameters(), lr=1e-2, state_dtype=torch.bfloat16),
        lambda m: QKANAdamMini(m.named_parameters(), lr=1e-2),
        lambda m: QKANBeliefMini(m.named_parameters(), lr=1e-2, state_dtype=torch.bfloat16),
        lambda m: QKANSpectralMini(m.named_parameters(), lr=1e-3, eps=1e-3),
        lambda m: QKANMuon(m.named_parameters(), lr=1e-3),
    ],
)
def test_guide_loop_lowers_the_loss(make):
    model, x, y = _toy()
    opt, loss_fn = make(model), torch.nn.MSELoss()
    first = loss_fn(model(x), y).item()
    for _ in range(30):
        opt.zero_grad()
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
    assert loss_fn(model(x), y).item() < first


def test_describe_layout_names_the_blocks():
    model, _, _ = _toy()
    rows = {
        name: (shape, ndim, blocks)
        for name, shape, ndim, blocks in QKANSpectralMini(model.named_parameters()).describe_layout()
    }
    assert rows["layers.0.theta"] == ((3, 2, 3, 2), 3, 18)
    assert rows["layers.0.base_weight"] == ((3, 2), 0, 1)
    routes = {name: path for name, _, path in QKANMuon(model.named_parameters()).describe_layout()}
    assert set(routes.values()) == {"adamw"}  # every QKAN tensor stays on AdamW


def test_adam_then_lbfgs_switches_and_polishes():
    model, x, y = _toy()
    opt = adam_then_lbfgs(model, total_steps=10, lr_adam=1e-2, pct_adam=0.5, use_adam_mini=True)

    def closure():
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        return loss

    switched = []
    for _ in range(10):
        opt.step(closure)
        switched.append(opt.using_lbfgs)
    assert switched == [False] * 4 + [True] * 6
    assert isinstance(opt.current, torch.optim.LBFGS)
    state = opt.state_dict()
    other = LBFGSFinisher(QKANAdamMini(model.named_parameters()), model.parameters(), total_steps=10, pct_early=0.5)
    other.load_state_dict(state)
    assert other.using_lbfgs


def test_reshape_optimizer_state_follows_the_parameter_layout():
    p = torch.nn.Parameter(torch.zeros(3, 4))
    opt = torch.optim.Adam([p])
    p.grad = torch.ones(3, 4)
    opt.step()
    opt.state[p]["exp_avg"] = opt.state[p]["exp_avg"].reshape(12)
    assert reshape_optimizer_state(opt) == 1
    assert opt.state[p]["exp_avg"].shape == (3, 4)


@pytest.mark.parametrize(
    "call, error",
    [
        (lambda p: AdaBelief(p, lr=-1.0), "lr must be"),
        (lambda p: QKANAdamMini(p, betas=(1.0, 0.9)), "betas must be"),
        (lambda p: QKANBeliefMini(p, eps=0.0), "eps must be"),
        (lambda p: TritonAdaBelief(p, weight_decay=-1.0), "weight_decay must be"),
        (lambda p: LBFGSFinisher(torch.optim.Adam(p), p, total_steps=0), "total_steps must be"),
        (lambda p: LBFGSFinisher(torch.optim.Adam(p), p, total_steps=5, pct_early=0.0), "pct_early must be"),
    ],
)
def test_published_rejections_raise_value_errors_naming_the_argument(call, error):
    with pytest.raises(ValueError, match=error):
        call([torch.nn.Parameter(torch.zeros(2))])


def test_reallocated_parameters_keep_values_ties_state_and_names():
    """qkan.inference._reallocate_params_on_stream (a published private helper): fresh tensors, the same model; the
    optimizer then steps exactly as an untouched copy does."""
    from qkan.inference import _reallocate_params_on_stream

    torch.manual_seed(0)
    model = torch.nn.Sequential(qkan.QKAN([3, 2], reps=2, seed=0), torch.nn.Linear(2, 2))
    model.add_module("tied", model[1])  # one Parameter reachable twice
    twin = copy.deepcopy(model)
    optimizers = [QKANMuon(m.named_parameters(), lr=1e-2) for m in (model, twin)]
    x = torch.rand(8, 3) * 2 - 1
    for m, opt in zip((model, twin), optimizers):
        m(x).square().sum().backward()
        opt.step()
    old = {name: id(p) for name, p in model.named_parameters()}
    _reallocate_params_on_stream(model, optimizers[0])
    fresh = dict(model.named_parameters())
    assert all(id(p) != old[name] for name, p in fresh.items())
    assert model.tied.weight is model[1].weight
    assert getattr(fresh["0.layers.0.theta"], "_qkan_natural_shape", None) == getattr(
        dict(twin.named_parameters())["0.layers.0.theta"], "_qkan_natural_shape", None
    )
    assert set(optimizers[0]._param_names.values()) == set(fresh)
    assert {id(p) for p in optimizers[0].param_groups[0]["params"]} == {id(p) for p in model.parameters()}
    for m, opt in zip((model, twin), optimizers):
        opt.zero_grad()
        m(x).square().sum().backward()
        opt.step()
    for (name, a), (_, b) in zip(model.named_parameters(), twin.named_parameters()):
        assert torch.equal(a, b), name
