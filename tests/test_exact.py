"""The exact solver against the independent reference of tests/reference.py: values and gradients
for every built-in ansatz, both readouts, pre-activations on/off and grouping; gradcheck; the
checkpoint option; and the spec's facts about pz."""

import math
import zlib

import pytest
import torch
from reference import PARAM_NAMES, layer_reference, random_circuit, random_tensors
from torch.func import functional_call

from qkan import QKANLayer
from qkan.circuits import BUILTINS, Circuit, builtin, data, theta
from qkan.solvers import LayerGeometry, LayerParams
from qkan.solvers import compile as compile_program

OUT, IN, REPS, BATCH = 3, 4, 3, 6
TOLERANCE = {torch.float64: 1e-12, torch.float32: 1e-5}


def _values_and_grads(fn, tensors: dict, upstream: torch.Tensor) -> list[torch.Tensor]:
    """[y, dL/dx, dL/d(each layer tensor)] for L = sum(y * upstream)."""
    inputs = [tensors[k].detach().clone().requires_grad_(True) for k in ("x",) + PARAM_NAMES]
    y = fn(*inputs)
    grads = torch.autograd.grad((y * upstream.to(y.dtype)).sum(), inputs, materialize_grads=True)
    return [y.detach()] + [g.detach() for g in grads]


def _exact_fn(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, **options):
    program = compile_program("exact", circuit, geometry, dtype, "cpu", **options)
    return lambda x, *params: program.layer_output(x, LayerParams(*params))


def _assert_all_close(got: list[torch.Tensor], want: list[torch.Tensor], atol: float) -> None:
    for name, g, w in zip(("y", "x") + PARAM_NAMES, got, want):
        err = (g.double() - w).abs().max().item()
        assert err <= atol, f"{name}: max abs error {err:.3g} > {atol:g}"


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32], ids=["f64", "f32"])
@pytest.mark.parametrize("group", [None, 2], ids=["per-edge", "group2"])
@pytest.mark.parametrize("preacts", [False, True], ids=["raw", "preacts"])
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_matches_reference(name, readout, preacts, group, dtype):
    circuit = builtin(name, REPS, readout)
    tensors = random_tensors(
        circuit.parameter_shape,
        OUT,
        IN,
        REPS,
        BATCH,
        group,
        arccos_safe=name == "px",
        seed=zlib.crc32(repr((name, readout, preacts, group)).encode()),
    )
    # compare on values representable in ``dtype`` so the error measured is the solver's arithmetic
    tensors = {k: v.to(dtype).double() for k, v in tensors.items()}
    upstream = torch.randn(BATCH, OUT, generator=torch.Generator().manual_seed(1), dtype=torch.float64)

    def reference(x, *params):
        return layer_reference(x, *params, builtin=name, readout_kind=readout, preacts=preacts, group=group)

    want = _values_and_grads(reference, tensors, upstream)
    geometry = LayerGeometry(IN, OUT, group, preacts, "silu")
    got = _values_and_grads(_exact_fn(circuit, geometry, dtype), {k: v.to(dtype) for k, v in tensors.items()}, upstream)
    assert got[0].dtype == dtype
    _assert_all_close(got, want, TOLERANCE[dtype])


@pytest.mark.parametrize("seed", range(6))
def test_random_multi_qubit_circuit_matches_reference(seed):
    circuit = random_circuit(n_qubits=1 + seed % 3, n_ops=12, reps=2, seed=seed)
    tensors = random_tensors(circuit.parameter_shape, 2, 3, 2, 5, seed=seed)
    preacts = seed % 2 == 0
    upstream = torch.randn(5, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    want = _values_and_grads(lambda x, *p: layer_reference(x, *p, circuit=circuit, preacts=preacts), tensors, upstream)
    got = _values_and_grads(_exact_fn(circuit, LayerGeometry(3, 2, None, preacts), torch.float64), tensors, upstream)
    _assert_all_close(got, want, 1e-12)


def _gradcheck_layer(layer: QKANLayer, x: torch.Tensor) -> None:
    names = [n for n, _ in layer.named_parameters() if n != "mask"]
    start = [getattr(layer, n).detach().clone().requires_grad_(True) for n in names]

    def fn(x, *params):
        return functional_call(layer, dict(zip(names, params)), (x,))

    assert torch.autograd.gradcheck(fn, (x.requires_grad_(True), *start), eps=1e-6, atol=1e-7)


@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_gradcheck_builtin_layer(name, readout):
    layer = QKANLayer(
        2,
        2,
        reps=2,
        ansatz=name,
        preact_trainable=True,
        postact_weight_trainable=True,
        postact_bias_trainable=True,
        fast_measure=readout == "amp",
        seed=3,
        dtype=torch.float64,
    )
    x = torch.rand(3, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64) * 1.6 - 0.8
    if name == "px":
        with torch.no_grad():
            layer.preacts_weight.uniform_(0.5, 1.0)  # keep w*x+c inside (-1, 1)
    _gradcheck_layer(layer, x)


@pytest.mark.parametrize("readout", ["amp", "z"])
def test_gradcheck_random_two_qubit_circuit_with_cnot(readout):
    circuit = (
        Circuit(2)
        .h(0)
        .ry(1, theta(0, 0))
        .rz(0, data(0) + theta(0, 1))
        .cnot(0, 1)
        .rx(1, 0.7 * data(1, "affine") - theta(1, 0))
        .cnot(1, 0)
        .ry(0, theta(1, 1))
        .cz(0, 1)
        .measure(readout, 1)
    )
    layer = QKANLayer(2, 2, ansatz=circuit, preact_trainable=True, seed=5, dtype=torch.float64)
    x = torch.randn(4, 2, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    _gradcheck_layer(layer, x)


@pytest.mark.parametrize("name", ["pz", "px", "mix"])
def test_checkpoint_gives_same_values_and_grads(name):
    circuit = builtin(name, REPS, "amp")
    tensors = random_tensors(circuit.parameter_shape, OUT, IN, REPS, BATCH, arccos_safe=name == "px", seed=7)
    upstream = torch.randn(BATCH, OUT, dtype=torch.float64)
    geometry = LayerGeometry(IN, OUT, None, True)
    plain = _values_and_grads(_exact_fn(circuit, geometry, torch.float64), tensors, upstream)
    ckpt = _values_and_grads(_exact_fn(circuit, geometry, torch.float64, checkpoint=True), tensors, upstream)
    for a, b in zip(plain, ckpt):
        torch.testing.assert_close(a, b, atol=0, rtol=0)


def _pz_circuit_values(theta_values: torch.Tensor, x: torch.Tensor, readout: str) -> torch.Tensor:
    geometry = LayerGeometry(x.shape[1], 1)
    program = compile_program("exact", builtin("pz", REPS, readout), geometry, torch.float64, "cpu")
    ones = torch.ones(1, x.shape[1], dtype=torch.float64)
    params = LayerParams(
        theta_values,
        torch.ones(1, x.shape[1], REPS, dtype=torch.float64),
        torch.zeros(1, x.shape[1], REPS, dtype=torch.float64),
        ones,
        0 * ones,
        0 * ones,
        ones,
    )
    return program.circuit_values(x, params)[:, 0, :]


@pytest.mark.parametrize("readout", ["amp", "z"])
def test_pz_with_zero_theta_is_zero(readout):
    x = torch.linspace(-5, 5, 41, dtype=torch.float64)[:, None]
    f = _pz_circuit_values(torch.zeros(1, 1, REPS + 1, 2, dtype=torch.float64), x, readout)
    assert f.abs().max().item() < 1e-14


def _fourier_magnitudes(readout: str) -> torch.Tensor:
    """|c_k| of f(x) sampled on [0, 2pi) at 32 points, for random theta (one edge)."""
    n = 32
    x = (2 * math.pi * torch.arange(n, dtype=torch.float64) / n)[:, None]
    theta_values = (
        torch.rand(1, 1, REPS + 1, 2, generator=torch.Generator().manual_seed(11), dtype=torch.float64) * 2 * math.pi
    )
    f = _pz_circuit_values(theta_values, x, readout)[:, 0]
    return torch.fft.fft(f).abs() / n


def test_pz_z_readout_is_fourier_series_up_to_reps():
    mags = _fourier_magnitudes("z")
    assert mags[1 : REPS + 1].max() > 1e-3  # the allowed frequencies are present
    assert mags[REPS + 1 : 32 - REPS].max() < 1e-13  # and nothing above |k| = R


def test_pz_amp_readout_is_not_a_short_fourier_series():
    # the two readouts are different functions: |a|-|b| has frequencies beyond R
    assert _fourier_magnitudes("amp")[REPS + 1 : 32 - REPS].max() > 1e-6


@pytest.mark.parametrize("n_qubits", [1, 2])
def test_amp_gradient_is_finite_where_an_amplitude_vanishes(n_qubits):
    """theta = 0 leaves the readout qubit in |0>, where sqrt(P(1)) has no derivative: the solver
    must return the zero subgradient, never NaN."""
    circuit = Circuit(n_qubits).ry(0, theta(0)).measure("amp")
    program = compile_program("exact", circuit, LayerGeometry(1, 1), torch.float64, "cpu")
    weights = torch.zeros(1, 1, 1, dtype=torch.float64, requires_grad=True)
    one = torch.ones(1, 1, dtype=torch.float64)
    params = LayerParams(weights, one[..., None], 0 * one[..., None], one, 0 * one, 0 * one, one)
    f = program.circuit_values(torch.zeros(2, 1, dtype=torch.float64), params)
    f.sum().backward()
    assert torch.allclose(f, torch.ones_like(f)) and torch.isfinite(weights.grad).all()
