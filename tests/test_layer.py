"""QKANLayer and QKAN facts of issue 2: bad input, settings, autocast, published defaults and edge_values
(refine, state_dict round trips and pruning: test_layer_surgery.py)."""

import dataclasses
import inspect

import pytest
import torch
from layer_inputs import F64, randomize_parameters, uniform_inputs

from qkan import QKAN, LayerSettings, QKANLayer
from qkan.circuits import BUILTINS, Circuit, data


# ----- bad input -----------------------------------------------------------------------------
@pytest.fixture
def layer():
    return QKANLayer(3, 2, reps=2, seed=0)


@pytest.mark.parametrize(
    "x, error, message",
    [
        (torch.rand(3), ValueError, r"QKANLayer\(3->2\): expected input of shape \(batch, 3\), got \(3,\)"),
        (torch.rand(2, 3, 3), ValueError, r"expected input of shape \(batch, 3\), got \(2, 3, 3\)"),
        (torch.rand(4, 2), ValueError, r"expected input of shape \(batch, 3\), got \(4, 2\)"),
        (torch.ones(4, 3, dtype=torch.int64), TypeError, r"expected a floating-point input, got torch.int64"),
        (
            torch.rand(4, 3, dtype=F64),
            TypeError,
            r"input is torch.float64 but the layer's parameters are torch.float32",
        ),
        (torch.rand(4, 3, device="meta"), ValueError, r"input is on meta but the layer is on cpu"),
        (torch.tensor([[0.1, float("nan"), 0.2]]), ValueError, r"QKANLayer\(3->2\): input contains NaN or inf"),
        (torch.tensor([[0.1, 0.2, float("inf")]]), ValueError, r"QKANLayer\(3->2\): input contains NaN or inf"),
        ([[0.1, 0.2, 0.3]], TypeError, r"expected a torch.Tensor, got list"),
    ],
)
def test_bad_input_raises_naming_the_layer(layer, x, error, message):
    for method in (layer, layer.edge_values):
        with pytest.raises(error, match=message):
            method(x)


def test_model_names_the_failing_layer_and_checks_rank():
    model = QKAN([2, 3, 1], seed=0)
    with pytest.raises(ValueError, match=r"QKANLayer\(2->3\): input contains NaN or inf"):
        model(torch.tensor([[float("nan"), 0.0]]))
    with pytest.raises(ValueError, match=r"QKAN expects input of shape \(batch, 2\) or \(batch, C, 2\), got \(2,\)"):
        model(torch.rand(2))


@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: QKANLayer(2, 2, solver="nope"), ValueError, r"unknown solver 'nope'; expected one of \[.*'exact'"),
        (lambda: QKANLayer(2, 2, ansatz="nope"), ValueError, r"unknown ansatz 'nope'; expected a Circuit or one of"),
        (lambda: QKANLayer(2, 2, ansatz=3), TypeError, r"ansatz must be a built-in name or a qkan.circuits.Circuit"),
        (lambda: QKANLayer(2, 2, ansatz=Circuit(1).rz(0, data(0))), ValueError, r"has no readout"),
        (
            lambda: QKANLayer(2, 2, ansatz=Circuit(1).rz(0, data(1)).measure(), reps=3),
            ValueError,
            r"reps=3 does not match the circuit, which has 2 re-uploads",
        ),
        (lambda: QKANLayer(2, 2, reps=0), ValueError, r"reps must be a positive integer, got 0"),
        (lambda: QKANLayer(0, 2), ValueError, r"in_dim must be a positive integer, got 0"),
        (lambda: QKANLayer(2, 2, group=0), ValueError, r"group must be -1 .* or a positive integer, got 0"),
        (lambda: QKANLayer(2, 2, dtype=torch.int32), TypeError, r"dtype must be a floating dtype, got torch.int32"),
        (lambda: QKANLayer(2, 2, foo=1), TypeError, r"unexpected keyword argument 'foo'"),
        (lambda: QKAN([2]), ValueError, r"width must list at least two positive layer sizes"),
    ],
)
def test_bad_construction_raises_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_unknown_solver_kwargs_raise_type_error():
    with pytest.raises(TypeError, match="bogus"):
        QKANLayer(2, 2, solver_kwargs={"bogus": 1})


def test_non_bool_fast_measure_is_refused():
    with pytest.raises(TypeError, match="fast_measure must be True, False or None"):
        QKANLayer(2, 2, fast_measure="z")


def test_arccos_data_out_of_domain_raises():
    layer = QKANLayer(2, 1, ansatz="px", preact_trainable=True, seed=0)
    layer(torch.tensor([[1.0, -1.0]]))  # the domain's edges are allowed
    with pytest.raises(
        ValueError,
        match=r"needs preacts_weight\*x \+ preacts_bias in \[-1, 1\]; got values in "
        r"\[-1\.5, 1\.5\]",
    ):
        layer(torch.tensor([[1.5, -1.5]]))
    with torch.no_grad():
        layer.preacts_bias.fill_(0.5)  # the affine map itself can leave the domain too
    with pytest.raises(ValueError, match="arccos-encoded data"):
        layer(torch.tensor([[0.9, 0.0]]))


# ----- settings: one LayerSettings, checked once --------------------------------------------
def _signature(cls, skip: int) -> list[tuple]:
    params = list(inspect.signature(cls).parameters.values())[skip:]
    return [(p.name, p.default) for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]


def test_signatures_take_their_defaults_from_layer_settings():
    fields = [(f.name, f.default) for f in dataclasses.fields(LayerSettings) if f.init]
    assert _signature(QKANLayer, 2) == fields
    model = [(name, default) for name, default in _signature(QKAN, 1) if name not in ("save_act", "norm_out")]
    assert model == [(name, False if name == "ba_trainable" else default) for name, default in fields]


def test_positional_arguments_keep_the_published_order():
    layer = QKANLayer(3, 2, 2, 1, "exact", "rpz", True, False, True, "tanh", False, False, 7, "cpu", F64, None, True)
    assert (
        layer.reps,
        layer.group,
        layer.circuit.name,
        layer.preact_trainable,
        layer.postact_weight_trainable,
        layer.postact_bias_trainable,
        layer.base_activation,
        layer.ba_trainable,
        layer.readout,
        layer.seed,
        layer.theta.dtype,
        layer.preact_init,
    ) == (2, 1, "rpz", True, False, True, "tanh", False, "z", 7, F64, True)
    model = QKAN([3, 2, 1], 2, 1, "exact", "rpz", True, False, True, "tanh", True, False, True, 2, 7)
    assert model.save_act and model.norm_out == 2 and model.seed == 7
    assert [(l.seed, l.ba_trainable, l.readout) for l in model.layers] == [(7, True, "z"), (8, True, "z")]


@pytest.mark.parametrize(
    "changes, error, message",
    [
        (dict(reps=True), ValueError, r"reps must be a positive integer, got True"),
        (dict(group=2.0), ValueError, r"group must be -1 \(one circuit per edge\) or a positive integer, got 2.0"),
        (dict(preact_trainable=1), TypeError, r"preact_trainable must be True or False, got 1"),
        (dict(ba_trainable="yes"), TypeError, r"ba_trainable must be True or False, got 'yes'"),
        (dict(preact_init=None), TypeError, r"preact_init must be True or False, got None"),
        (dict(seed=1.5), TypeError, r"seed must be an integer or None, got 1.5"),
        (dict(device="gpu0"), ValueError, r"device must name a torch device, got 'gpu0'"),
        (dict(dtype="float32"), TypeError, r"dtype must be a floating dtype, got float32"),
        (dict(solver_kwargs=[("checkpoint", True)]), TypeError, r"solver_kwargs must be a dict or None, got list"),
        (dict(solver_kwargs={"fourier": True}), TypeError, r"solver 'exact' got unknown option\(s\) \['fourier'\]"),
        (dict(solver="nope"), ValueError, r"unknown solver 'nope'"),
        (dict(base_activation="swish"), ValueError, r"unknown base activation 'swish'"),
        (dict(fast_measure=1), TypeError, r"fast_measure must be True, False or None, got 1"),
    ],
)
def test_settings_are_checked_once_for_layer_and_model(changes, error, message):
    for build in (
        lambda: LayerSettings(**changes),
        lambda: QKANLayer(2, 2, **changes),
        lambda: QKAN([2, 2], **changes),
    ):
        with pytest.raises(error, match=message):
            build()


def test_settings_rebuild_an_equal_layer():
    layer = QKANLayer(
        3,
        2,
        reps=2,
        ansatz="mix",
        group=2,
        preact_trainable=True,
        base_activation=torch.nn.Tanh(),
        fast_measure=False,
        seed=4,
        dtype=F64,
        solver_kwargs={"checkpoint": True},
    )
    settings = layer.settings()
    assert settings.base_activation == "tanh" and settings.dtype == F64 and settings.device == torch.device("cpu")
    twin = QKANLayer.from_settings(3, 2, settings)
    assert twin.settings() == settings and twin.solver_kwargs == {"checkpoint": True}
    twin.load_state_dict(layer.state_dict())
    x = uniform_inputs(5, 3)
    assert torch.equal(twin(x), layer(x))
    with pytest.raises(TypeError, match=r"settings must be a qkan.LayerSettings, got dict"):
        QKANLayer.from_settings(3, 2, {"reps": 2})


def test_settings_attributes_are_read_only():
    layer = QKANLayer(2, 2, seed=0)
    with pytest.raises(AttributeError, match=r"group is fixed when the layer is built"):
        layer.group = 2
    layer.solver_kwargs["checkpoint"] = True  # a copy: the layer's options do not change
    assert layer.group == -1 and layer.solver_kwargs == {}


def test_solver_assignment_is_checked_at_once_and_a_refusal_changes_nothing():
    layer = QKANLayer(2, 2, solver_kwargs={"checkpoint": True}, seed=0)
    x = torch.rand(3, 2)
    y = layer(x)
    with pytest.raises(ValueError, match=r"unknown solver 'nope'"):
        layer.solver = "nope"
    with pytest.raises(TypeError, match=r"solver 'cutn' got unknown option\(s\) \['checkpoint'\]"):
        layer.solver = "cutn"
    assert layer.solver == "exact" and layer.settings().solver == "exact"
    torch.testing.assert_close(layer(x), y, atol=0, rtol=0)
    layer.solver = "auto"
    assert layer.settings().solver == "auto"


def test_model_solver_assignment_changes_every_layer_or_none():
    model = QKAN.from_layers([QKANLayer(2, 3, seed=0), QKANLayer(3, 1, solver_kwargs={"checkpoint": True}, seed=1)])
    with pytest.raises(TypeError, match=r"\['checkpoint'\]"):
        model.solver = "cutn"
    assert [layer.solver for layer in model.layers] == ["exact", "exact"]
    model.solver = "auto"
    assert model.solver == "auto" and model.layers[1].solver == "auto"


def test_model_checks_its_own_options():
    with pytest.raises(TypeError, match=r"save_act must be True or False, got 1"):
        QKAN([2, 2], save_act=1)
    with pytest.raises(ValueError, match=r"norm_out must be 0 \(off\) or the positive norm order p, got -1"):
        QKAN([2, 2], norm_out=-1)


# ----- autocast ------------------------------------------------------------------------------
@pytest.mark.parametrize("amp", [torch.bfloat16, torch.float16])
def test_autocast_accepts_any_float_input_and_returns_the_autocast_dtype(amp):
    layer = QKANLayer(3, 2, seed=0)
    x = torch.rand(4, 3)
    with torch.autocast("cpu", dtype=amp):
        for inputs in (x, x.to(amp), x.double()):
            for method in (layer, layer.edge_values, layer.circuit_values):
                assert method(inputs).dtype == amp
    with pytest.raises(TypeError, match=r"input is torch.bfloat16 but the layer's parameters are torch.float32"):
        layer(x.to(torch.bfloat16))  # outside autocast the mismatch is still an error


# ----- published defaults --------------------------------------------------------------------
@pytest.mark.parametrize("name, k", [("pz", 2), ("rpz", 1), ("px", 1), ("mix", 2)])
@pytest.mark.parametrize("group", [-1, 2])
def test_parameter_shapes_and_init(name, k, group):
    layer = QKANLayer(3, 4, reps=2, ansatz=name, group=group, seed=0)
    edges = (4, 3) if group == -1 else (2,)
    assert layer.theta.shape == (*edges, 3, k)
    assert layer.preacts_weight.shape == layer.preacts_bias.shape == (*edges, 2)
    for tensor, value in (
        (layer.preacts_weight, 1.0),
        (layer.preacts_bias, 0.0),
        (layer.base_weight, 0.5),
        (layer.postact_weights, 1.0),
        (layer.postact_bias, 0.0),
        (layer.mask, 1.0),
    ):
        assert torch.all(tensor == value)
    assert layer.preacts_bias.requires_grad == (name == "rpz")
    assert not layer.preacts_weight.requires_grad and not layer.mask.requires_grad
    assert layer.theta.std() > 0.1  # xavier normal, not zeros


def test_real_theta_shape_and_model_defaults():
    assert QKANLayer(3, 4, reps=2, ansatz="real").theta.shape == (4, 3, 2, 1)
    model = QKAN([3, 4, 2], seed=0)
    assert model.reps == 3 and model.layers[0].readout == "amp"
    assert all(torch.all(layer.base_weight == 0) and not layer.base_weight.requires_grad for layer in model.layers)


def test_seed_reproduces_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b = QKANLayer(3, 2, seed=4), QKANLayer(3, 2, seed=4)
    assert torch.equal(torch.random.get_rng_state(), state)
    assert torch.equal(a.theta, b.theta) and not torch.equal(a.theta, QKANLayer(3, 2, seed=5).theta)


# ----- edge values ---------------------------------------------------------------------------
@pytest.mark.parametrize("group", [-1, 2])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_edge_values_sum_to_forward(name, group):
    layer = QKANLayer(
        4,
        3,
        reps=2,
        ansatz=name,
        group=group,
        preact_trainable=True,
        postact_weight_trainable=True,
        postact_bias_trainable=True,
        seed=1,
        dtype=F64,
    )
    randomize_parameters(layer, 2)
    with torch.no_grad():
        layer.mask[1, 2] = 0
    x = uniform_inputs(6, 4)
    edges = layer.edge_values(x)
    assert edges.shape == (6, 3, 4)
    assert torch.all(edges[:, 1, 2] == 0)
    torch.testing.assert_close(edges.sum(-1), layer(x), atol=1e-12, rtol=0)


def test_forward_follows_parametrizations_and_functional_call():
    """The layer reads its tensors from the parameter dict when all seven are there; a parametrized one
    (moved out of it) and functional_call's substitutes are what forward uses all the same."""
    from torch.func import functional_call
    from torch.nn.utils import parametrize

    class Doubled(torch.nn.Module):
        def forward(self, t):
            return 2 * t

    layer, twin = QKANLayer(3, 2, seed=0, dtype=F64), QKANLayer(3, 2, seed=0, dtype=F64)
    x = uniform_inputs(5, 3)
    base = {"base_weight": torch.full((2, 3), 0.25, dtype=F64)}
    with torch.no_grad():
        twin.base_weight.fill_(0.25)
    torch.testing.assert_close(functional_call(layer, base, (x,)), twin(x), atol=0, rtol=0)
    parametrize.register_parametrization(layer, "theta", Doubled())
    with torch.no_grad():
        twin.theta.mul_(2)
        twin.base_weight.copy_(layer.base_weight)
    torch.testing.assert_close(layer(x), twin(x), atol=0, rtol=0)
    assert not torch.equal(layer(x), QKANLayer(3, 2, seed=0, dtype=F64)(x))


def test_forward_reads_a_subclass_s_swapped_tensor():
    """Seven registered parameters need not be the layer's seven: a subclass that turns the mask into a buffer
    and adds a parameter of its own still runs, with its buffer."""

    class Pruned(QKANLayer):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            mask = self.mask.detach().clone()
            mask[0] = 0
            del self.mask
            self.register_buffer("mask", mask)
            self.scale = torch.nn.Parameter(torch.ones(()))

    pruned, twin = Pruned(3, 2, seed=0, dtype=F64), QKANLayer(3, 2, seed=0, dtype=F64)
    assert len(pruned._parameters) == len(twin._parameters)
    with torch.no_grad():
        twin.mask[0] = 0
    x = uniform_inputs(5, 3)
    torch.testing.assert_close(pruned(x), twin(x), atol=0, rtol=0)


def test_model_accepts_three_dimensional_input_and_saves_activations():
    model = QKAN([3, 4, 2], seed=0, dtype=F64, save_act=True)
    x = uniform_inputs(10, 3).reshape(2, 5, 3)
    y = model(x)
    assert y.shape == (2, 5, 2)
    torch.testing.assert_close(y.reshape(10, 2), model(x.reshape(10, 3)), atol=0, rtol=0)
    assert [a.shape for a in model.edge_acts] == [(10, 4, 3), (10, 2, 4)]
    torch.testing.assert_close(model.edge_acts[-1].sum(-1), model.acts[-1], atol=1e-12, rtol=0)
