"""qkan.quant on models: PTQ on QKAN/HQKAN/baselines, GPTQ, QAT, export, the quantisation spec and the CLI
(the quantisers themselves: test_quantizers.py)."""

import math

import pytest
import torch
from torch import nn

from qkan import QKAN, QKANLayer, create_dataset
from qkan.fit_demo import sinc20
from qkan.models import HQKAN
from qkan.quant import (
    PeriodicQuantizer,
    QuantizerConfig,
    QuantSpec,
    UniformQuantizer,
    export_quantized,
    gptq_quantize,
    parse_spec,
    plan_roles,
    quantize,
    quantizer_modules,
    register_roles,
    uniform_spec,
)
from qkan.quant.gptq import HessianAccumulator


# ----- PTQ on QKAN ---------------------------------------------------------------------------
@pytest.fixture(scope="module")
def fitted_1d():
    """QKAN([1, 1]) of the published 1-D example, trained briefly on sin(20x)/(20x)."""
    dataset = create_dataset(sinc20, n_var=1, ranges=(0.0, 1.0), train_num=200, test_num=200, seed=0)
    model = QKAN(
        [1, 1],
        reps=3,
        preact_trainable=True,
        postact_weight_trainable=True,
        postact_bias_trainable=True,
        ba_trainable=True,
        seed=0,
    )
    history = model.fit(dataset, steps=40, lr=2e-2, verbose=False)
    assert history["train_loss"][-1] < history["train_loss"][0]
    return model, dataset


@pytest.mark.parametrize("preset", ["W8AF", "W8A8"])
@pytest.mark.parametrize("scheme", ["minmax", "mse"])
def test_8_bit_qkan_stays_within_1e_2_of_float_on_the_1d_fit(fitted_1d, preset, scheme):
    model, dataset = fitted_1d
    quantized = quantize(
        model, parse_spec(preset, scheme=scheme, act_scheme=scheme), calibration=dataset["train_input"]
    )
    grid = torch.linspace(0, 1, 401)[:, None]
    with torch.no_grad():
        assert (quantized(grid) - model(grid)).abs().max() < 1e-2
        assert not torch.equal(quantized(grid), model(grid))  # something was quantised


def test_every_qkan_role_gets_its_own_quantiser(fitted_1d):
    model, dataset = fitted_1d
    with torch.no_grad():
        before = model(dataset["test_input"])
    spec = uniform_spec(8, 8).with_role("postact_weight", QuantizerConfig(4)).with_role("preact_bias", None)
    quantized = quantize(model, spec, calibration=dataset["train_input"])
    found = quantizer_modules(quantized)
    assert isinstance(found["layers.0.theta"], PeriodicQuantizer)
    assert found["layers.0.postact_weights"].bits == 4 and found["layers.0.theta"].bits == 8
    assert "layers.0.preacts_bias" not in found  # None keeps a role in floating point
    assert {"layers.0.input", "layers.0.readout"} <= set(found)
    assert found["layers.0.readout"].quantizer.scale.item() == pytest.approx(1 / 127)  # known range [-1, 1]
    with torch.no_grad():  # the float model is untouched
        assert torch.equal(model(dataset["test_input"]), before)
    assert type(model.layers[0]) is QKANLayer and not hasattr(model.layers[0], "parametrizations")


def test_ptq_is_deterministic(fitted_1d):
    model, dataset = fitted_1d
    spec = parse_spec("W4A8", scheme="mse", act_scheme="mse")
    first = quantize(model, spec, calibration=dataset["train_input"])
    second = quantize(model, spec, calibration=dataset["train_input"])
    x = dataset["test_input"]
    with torch.no_grad():
        assert torch.equal(first(x), second(x))
    for (k1, v1), (k2, v2) in zip(first.state_dict().items(), second.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2), k1


def test_gptq_ptq_of_an_hqkan_is_deterministic():
    torch.manual_seed(3)
    model = HQKAN(12, e=4)
    x = torch.randn(300, 12) @ torch.randn(12, 12)  # correlated inputs, so GPTQ differs from rounding
    spec = parse_spec("W4A8", scheme="mse", act_scheme="mse", gptq=True)
    first, second = quantize(model, spec, calibration=x), quantize(model, spec, calibration=x)
    with torch.no_grad():
        assert torch.equal(first(x), second(x))
        assert not torch.equal(first.down.weight, quantize(model, parse_spec("W4A8", scheme="mse"), x).down.weight)
    for (k1, v1), (k2, v2) in zip(first.state_dict().items(), second.state_dict().items()):
        assert k1 == k2 and torch.equal(v1, v2), k1


def test_export_rebuilds_every_quantised_value(fitted_1d):
    model, dataset = fitted_1d
    quantized = quantize(model, parse_spec("W4A8"), calibration=dataset["train_input"])
    exported = export_quantized(quantized)
    layer = quantized.layers[0]
    for name in ("preacts_weight", "preacts_bias", "postact_weights", "postact_bias", "base_weight"):
        tensor = exported[f"layers.0.{name}"]
        assert not tensor.codes.is_floating_point() and tensor.bits == 4
        assert torch.equal(tensor.dequantize(), getattr(layer, name)), name
    theta_export = exported["layers.0.theta"]  # angles agree up to whole periods
    assert torch.allclose(
        torch.remainder(theta_export.dequantize() - layer.theta + math.pi, 2 * math.pi),
        torch.full_like(layer.theta, math.pi),
        atol=1e-5,
    )
    assert int(theta_export.codes.max()) < 16
    act = exported["layers.0.input"]
    assert act.qmin == 0 and act.qmax == 255 and act.scale > 0


def test_export_after_qat_matches_the_trained_quantised_values():
    model = QKAN([3, 2], reps=2, group=3, seed=4, preact_trainable=True, postact_weight_trainable=True)
    x = torch.rand(64, 3) * 2 - 1
    quantized = quantize(model, parse_spec("W4A4", qat="lsq"), calibration=x).train()
    optimizer = torch.optim.Adam([p for p in quantized.parameters() if p.requires_grad], lr=1e-2)
    for _ in range(3):
        optimizer.zero_grad()
        quantized(x).square().mean().backward()
        optimizer.step()
    layer = quantized.layers[0]
    exported = export_quantized(quantized)
    assert exported["layers.0.theta"].codes.shape == (3, 3, 2)  # grouped theta: one arc per group
    for name in ("preacts_weight", "preacts_bias", "postact_weights"):
        tensor = exported[f"layers.0.{name}"]
        assert torch.equal(tensor.dequantize(), getattr(layer, name).detach()), name
        assert int(tensor.codes.abs().max()) <= 7
    act = exported["layers.0.input"]
    assert act.scale == layer.input_quantizer.quantizer.scale.detach().reshape(())


def test_quantised_readout_works_on_every_cpu_solver():
    pytest.importorskip("opt_einsum")
    from qkan.solvers import solver_names

    names = [n for n in ("exact", "cutn") if n in solver_names()]
    x = torch.rand(32, 3) * 2 - 1
    outputs = []
    for name in names:
        model = QKAN([3, 2], reps=2, solver=name, seed=5)
        quantized = quantize(model, parse_spec("W4A4"), calibration=x)
        with torch.no_grad():
            outputs.append(quantized(x))
    for other in outputs[1:]:
        assert torch.allclose(other, outputs[0], atol=1e-5)


# ----- GPTQ ----------------------------------------------------------------------------------
def test_gptq_beats_round_to_nearest_on_a_linear_layer():
    gen = torch.Generator().manual_seed(0)
    mixing = torch.randn(64, 64, generator=gen) * torch.logspace(0, -2, 64)[:, None]  # correlated inputs
    x = torch.randn(2048, 64, generator=gen) @ mixing
    layer = nn.Linear(64, 32)
    accumulator = HessianAccumulator(layer)
    accumulator.add(x[:1024])
    for bits in (3, 4):
        rtn = UniformQuantizer(bits, True, 0, 32).fit(layer.weight)
        with torch.no_grad():
            w_rtn = rtn(layer.weight)
            w_gptq = gptq_quantize(layer.weight, accumulator.hessian, rtn)
            assert torch.equal(rtn(w_gptq), w_gptq)  # GPTQ output lies on the same grid
            held_out = x[1024:]
            err_rtn = (held_out @ (w_rtn - layer.weight).T).square().mean()
            err_gptq = (held_out @ (w_gptq - layer.weight).T).square().mean()
        assert err_gptq < 0.7 * err_rtn, (bits, float(err_gptq), float(err_rtn))


def test_gptq_in_quantize_lowers_hqkan_output_error():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(24, 24), HQKAN(24, e=5))
    x = torch.randn(512, 24) @ (torch.randn(24, 24) * torch.logspace(0, -2, 24)[:, None])
    with torch.no_grad():
        reference = model(x)
        rtn = quantize(model, parse_spec("W3AF"), calibration=x)(x)
        gptq = quantize(model, parse_spec("W3AF", gptq=True), calibration=x)(x)
    assert (gptq - reference).square().mean() < (rtn - reference).square().mean()


# ----- QAT -----------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["lsq", "dsq"])
def test_qat_gradients_reach_weights_and_step_sizes(fitted_1d, method):
    model, dataset = fitted_1d
    quantized = quantize(model, parse_spec("W4A4", qat=method), calibration=dataset["train_input"]).train()
    loss = (quantized(dataset["train_input"]) - dataset["train_label"]).square().mean()
    loss.backward()
    layer = quantized.layers[0]
    for name in ("theta", "preacts_weight", "postact_weights"):
        grad = layer.parametrizations[name].original.grad
        assert grad is not None and grad.abs().sum() > 0, name
    # preacts_weight: 3 entries, so not all sit on a grid point (where LSQ's step gradient is exactly 0)
    steps = [q.scale for q in (layer.parametrizations.preacts_weight[0], layer.input_quantizer.quantizer)]
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in steps)
    if method == "dsq":
        assert layer.input_quantizer.quantizer.alpha.grad is not None


@pytest.mark.parametrize("method", ["lsq", "dsq"])
def test_4_bit_qat_lowers_the_loss(method):
    """Student = the W4A4 copy of a float QKAN teacher; QAT on the teacher's outputs must recover a clear
    part of the quantisation error (measured: LSQ and DSQ end at 0.4-0.5x the starting loss)."""
    teacher = QKAN([2, 3, 1], reps=2, seed=1, preact_trainable=True, postact_weight_trainable=True, ba_trainable=True)
    x = torch.rand(256, 2, generator=torch.Generator().manual_seed(0)) * 2 - 1
    with torch.no_grad():
        y = teacher(x)
    student = quantize(teacher, parse_spec("W4A4", qat=method), calibration=x).train()
    optimizer = torch.optim.Adam([p for p in student.parameters() if p.requires_grad], lr=3e-3)
    with torch.no_grad():
        before = float((student(x) - y).square().mean())
    for _ in range(30):
        optimizer.zero_grad()
        loss = (student(x) - y).square().mean()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        after = float((student(x) - y).square().mean())
    assert after < 0.75 * before, (before, after)


# ----- one spec for HQKAN and classical modules --------------------------------------------------
def test_hqkan_and_classical_modules_share_the_spec():
    torch.manual_seed(1)
    model = nn.Sequential(nn.Conv1d(2, 4, 3), nn.Flatten(), nn.LayerNorm(24), HQKAN(24, e=5))
    x = torch.randn(64, 2, 8)
    quantized = quantize(model, parse_spec("W8A8"), calibration=x)
    found = quantizer_modules(quantized)
    assert {
        "0.weight",
        "3.down.weight",
        "3.up.weight",
        "3.qkan.layers.0.theta",
        "3.qkan.layers.0.readout",
        "0.input",
        "3.down.input",
        "3.qkan.layers.0.input",
    } <= set(found)
    assert "2.weight" not in found and "2.input" not in found  # norms stay float in the presets
    with torch.no_grad():
        ref = model(x)
        assert (quantized(x) - ref).norm() / ref.norm() < 0.05


@pytest.mark.parametrize("name", ["spline", "bspline", "rational", "fastkan", "mlp"])
def test_classical_baselines_share_the_spec(name):
    from qkan.baselines import BASELINES

    torch.manual_seed(2)
    model = BASELINES[name](6, 4)
    x = torch.rand(128, 6) * 2 - 1
    spec = parse_spec("W8A8")
    quantized = quantize(model, spec, calibration=x)
    found = quantizer_modules(quantized)
    expected = {e.name for e in plan_roles(model) if spec.config(e.role) is not None}
    assert expected and expected <= set(found)
    assert all(e.name not in found for e in plan_roles(model) if e.role == "bias")  # biases stay float in presets
    assert any(k.endswith("input") for k in found)
    with torch.no_grad():
        ref = model(x)
        assert (quantized(x) - ref).norm() / ref.norm() < 0.02


def test_state_dict_of_a_quantised_model_loads_into_a_fresh_one(fitted_1d):
    model, dataset = fitted_1d
    spec = parse_spec("W4A4", qat="lsq")
    trained = quantize(model, spec, calibration=dataset["train_input"])
    with torch.no_grad():
        trained.layers[0].parametrizations.theta.original.add_(0.3)
        trained.layers[0].input_quantizer.quantizer.scale.mul_(1.5)
    fresh = quantize(model, spec, calibration=dataset["train_input"])
    fresh.load_state_dict(trained.state_dict())
    with torch.no_grad():
        assert torch.equal(fresh(dataset["test_input"]), trained(dataset["test_input"]))


def test_quant_command_reports_float_and_ptq_on_digits(tmp_path):
    pytest.importorskip("sklearn")
    import argparse
    import json

    from qkan.quant.cli import configure_parser

    parser = configure_parser(argparse.ArgumentParser())
    args = parser.parse_args(
        [
            "--heads",
            "mlp",
            "--settings",
            "float,W8A8 PTQ,W4A4 QAT-LSQ",
            "--epochs",
            "2",
            "--qat-epochs",
            "1",
            "--sensitivity-bits",
            "2",
            "--out",
            str(tmp_path),
        ]
    )
    assert args.handler(args) == 0
    rows = {r["setting"]: r["accuracy"] for r in json.loads((tmp_path / "quant_digits.json").read_text())["rows"]}
    assert set(rows) == {"float", "W8A8 PTQ", "W4A4 QAT-LSQ"}
    assert rows["float"] > 0.5 and abs(rows["W8A8 PTQ"] - rows["float"]) <= 0.01
    assert "| mlp |" in (tmp_path / "quant_digits.md").read_text()
    assert (tmp_path / "quant_digits.png").stat().st_size > 0
    roles = {r["role"] for r in json.loads((tmp_path / "quant_roles.json").read_text())}
    assert roles == {"weight", "input"}  # conv and linear weights, module inputs (biases and norms stay float)


def test_unknown_modules_and_bad_specs_raise_clear_errors():
    class Scaler(nn.Module):
        def __init__(self):
            super().__init__()
            self.gain = nn.Parameter(torch.ones(3, 3))

        def forward(self, x):
            return x @ self.gain

    with pytest.raises(TypeError, match="register_roles"):
        quantize(Scaler(), parse_spec("W8AF"))
    register_roles(Scaler, {"gain": "weight"})
    quantized = quantize(Scaler(), parse_spec("W8AF"))
    assert "gain" in quantizer_modules(quantized)
    with pytest.raises(ValueError, match="calibration"):
        quantize(Scaler(), parse_spec("W8A8"))
    with pytest.raises(ValueError, match="unknown quantisation roles"):
        QuantSpec({"angles": QuantizerConfig(8)})
    with pytest.raises(ValueError, match="bits"):
        QuantizerConfig(1)
    with pytest.raises(ValueError, match="W8A8"):
        parse_spec("int8")
    with pytest.raises(TypeError, match="QuantSpec"):
        quantize(Scaler(), "W8A8")
    with pytest.raises(ValueError, match="already quantised"):
        quantize(quantized, parse_spec("W4AF"))
