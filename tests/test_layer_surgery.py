"""Changes to a trained layer or model that must keep it working: refine (function-preserving or refused with
nothing changed), state_dict round trips, and pruning that keeps every setting."""

import io

import pytest
import torch
from layer_inputs import F64, randomize_parameters, uniform_inputs

from qkan import QKAN, QKANLayer
from qkan.circuits import BUILTINS, Circuit, data, theta
from qkan.refine import REFUSALS


# ----- refine --------------------------------------------------------------------------------
@pytest.mark.parametrize("readout", [True, False], ids=["amp", "z"])
@pytest.mark.parametrize("group", [-1, 2])
@pytest.mark.parametrize("name", ["pz", "rpz"])
def test_refine_is_function_preserving_for_pz_and_rpz(name, group, readout):
    # float64 so the comparison sees the math, not float32 rounding of a longer gate sequence
    model = QKAN(
        [4, 3, 2],
        reps=2,
        ansatz=name,
        group=group,
        preact_trainable=True,
        ba_trainable=True,
        postact_bias_trainable=True,
        fast_measure=readout,
        seed=0,
        dtype=F64,
    )
    randomize_parameters(model, 3)
    x = uniform_inputs(16, 4)
    refined = model.refine(5)
    assert refined.reps == 5 and all(layer.reps == 5 for layer in refined.layers)
    assert refined.layers[0].theta.shape[-2] == 6
    assert refined.layers[0].readout == model.layers[0].readout and refined.layers[0].group == group
    torch.testing.assert_close(refined(x), model(x), atol=1e-12, rtol=0)


@pytest.mark.parametrize("name", ["pz", "rpz"])
def test_refine_of_a_default_float32_layer_is_within_1e6(name):
    layer = QKANLayer(5, 4, reps=3, ansatz=name, seed=0)
    x = uniform_inputs(64, 5).float()
    torch.testing.assert_close(layer.refine(6)(x), layer(x), atol=1e-6, rtol=0)


@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_refine_of_every_builtin_keeps_the_function_or_refuses_and_changes_nothing(name):
    model = QKAN([2, 2], reps=2, ansatz=name, preact_trainable=True, seed=0, dtype=F64)
    randomize_parameters(model, 3)
    x = uniform_inputs(8, 2)
    before, state = model(x), {k: v.clone() for k, v in model.state_dict().items()}
    if name in REFUSALS:
        with pytest.raises(ValueError, match=rf"ansatz='{name}'.*(RX|RY)\("):
            model.refine(3)
        assert model.reps == 2 and all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
        torch.testing.assert_close(model(x), before, atol=0, rtol=0)
    else:
        torch.testing.assert_close(model.refine(3)(x), before, atol=1e-6, rtol=0)


# ----- state_dict round trips ----------------------------------------------------------------
@pytest.mark.parametrize(
    "kwargs",
    [
        dict(ansatz="pz"),
        dict(ansatz="rpz", group=2),
        dict(ansatz="px", preact_trainable=True),
        dict(ansatz="mix", fast_measure=False),
        dict(ansatz="real"),
        dict(ansatz=Circuit(2).h(0).ry(1, theta(0)).rz(0, data(0)).cnot(0, 1).measure("z", 1)),
    ],
)
def test_state_dict_round_trip(kwargs):
    width = [4, 2] if kwargs["ansatz"] == "px" else [4, 3, 2]  # px needs hidden values inside [-1, 1]
    source = QKAN(width, reps=None, seed=0, dtype=F64, ba_trainable=True, **kwargs)
    randomize_parameters(source, 5)
    with torch.no_grad():
        source.layers[0].mask[0, 1] = 0
    buffer = io.BytesIO()
    torch.save(source.state_dict(), buffer)
    buffer.seek(0)
    target = QKAN(width, reps=None, seed=1, dtype=F64, ba_trainable=True, **kwargs)
    x = uniform_inputs(7, 4)
    assert not torch.allclose(target(x), source(x))
    target.load_state_dict(torch.load(buffer), strict=True)
    assert torch.equal(target(x), source(x))
    assert source.state_dict().keys() == target.state_dict().keys()
    layer = QKANLayer(4, width[1], seed=2, dtype=F64, **kwargs)
    layer.load_state_dict(source.layers[0].state_dict(), strict=True)
    assert torch.equal(layer(x), source.layers[0](x))


# ----- pruning keeps every setting -----------------------------------------------------------
def _settings(layer: QKANLayer) -> tuple:
    return (
        layer.group,
        layer.readout,
        layer.theta.dtype,
        layer.solver,
        layer.circuit,
        layer.reps,
        layer.preact_trainable,
        layer.postact_bias_trainable,
        layer.base_activation,
    )


def _model_with_dead_hidden_node(group: int) -> QKAN:
    """A [3, 4, 2] model whose hidden node 1 gets nothing in and gives nothing out."""
    model = QKAN(
        [3, 4, 2],
        reps=2,
        ansatz="mix",
        group=group,
        fast_measure=False,
        preact_trainable=True,
        postact_bias_trainable=True,
        ba_trainable=True,
        seed=0,
        dtype=F64,
    )
    randomize_parameters(model, 7)
    with torch.no_grad():
        model.layers[0].postact_weights[1].zero_()
        model.layers[0].base_weight[1].zero_()
        model.layers[1].postact_weights[:, 1].zero_()
        model.layers[1].base_weight[:, 1].zero_()
    return model


def test_prune_node_removes_the_dead_node_and_keeps_settings():
    model = _model_with_dead_hidden_node(group=-1)
    x = uniform_inputs(32, 3)
    pruned = model.prune_node(1e-2, x=x)
    assert pruned.width == [3, 3, 2]
    for old, new in zip(model.layers, pruned.layers):
        assert _settings(new) == _settings(old)
    torch.testing.assert_close(pruned.layers[0].theta, model.layers[0].theta[[0, 2, 3]], atol=0, rtol=0)
    torch.testing.assert_close(pruned.layers[1].theta, model.layers[1].theta[:, [0, 2, 3]], atol=0, rtol=0)
    # the dead node's outgoing edges had zero weights, so the function is unchanged
    torch.testing.assert_close(pruned(x), model(x), atol=1e-12, rtol=0)


def test_prune_node_of_grouped_model_keeps_group_when_positions_allow():
    model = QKAN([3, 4, 2], reps=2, group=2, ansatz="pz", fast_measure=False, seed=0, dtype=F64)
    with torch.no_grad():  # hidden nodes 2 and 3 dead: kept inputs 0, 1 keep their positions mod 2
        for node in (2, 3):
            model.layers[0].postact_weights[node].zero_()
            model.layers[1].postact_weights[:, node].zero_()
    pruned = model.prune_node(1e-2, x=uniform_inputs(32, 3))
    assert pruned.width == [3, 2, 2]
    assert all(_settings(new) == _settings(old) for old, new in zip(model.layers, pruned.layers))
    assert pruned.layers[1].theta.shape == model.layers[1].theta.shape


@pytest.mark.parametrize("group", [-1, 2])
def test_prune_edge_masks_quiet_edges_and_keeps_settings(group):
    model = _model_with_dead_hidden_node(group)
    before = [_settings(layer) for layer in model.layers]
    x = uniform_inputs(32, 3)
    y = model(x)
    pruned = model.prune_edge(3e-2, x=x)
    assert [_settings(layer) for layer in pruned.layers] == before
    assert torch.all(pruned.layers[0].mask[1] == 0) and torch.all(pruned.layers[1].mask[:, 1] == 0)
    assert pruned.layers[0].mask.sum() > 0
    torch.testing.assert_close(pruned(x), y, atol=1e-12, rtol=0)  # only zero-contribution edges went
