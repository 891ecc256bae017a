"""Issue 22 at the API boundary: each bad input to fit, create_dataset, to_qasm/angle_value, angle scales and
the baselines raises ValueError/TypeError naming the argument and its value, leaving the model and optimizer
as they were. Empty batches: test_empty_batch.py; the baselines' NaN behaviour: test_baselines.py."""

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn

from qkan import QKAN, create_dataset
from qkan.baselines import MLP, BSplineKAN, FastKAN, RationalKAN, SplineKAN
from qkan.circuits import GATES, Angle, Circuit, GateSpec, angle_value, builtin, data, register_gate, theta, to_qasm
from qkan.fit import FitDiverged, fit

NAN, INF = float("nan"), float("inf")


def product(x):
    return x[:, :1] * x[:, 1:]


def same_state(a, b) -> bool:
    """Deep equality of (optimizer or model) state dicts: tensors bitwise, NaN-safe."""
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_state(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(same_state(x, y) for x, y in zip(a, b))
    return a == b


def stepped(model, in_width):
    """``model`` and an Adam that has taken one step on it (so both hold state and gradients)."""
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    model(torch.rand(4, in_width)).square().sum().backward()
    opt.step()
    return model, opt


def snapshot(model, opt):
    """Copies of the model's state, its gradients and the optimizer's state."""
    grads = [None if p.grad is None else p.grad.clone() for p in model.parameters()]
    return copy.deepcopy(model.state_dict()), grads, copy.deepcopy(opt.state_dict())


def assert_unchanged(model, opt, saved):
    state, grads, opt_state = saved
    assert same_state(state, model.state_dict())
    assert all(same_state(g, p.grad) for g, p in zip(grads, model.parameters()))
    assert same_state(opt_state, opt.state_dict())


def assert_words(info, words):
    """The raised message contains every one of ``words``."""
    for word in words:
        assert word in str(info.value), (word, str(info.value))


@pytest.fixture
def dataset():
    return create_dataset(product, n_var=2, train_num=16, test_num=8, seed=0)


@pytest.fixture
def trained():
    """A QKAN, its stepped Adam and a snapshot of both."""
    torch.manual_seed(0)
    model, opt = stepped(QKAN([2, 2, 1], reps=1, seed=0), 2)
    return model, opt, snapshot(model, opt)


def entries(change):
    """A case that replaces dataset entries: ``change(dataset)`` gives the new ones."""
    return lambda d: {"dataset": {**d, **change(d)}}


def options(**kwargs):
    """A case that passes other arguments to fit."""
    return lambda d: kwargs


# (id, change, error, words the message must contain)
FIT_CASES = [
    (
        "short train labels",
        entries(lambda d: {"train_label": d["train_label"][:-1]}),
        ValueError,
        ["train_label", "15 rows", "16"],
    ),
    (
        "short test labels",
        entries(lambda d: {"test_label": d["test_label"][:3]}),
        ValueError,
        ["test_label", "3 rows", "8"],
    ),
    (
        "1-d labels would broadcast",
        entries(lambda d: {k: d[k][:, 0] for k in ("train_label", "test_label")}),
        ValueError,
        ["train_label", "(16,)", "(16, 1)"],
    ),
    (
        "test width differs",
        entries(lambda d: {"test_input": torch.rand(8, 3)}),
        ValueError,
        ["test_input", "(8, 3)", "(16, 2)"],
    ),
    (
        "model width differs",
        entries(lambda d: {"train_input": torch.rand(16, 3), "test_input": torch.rand(8, 3)}),
        ValueError,
        ["train_input", "(16, 3)", "(batch, ..., 2)"],
    ),
    (
        "integer inputs",
        entries(lambda d: {"train_input": d["train_input"].long()}),
        TypeError,
        ["train_input", "floating", "int64"],
    ),
    (
        "numpy inputs",
        entries(lambda d: {"test_input": d["test_input"].numpy()}),
        TypeError,
        ["test_input", "torch.Tensor", "ndarray"],
    ),
    (
        "dtype differs from model",
        entries(lambda d: {"train_input": d["train_input"].double()}),
        TypeError,
        ["train_input", "float64", "float32"],
    ),
    (
        "NaN labels",
        entries(lambda d: {"train_label": torch.full_like(d["train_label"], NAN)}),
        ValueError,
        ["train_label", "NaN"],
    ),
    (
        "empty train set",
        entries(lambda d: {k: d[k][:0] for k in ("train_input", "train_label")}),
        ValueError,
        ["train_input", "at least one row"],
    ),
    ("missing key", options(dataset={"train_input": torch.rand(16, 2)}), ValueError, ["missing", "test_label"]),
    ("not a dict", options(dataset=[torch.rand(16, 2)]), TypeError, ["dataset", "list"]),
    ("batch 0", options(batch=0), ValueError, ["batch", "got 0", "-1"]),
    ("batch -2", options(batch=-2), ValueError, ["batch", "got -2"]),
    ("batch float", options(batch=4.0), ValueError, ["batch", "got 4.0"]),
    ("batch bool", options(batch=True), ValueError, ["batch", "got True"]),
    ("steps 0", options(steps=0), ValueError, ["steps", "positive integer", "got 0"]),
    ("log -1", options(log=-1), ValueError, ["log", "got -1"]),
    ("lr 0", options(lr=0.0), ValueError, ["lr", "positive and finite", "0.0"]),
    ("lr nan", options(lr=NAN), ValueError, ["lr", "nan"]),
    ("lr inf", options(lr=INF), ValueError, ["lr", "inf"]),
    ("lr string", options(lr="0.1"), TypeError, ["lr", "str"]),
    ("unknown optimizer", options(optimizer="sgd-ish"), ValueError, ["unknown optimizer", "'sgd-ish'", "adam"]),
    (
        "foreign optimizer",
        options(optimizer=torch.optim.Adam([nn.Parameter(torch.zeros(2))])),
        ValueError,
        ["optimizer", "1 tensor", "not parameters"],
    ),
    ("seed -1", options(seed=-1), ValueError, ["seed", "got -1"]),
    ("verbose 1", options(verbose=1), TypeError, ["verbose", "got 1"]),
    ("loss_fn not callable", options(loss_fn="mse"), TypeError, ["loss_fn", "'mse'"]),
]


@pytest.mark.parametrize("change,error,words", [c[1:] for c in FIT_CASES], ids=[c[0] for c in FIT_CASES])
def test_fit_refuses_and_changes_nothing(dataset, trained, change, error, words):
    model, opt, saved = trained
    kwargs = {"dataset": dataset, "optimizer": opt, "steps": 3, "verbose": False}
    kwargs.update(change(dataset))
    with pytest.raises(error) as info:
        fit(model, **kwargs)
    assert_words(info, words)
    assert_unchanged(model, opt, saved)


def test_fit_accepts_numpy_integers(dataset):
    model = QKAN([2, 1], reps=1, seed=0)
    history = fit(
        model,
        dataset,
        steps=np.int64(2),
        batch=np.int32(4),
        log=np.int64(1),
        seed=np.int64(1),
        lr=np.float64(0.01),
        verbose=False,
    )
    assert len(history["train_loss"]) == 2


def test_fit_restores_state_when_a_step_fails(dataset, trained):
    """An error in the third step (after two optimizer updates) puts model and optimizer back."""
    model, opt, saved = trained
    calls = []

    def failing_loss(output, label):
        calls.append(1)
        if len(calls) == 5:  # steps 1 and 2 call it twice (train, test): this is step 3's train loss
            raise RuntimeError("loss exploded")
        return torch.nn.functional.mse_loss(output, label)

    with pytest.raises(RuntimeError, match="loss exploded"):
        fit(model, dataset, optimizer=opt, steps=5, loss_fn=failing_loss, verbose=False)
    assert len(calls) == 5
    assert_unchanged(model, opt, saved)


def test_fit_nan_loss_raises_with_history_and_restores(dataset, trained):
    model, opt, saved = trained
    losses = iter([1.0, 1.0, 2.0, 2.0, NAN])

    def loss_fn(output, label):
        return (output - label).square().mean() * 0 + next(losses)

    with pytest.raises(FitDiverged, match="train loss became nan at step 3") as info:
        fit(model, dataset, optimizer=opt, steps=4, loss_fn=loss_fn, verbose=False)
    assert isinstance(info.value, ValueError) and info.value.step == 3
    assert info.value.history == {"train_loss": [1.0, 2.0], "test_loss": [1.0, 2.0]}
    assert_unchanged(model, opt, saved)


def test_fit_failed_first_forward_changes_nothing(dataset):
    """A model without declared widths: the forward fails inside the first step; nothing moves."""
    torch.manual_seed(0)
    model, opt = stepped(nn.Sequential(nn.Linear(3, 1)), 3)
    saved = snapshot(model, opt)
    with pytest.raises(RuntimeError):
        fit(model, dataset, optimizer=opt, steps=2, verbose=False)
    assert_unchanged(model, opt, saved)


def test_fit_default_loss_refuses_output_label_mismatch(dataset):
    model = nn.Sequential(nn.Linear(2, 3))
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=r"output has shape \(16, 3\) but its labels have shape \(16, 1\)"):
        fit(model, dataset, steps=2, verbose=False)
    assert same_state(before, model.state_dict())


# ----- create_dataset -----------------------------------------------------------------------------

DATASET_CASES = [
    ("f not callable", {"f": 3}, TypeError, ["f", "callable", "int"]),
    ("n_var 0", {"n_var": 0}, ValueError, ["n_var", "got 0"]),
    ("n_var bool", {"n_var": True}, ValueError, ["n_var", "got True"]),
    ("train_num 0", {"train_num": 0}, ValueError, ["train_num", "got 0"]),
    ("test_num -3", {"test_num": -3}, ValueError, ["test_num", "got -3"]),
    ("test_num float", {"test_num": 2.5}, ValueError, ["test_num", "2.5"]),
    ("seed negative", {"seed": -1}, ValueError, ["seed", "got -1"]),
    ("dtype int", {"dtype": torch.int64}, TypeError, ["dtype", "floating", "int64"]),
    ("device unknown", {"device": "nope"}, ValueError, ["device", "'nope'"]),
    ("ranges reversed", {"ranges": (1, 0)}, ValueError, ["ranges", "lo < hi", "(1, 0)"]),
    ("ranges infinite", {"ranges": (0, INF)}, ValueError, ["ranges", "finite", "inf"]),
    ("ranges nan", {"ranges": [(0, 1), (NAN, 1)]}, ValueError, ["ranges", "nan"]),
    ("ranges text", {"ranges": "x"}, ValueError, ["ranges", "'x'"]),
    ("ranges count", {"ranges": [(0, 1)] * 3}, ValueError, ["ranges", "2 such pairs"]),
    ("f returns NaN", {"f": lambda x: torch.log(x[:, :1])}, ValueError, ["f returned", "nan", "at x="]),
    ("f returns a scalar", {"f": lambda x: x.sum()}, ValueError, ["one row per sample", "()"]),
    ("f returns rows of another length", {"f": lambda x: x[:3]}, ValueError, ["one row per sample", "(3, 2)"]),
    ("f returns numpy", {"f": lambda x: x.numpy()}, TypeError, ["torch.Tensor", "ndarray"]),
    ("f returns complex", {"f": lambda x: x.to(torch.complex128)}, TypeError, ["real", "complex128"]),
]


@pytest.mark.parametrize("kwargs,error,words", [c[1:] for c in DATASET_CASES], ids=[c[0] for c in DATASET_CASES])
def test_create_dataset_refuses(kwargs, error, words):
    args = {"f": product, "n_var": 2, "train_num": 8, "test_num": 4}
    args.update(kwargs)
    with pytest.raises(error) as info:
        create_dataset(**args)
    assert_words(info, words)


def test_create_dataset_accepts_numpy_integers():
    d = create_dataset(product, n_var=np.int64(2), train_num=np.int32(5), test_num=np.int64(3), seed=np.int64(2))
    assert d["train_input"].shape == (5, 2) and d["test_label"].shape == (3, 1)


# ----- to_qasm, angle_value and angle scales ------------------------------------------------------------

PZ = builtin("pz", 1)  # theta (2, 2), one re-upload
QASM_CASES = [
    ("theta NaN", {"theta": np.array([[0.1, NAN], [0.0, 0.0]])}, ValueError, ["theta", "finite", "nan", "(0, 1)"]),
    ("theta inf", {"theta": np.array([[0.1, 0.0], [-INF, 0.0]])}, ValueError, ["theta", "-inf", "(1, 0)"]),
    ("theta text", {"theta": np.array([["a", "b"], ["c", "d"]])}, TypeError, ["theta", "real numbers"]),
    ("theta shape", {"theta": np.zeros((3, 2))}, ValueError, ["theta", "(2, 2)", "(3, 2)"]),
    ("x NaN", {"x": NAN}, ValueError, ["x must be finite", "nan"]),
    ("x inf", {"x": INF}, ValueError, ["x must be finite", "inf"]),
    ("x array", {"x": [0.1, 0.2]}, ValueError, ["x", "shape ()", "(2,)"]),
    ("x None", {"x": None}, TypeError, ["x", "real numbers", "None"]),
    ("weight NaN", {"preacts_weight": [NAN]}, ValueError, ["preacts_weight", "nan"]),
    ("bias inf", {"preacts_bias": [INF]}, ValueError, ["preacts_bias", "inf"]),
    ("weight too short", {"preacts_weight": []}, ValueError, ["preacts_weight", "(1,)", "(0,)"]),
    ("preacts not bool", {"preacts": "yes"}, TypeError, ["preacts", "'yes'"]),
]


@pytest.mark.parametrize("kwargs,error,words", [c[1:] for c in QASM_CASES], ids=[c[0] for c in QASM_CASES])
def test_to_qasm_refuses_before_writing(kwargs, error, words):
    args = {"circuit": PZ, "theta": np.zeros((2, 2)), "x": 0.3}
    args.update(kwargs)
    with pytest.raises(error) as info:
        to_qasm(**args)
    assert_words(info, words)


def test_to_qasm_refuses_an_overflowing_angle():
    circuit = Circuit(1).rz(0, theta(0) * 4).measure("z", 0)
    with pytest.raises(ValueError, match=r"evaluates to inf \(overflow\)"):
        to_qasm(circuit, np.array([1e308]), 0.0)


def test_to_qasm_refuses_a_gate_without_an_openqasm_name():
    name = "test_sqrt_x_no_qasm"
    register_gate(GateSpec(name, 1, matrix=np.array([[1, 1j], [1j, 1]]) / math.sqrt(2)))
    try:
        circuit = Circuit(1).h(0).gate(name, 0).measure("z", 0)
        with pytest.raises(ValueError, match=rf"'{name}' have no OpenQASM name.*qasm="):
            to_qasm(circuit, np.zeros(0), 0.0)
    finally:
        GATES.pop(name)


def test_to_qasm_refuses_a_non_circuit():
    with pytest.raises(TypeError, match="circuit must be a qkan.circuits.Circuit, got str"):
        to_qasm("rz(0.1) q[0];", np.zeros(0), 0.0)


ANGLE_VALUE_CASES = [
    ("theta NaN", {"theta": np.array([[NAN, 0.0], [0.0, 0.0]])}, ["theta", "nan"]),
    ("x inf", {"x": INF}, ["x must be finite", "inf"]),
    ("weight NaN", {"preacts_weight": [NAN]}, ["preacts_weight", "nan"]),
    ("bias shape", {"preacts_bias": [0.0, 0.0]}, ["preacts_bias", "(1,)", "(2,)"]),
    ("no re-upload entry", {"preacts_weight": [], "preacts_bias": []}, ["0 entries", "re-upload 0"]),
    ("theta too small", {"theta": np.zeros((1, 1))}, ["theta of shape (1, 1)", "no entry"]),
]


@pytest.mark.parametrize("kwargs,words", [c[1:] for c in ANGLE_VALUE_CASES], ids=[c[0] for c in ANGLE_VALUE_CASES])
def test_angle_value_refuses(kwargs, words):
    angle = theta(1, 0) * 2 + data(0) - 0.5
    args = {
        "angle": angle,
        "theta": np.zeros((2, 2)),
        "x": 0.3,
        "preacts_weight": [1.0],
        "preacts_bias": [0.0],
        "preacts": True,
    }
    args.update(kwargs)
    with pytest.raises(ValueError) as info:
        angle_value(**args)
    assert_words(info, words)


def test_angle_value_of_good_values():
    angle = theta(1, 0) * 2 + data(0) - 0.5
    assert angle_value(angle, np.full((2, 2), 0.25), 0.3, [2.0], [0.1], True) == pytest.approx(0.5 + 0.7 - 0.5)


ANGLE_SCALE_CASES = [
    ("theta times nan", lambda: theta(0) * NAN, ["finite real number", "nan"]),
    ("nan times theta", lambda: NAN * theta(0), ["finite real number", "nan"]),
    ("theta times inf", lambda: theta(0) * INF, ["finite real number", "inf"]),
    ("numpy nan", lambda: data(0) * np.float64("nan"), ["finite real number", "nan"]),
    ("angle times -inf", lambda: (theta(0) + 1) * -INF, ["finite real number", "-inf"]),
    ("divided by inf", lambda: theta(0) / INF, ["divided by a finite real number", "inf"]),
    ("divided by nan", lambda: theta(0) / NAN, ["divided by a finite real number", "nan"]),
    ("divided by a denormal overflows", lambda: theta(0) / 1e-320, ["coefficients must be finite", "inf for θ[0]"]),
    ("scale overflows", lambda: (theta(0) * 1e308) * 10, ["coefficients must be finite", "inf for θ[0]"]),
    ("sum overflows", lambda: theta(0) * 1e308 + theta(0) * 1e308, ["coefficients must be finite", "inf"]),
    ("built directly", lambda: Angle(((theta(0), NAN),), 0.0), ["coefficients must be finite", "nan for θ[0]"]),
    ("constant nan", lambda: theta(0) + NAN, ["finite", "nan"]),
]


@pytest.mark.parametrize("build,words", [c[1:] for c in ANGLE_SCALE_CASES], ids=[c[0] for c in ANGLE_SCALE_CASES])
def test_angle_scales_refuse_non_finite(build, words):
    with pytest.raises(ValueError) as info:
        build()
    assert_words(info, words)


# ----- baselines: bad options and inputs --------------------------------------------------------------

BASELINE_CASES = [
    ("spline grid_size 0", lambda: SplineKAN(2, 2, grid_size=0), ValueError, ["grid_size", "got 0"]),
    ("spline grid_range inf", lambda: SplineKAN(2, 2, grid_range=(-INF, 1.0)), ValueError, ["grid_range", "finite"]),
    ("bspline grid_range nan", lambda: BSplineKAN(2, 2, grid_range=(NAN, 1.0)), ValueError, ["grid_range", "nan"]),
    ("bspline order 0", lambda: BSplineKAN(2, 2, spline_order=0), ValueError, ["spline_order", "got 0"]),
    ("fastkan one grid", lambda: FastKAN(2, 2, num_grids=1), ValueError, ["num_grids", "at least 2"]),
    ("rational groups", lambda: RationalKAN(4, 2, groups=3), ValueError, ["in_dim=4", "groups=3"]),
    ("mlp activation", lambda: MLP(2, 2, activation="swish"), ValueError, ["activation", "'swish'"]),
    ("mlp hidden 0", lambda: MLP(2, 2, hidden=0), ValueError, ["hidden", "got 0"]),
    ("out_dim bool", lambda: SplineKAN(2, True), ValueError, ["out_dim", "got True"]),
    ("wrong width", lambda: FastKAN(4, 2)(torch.randn(3, 5)), ValueError, ["(..., 4)", "(3, 5)"]),
    ("integer input", lambda: MLP(4, 2)(torch.ones(3, 4, dtype=torch.int64)), TypeError, ["floating-point", "int64"]),
]


@pytest.mark.parametrize("build,error,words", [c[1:] for c in BASELINE_CASES], ids=[c[0] for c in BASELINE_CASES])
def test_baselines_refuse(build, error, words):
    with pytest.raises(error) as info:
        build()
    assert_words(info, words)
