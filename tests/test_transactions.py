"""Issue 22, "nothing half-done": a call that fails (refused input, or a failure injected half-way) leaves the
model's parameters, buffers, structure and hooks, its optimizer's state and the files it wrote bitwise as they
were: quantize (a copy and inplace=True), prune, refine, load_state_dict, the registries; plus the refusals of
explain, GPT token ids and quantize's arguments."""

import pytest
import torch
from test_bad_input_api import assert_unchanged, snapshot, stepped
from torch import nn

from qkan import QKAN, QKANLayer, set_validation
from qkan.circuits import GATES, GateSpec, builtin, register_gate
from qkan.models import HQKAN
from qkan.models.gpt import GPT
from qkan.quant import convert as quant_convert
from qkan.quant import parse_spec, quantize, quantizer_modules
from qkan.quant.activation import ActivationQuantizer
from qkan.solvers import LayerGeometry, explain


class Injected(RuntimeError):
    """The failure a test injects half-way through an operation."""


def fail(*args, **kwargs):
    raise Injected("injected")


def structure(model: nn.Module) -> list:
    """Everything about the modules that values do not show: names, classes, parameter and buffer objects,
    hooks, train/eval flags."""
    return [
        (
            name,
            type(m),
            m.training,
            [(k, id(p)) for k, p in m._parameters.items()],
            [(k, id(b)) for k, b in m._buffers.items()],
            list(m._forward_pre_hooks),
            list(m._forward_hooks),
        )
        for name, m in model.named_modules()
    ]


def hqkan_pipeline():
    """Linear -> HQKAN with correlated inputs (so GPTQ and input quantisers both have work) and a stepped Adam."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 12), HQKAN(12, e=3))
    return (*stepped(model, 12), torch.randn(64, 12))


# ----- quantize -----------------------------------------------------------------------------------


@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize(
    "where",
    ["gptq_quantize", "finish_calibration", "register_parametrization"],
)
def test_quantize_failing_half_way_changes_nothing(monkeypatch, inplace, where):
    model, opt, x = hqkan_pipeline()
    saved, before = snapshot(model, opt), structure(model)
    with torch.no_grad():
        y = model(x)
    if where == "gptq_quantize":
        calls = []

        def second_fails(original, hessian, quantizer):  # the first layer's weight is written, the second fails
            calls.append(1)
            if len(calls) == 2:
                raise Injected("injected")
            return original.detach() + 1.0

        monkeypatch.setattr(quant_convert, "gptq_quantize", second_fails)
    elif where == "finish_calibration":
        monkeypatch.setattr(ActivationQuantizer, "finish_calibration", fail)
    else:
        real, count = quant_convert.parametrize.register_parametrization, []

        def third_fails(*args, **kwargs):
            count.append(1)
            if len(count) == 3:
                raise Injected("injected")
            return real(*args, **kwargs)

        monkeypatch.setattr(quant_convert.parametrize, "register_parametrization", third_fails)
    with pytest.raises(Injected):
        quantize(model, parse_spec("W4A8", gptq=True), calibration=x, inplace=inplace)
    assert_unchanged(model, opt, saved)
    assert structure(model) == before and not quantizer_modules(model)
    with torch.no_grad():
        assert torch.equal(model(x), y)
    monkeypatch.undo()
    assert quantizer_modules(quantize(model, parse_spec("W4A8", gptq=True), calibration=x, inplace=inplace))


def test_quantize_inplace_converts_the_given_model():
    model, opt, x = hqkan_pipeline()
    weight = model[0].weight
    out = quantize(model, parse_spec("W4A8", gptq=True), calibration=x, inplace=True)
    assert out is model and "0.weight" in quantizer_modules(model)
    assert model[0].parametrizations.weight.original is weight  # the optimizer's parameter, now quantised


@pytest.mark.parametrize(
    "calibration,error,words",
    [
        (None, ValueError, ["W4A8", "calibration", "got none"]),
        (torch.empty(0, 12), ValueError, ["calibration", "1 batch(es) of 0 samples"]),
        ([torch.empty(0, 12), torch.empty(0, 12)], ValueError, ["2 batch(es) of 0 samples"]),
        (torch.tensor(1.0), ValueError, ["calibration", "0-d"]),
        (5, TypeError, ["calibration", "int"]),
        (["text"], TypeError, ["calibration", "str"]),
    ],
    ids=["none", "empty tensor", "empty batches", "0-d", "int", "strings"],
)
def test_quantize_refuses_bad_calibration(calibration, error, words):
    model, opt, _ = hqkan_pipeline()
    saved = snapshot(model, opt)
    with pytest.raises(error) as info:
        quantize(model, parse_spec("W4A8"), calibration=calibration, inplace=True)
    for word in words:
        assert word in str(info.value), (word, str(info.value))
    assert_unchanged(model, opt, saved)


def test_plot_refuses_a_meta_model(tmp_path):
    model = QKAN([2, 2], reps=1, device="meta")
    for plot in (lambda: model.plot(str(tmp_path / "m.png")), lambda: model.layers[0].plot(str(tmp_path / "l.png"))):
        with pytest.raises(ValueError, match=r"plot: .*meta device \(.*theta"):
            plot()
    assert not list(tmp_path.iterdir())


def test_quantize_refuses_a_meta_model_and_a_non_module():
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(4, 4), HQKAN(4, e=2, solver="exact"))
    with pytest.raises(ValueError, match=r"quantize: .*meta device \(0.weight, 0.bias, 1.down.weight, ...\)"):
        quantize(model, parse_spec("W8AF"))
    with pytest.raises(TypeError, match="model must be an nn.Module, got dict"):
        quantize({}, parse_spec("W8AF"))


# ----- load_state_dict ------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["model", "layer"])
@pytest.mark.parametrize("assign", [False, True])
@pytest.mark.parametrize("bad", ["wrong shape", "missing", "unexpected"])
def test_refused_load_state_dict_changes_nothing(target, assign, bad):
    torch.manual_seed(0)
    model, opt = stepped(QKAN([2, 3, 1], reps=1, seed=0), 2)
    module = model if target == "model" else model.layers[1]
    state = {k: v + 1.0 for k, v in module.state_dict().items()}  # every entry loadable but the last
    last = list(state)[-1]
    if bad == "wrong shape":
        state[last] = torch.zeros(7)
    elif bad == "missing":
        del state[last]
    else:
        state["stray"] = torch.zeros(1)
    saved, before = snapshot(model, opt), structure(model)
    with pytest.raises(RuntimeError, match="Error"):
        module.load_state_dict(state, assign=assign)
    assert_unchanged(model, opt, saved)
    assert structure(model) == before
    # torch's own load would have copied the entries that fit before raising
    with pytest.raises(RuntimeError):
        nn.Module.load_state_dict(module, state, assign=assign)
    assert not torch.equal(module.state_dict()[list(state)[0]], saved[0][_prefixed(target, list(state)[0])])


def _prefixed(target: str, key: str) -> str:
    return key if target == "model" else f"layers.1.{key}"


def test_good_load_state_dict_still_loads():
    a, b = QKAN([2, 3, 1], reps=1, seed=0), QKAN([2, 3, 1], reps=1, seed=1)
    a.load_state_dict(b.state_dict())
    assert all(torch.equal(v, b.state_dict()[k]) for k, v in a.state_dict().items())
    assert a.load_state_dict({**b.state_dict(), "stray": torch.zeros(1)}, strict=False).unexpected_keys == ["stray"]


# ----- prune and refine -----------------------------------------------------------------------------


def test_prune_failing_half_way_changes_nothing(monkeypatch):
    torch.manual_seed(0)
    model, opt = stepped(QKAN([2, 3, 2], reps=1, seed=0), 2)
    x = torch.rand(16, 2)
    model.edge_scores(x)  # activations saved by an earlier call
    acts, edge_acts = model.acts, model.edge_acts
    saved = snapshot(model, opt)
    monkeypatch.setattr(type(model.layers[1]), "edge_values", fail)  # the second layer's scores fail
    for call in (lambda: model.prune_edge(0.5, x), lambda: model.prune_node(0.5, x=x), lambda: model.prune(x=x)):
        with pytest.raises(Injected):
            call()
        assert_unchanged(model, opt, saved)
        assert model.acts is acts and model.edge_acts is edge_acts and model.save_act is False


@pytest.mark.parametrize("threshold", [float("nan"), "0.1", True, None])
def test_prune_refuses_a_bad_threshold(threshold):
    model, opt = stepped(QKAN([2, 3, 2], reps=1, seed=0), 2)
    saved = snapshot(model, opt)
    for call, name in (
        (lambda: model.prune_edge(threshold, torch.rand(4, 2)), "threshold"),
        (lambda: model.prune_node(threshold, x=torch.rand(4, 2)), "threshold"),
        (lambda: model.prune(0.01, threshold, torch.rand(4, 2)), "edge_th"),
    ):
        with pytest.raises(ValueError, match=f"{name} must be a finite number, got {threshold!r}"):
            call()
    assert_unchanged(model, opt, saved)


def test_refine_failing_half_way_changes_nothing(monkeypatch):
    model, opt = stepped(QKAN([2, 3, 2], reps=1, seed=0), 2)
    saved, before = snapshot(model, opt), structure(model)
    calls = []
    real = QKANLayer.refine

    def second_fails(self, new_reps):
        calls.append(1)
        if len(calls) == 2:
            raise Injected("injected")
        return real(self, new_reps)

    monkeypatch.setattr(QKANLayer, "refine", second_fails)
    with pytest.raises(Injected):
        model.refine(3)
    assert_unchanged(model, opt, saved)
    assert structure(model) == before and model.layers[0].reps == 1


# ----- registries -----------------------------------------------------------------------------------


def test_refused_register_gate_leaves_the_registry():
    gates = dict(GATES)
    with pytest.raises(ValueError, match="alias 'h'"):
        register_gate(GateSpec("tx_gate", 1, generator="x"), aliases=("tx_alias", "h"))
    assert GATES == gates
    from qkan.circuits.gates import ALIASES

    assert "tx_alias" not in ALIASES


# ----- other refusals -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make,error,words",
    [
        (lambda: explain(builtin("pz", 2), LayerGeometry(4, 4), torch.float32, "cpu", -1), ValueError, ["batch", "-1"]),
        (lambda: LayerGeometry(-3, 4), ValueError, ["in_dim", "-3"]),
        (lambda: LayerGeometry(3, 0), ValueError, ["out_dim", "0"]),
        (lambda: LayerGeometry(3, 2, groups=-1), ValueError, ["groups", "-1"]),
        (lambda: explain(builtin("pz", 2), (4, 4), torch.float32, "cpu", 8), TypeError, ["geometry", "tuple"]),
        (lambda: explain("pz", LayerGeometry(4, 4), torch.float32, "cpu", 8), TypeError, ["circuit", "str"]),
    ],
    ids=["negative batch", "negative in_dim", "zero out_dim", "negative groups", "tuple geometry", "name circuit"],
)
def test_explain_refuses(make, error, words):
    with pytest.raises(error) as info:
        make()
    for word in words:
        assert word in str(info.value), (word, str(info.value))


def test_explain_of_an_empty_batch():
    assert "chosen:" in explain(builtin("pz", 2), LayerGeometry(4, 4), torch.float32, "cpu", 0)


def test_gpt_refuses_token_ids_outside_the_vocabulary():
    model = GPT(11, 6, n_head=2, n_embd=8)
    for ids, words in (([[1, 11]], "got 11"), ([[-1, 2]], "got -1")):
        with pytest.raises(ValueError, match=rf"idx: token ids must be in \[0, vocab_size=11\).*{words}"):
            model(torch.tensor(ids))
    with pytest.raises(ValueError, match=r"targets: .*or -100 \(ignored\), got 12"):
        model(torch.tensor([[1, 2]]), torch.tensor([[1, 12]]))
    _, loss = model(torch.tensor([[1, 2]]), torch.tensor([[1, -100]]))  # torch's ignore index is allowed
    assert torch.isfinite(loss)
    set_validation("off")
    try:  # unchecked, torch's own embedding error
        with pytest.raises(IndexError):
            model(torch.tensor([[1, 11]]))
    finally:
        set_validation("auto")
