"""Exact edge spectra and sympy formulas (qkan.symbolic) against the float64 forward: every built-in ansatz with
and without pre-activations, base branch and post-activations, grouping, random multi-qubit circuits, and the
refusals (nonlinear encodings, eps < 0)."""

from __future__ import annotations

import numpy as np
import pytest
import sympy
import torch
from reference import random_circuit

from qkan import QKAN, QKANLayer, to_sympy
from qkan.circuits import Circuit, Data, data, theta

ANSATZES = ["pz", "rpz", "real", "px", "mix"]
ALL_ON = dict(preact_trainable=True, postact_weight_trainable=True, postact_bias_trainable=True, ba_trainable=True)


def _randomise(module: torch.nn.Module, seed: int, arccos: bool) -> None:
    """Random values for every tensor a layer has (pre-activations kept inside arccos's domain for px)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if name.endswith("mask"):
                continue
            if arccos and name.endswith("preacts_weight"):
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 0.6 - 0.3)
            elif arccos and name.endswith("preacts_bias"):
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 0.6 - 0.3)
            else:
                p.copy_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


def _inputs(n: int, width: int, seed: int = 0) -> torch.Tensor:
    return torch.rand(n, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 1.6 - 0.8


def _evaluate(exprs: list[sympy.Expr], n_in: int, x: torch.Tensor) -> np.ndarray:
    f = sympy.lambdify(sympy.symbols(f"x_1:{n_in + 1}"), exprs, "numpy", cse=True)
    columns = f(*x.numpy().T)
    return np.stack([np.broadcast_to(np.asarray(c, dtype=float), (x.shape[0],)) for c in columns], axis=1)


@pytest.mark.parametrize("ansatz", ANSATZES)
@pytest.mark.parametrize("flags", [{}, ALL_ON], ids=["plain", "all-on"])
@pytest.mark.parametrize("fast_measure", [True, False], ids=["amp", "z"])
def test_edge_spectrum_reproduces_every_edge(ansatz, flags, fast_measure):
    layer = QKANLayer(3, 2, reps=3, ansatz=ansatz, fast_measure=fast_measure, dtype=torch.float64, seed=1, **flags)
    _randomise(layer, 2, arccos=ansatz == "px")
    x = _inputs(1000, 3)
    spectrum = layer.edge_spectrum()
    want = layer.circuit_values(x)
    assert (spectrum.circuit_values(x) - want).abs().max() < 1e-12
    z = QKANLayer.from_settings(3, 2, layer.settings().replace(fast_measure=False))
    z.load_state_dict(layer.state_dict())
    assert (spectrum.z(x) - z.circuit_values(x)).abs().max() < 1e-12


def test_pz_spectrum_is_integral_up_to_reps_and_real():
    layer = QKANLayer(2, 2, reps=4, dtype=torch.float64, seed=0)
    spectrum = layer.edge_spectrum()
    freqs = spectrum.frequencies
    assert torch.equal(freqs, freqs.round()) and freqs.abs().max() == 4
    # coefficient of -f is the conjugate of that of f
    order = [int(torch.nonzero(spectrum.modes[:, 0] == -m).item()) for m in spectrum.modes[:, 0]]
    assert torch.allclose(spectrum.coefficients[..., order], spectrum.coefficients.conj(), atol=1e-15)


def test_trainable_preacts_give_non_integral_frequencies():
    layer = QKANLayer(1, 1, reps=2, preact_trainable=True, dtype=torch.float64, seed=0)
    with torch.no_grad():
        layer.preacts_weight.copy_(torch.tensor([[[0.7, 1.9]]], dtype=torch.float64))
    spectrum = layer.edge_spectrum()
    got = sorted({round(abs(f), 9) for f in spectrum.frequencies.flatten().tolist()})
    assert got == [0.0, 0.7, 1.2, 1.9, 2.6]


@pytest.mark.parametrize("ansatz", ANSATZES)
@pytest.mark.parametrize("flags", [{}, ALL_ON], ids=["plain", "all-on"])
def test_to_sympy_layer_equals_forward(ansatz, flags):
    layer = QKANLayer(2, 2, reps=3, ansatz=ansatz, dtype=torch.float64, seed=3, **flags)
    _randomise(layer, 4, arccos=ansatz == "px")
    x = _inputs(1000, 2, seed=1)
    got = _evaluate(to_sympy(layer), 2, x)
    assert np.abs(got - layer(x).detach().numpy()).max() < 1e-10


@pytest.mark.parametrize("ansatz", ANSATZES)
@pytest.mark.parametrize("fast_measure", [True, False], ids=["amp", "z"])
def test_to_sympy_model_equals_forward(ansatz, fast_measure):
    model = QKAN([2, 2, 1], reps=2, ansatz=ansatz, fast_measure=fast_measure, dtype=torch.float64, seed=5, **ALL_ON)
    _randomise(model, 6, arccos=ansatz == "px")
    if ansatz == "px":  # keep the hidden layer's outputs inside arccos's domain: |w h + c| <= 0.3 |h| + 0.3
        with torch.no_grad():
            model.layers[0].postact_weights.mul_(0.15)
            model.layers[0].postact_bias.mul_(0.15)
            model.layers[0].base_weight.mul_(0.15)
    x = _inputs(1000, 2, seed=2)
    exprs = to_sympy(model)
    assert len(exprs) == 1 and {s.name for s in exprs[0].free_symbols} == {"x_1", "x_2"}
    assert np.abs(_evaluate(exprs, 2, x) - model(x).detach().numpy()).max() < 1e-10


def test_to_sympy_grouped_norm_out_and_names():
    model = QKAN([3, 2], reps=2, group=2, norm_out=2, dtype=torch.float64, seed=0, **ALL_ON)
    _randomise(model, 7, arccos=False)
    a, b, c = sympy.symbols("a b c")
    exprs = to_sympy(model, input_names=["a", "b", "c"])
    f = sympy.lambdify((a, b, c), exprs, "numpy", cse=True)
    x = _inputs(1000, 3, seed=3)
    got = np.stack(f(*x.numpy().T), axis=1)
    assert np.abs(got - model(x).detach().numpy()).max() < 1e-10


@pytest.mark.parametrize("seed", range(6))
def test_to_sympy_random_multi_qubit_circuits(seed):
    circuit = random_circuit(n_qubits=1 + seed % 3, n_ops=12, reps=2, seed=seed)
    layer = QKANLayer(2, 2, ansatz=circuit, preact_trainable=seed % 2 == 1, dtype=torch.float64, seed=seed)
    _randomise(layer, seed, arccos=False)
    x = _inputs(1000, 2, seed=seed)
    assert (layer.edge_spectrum().circuit_values(x) - layer.circuit_values(x)).abs().max() < 1e-12
    assert np.abs(_evaluate(to_sympy(layer), 2, x) - layer(x).detach().numpy()).max() < 1e-10


def test_arccos_and_linear_data_in_one_two_qubit_circuit():
    circuit = (
        Circuit(2, reps=2)
        .h(0)
        .h(1)
        .ry(0, theta(0, 0) + data(0, "arccos"))
        .cnot(0, 1)
        .rx(1, 0.5 * data(1, "affine") - theta(0, 1))
        .rz(0, 2 * data(0, "raw") + data(1, "arccos"))
        .cz(1, 0)
        .ry(1, theta(1, 0))
        .measure("amp", 1)
    )
    layer = QKANLayer(2, 3, ansatz=circuit, dtype=torch.float64, seed=0)
    _randomise(layer, 9, arccos=True)
    x = _inputs(1000, 2, seed=4)
    spectrum = layer.edge_spectrum()
    assert {v.kind for v in spectrum.variables} == {"linear", "arccos"}
    assert (spectrum.circuit_values(x) - layer.circuit_values(x)).abs().max() < 1e-12
    assert np.abs(_evaluate(to_sympy(layer), 2, x) - layer(x).detach().numpy()).max() < 1e-10
    with pytest.raises(ValueError, match="no single frequency"):
        _ = spectrum.frequencies


def test_pruning_drops_small_terms_and_bounds_the_change():
    model = QKAN([2, 1], reps=3, dtype=torch.float64, seed=1)
    x = _inputs(500, 2)
    exact = to_sympy(model)[0]
    pruned = to_sympy(model, simplify_below=1e-2)[0]
    assert sympy.count_ops(pruned) < sympy.count_ops(exact)
    assert 0 < np.abs(_evaluate([pruned], 2, x) - _evaluate([exact], 2, x)).max() < 0.2


def test_a_nonlinear_encoding_is_refused_naming_why():
    circuit = Circuit(1, reps=1).h(0).rz(0, Data(0, "tanh")).measure("z")
    layer = QKANLayer(1, 1, ansatz=circuit, dtype=torch.float64)
    with pytest.raises(ValueError, match="no finite Fourier spectrum"):
        to_sympy(layer)
    with pytest.raises(ValueError, match="no finite Fourier spectrum"):
        layer.edge_spectrum()


@pytest.mark.parametrize("eps", [-1e-3, float("nan"), float("inf")])
def test_bad_eps_is_refused(eps):
    with pytest.raises(ValueError, match="simplify_below"):
        to_sympy(QKAN([1, 1]), simplify_below=eps)


def test_bad_arguments_are_refused():
    with pytest.raises(TypeError, match="simplify_below"):
        to_sympy(QKAN([1, 1]), simplify_below="0.1")
    with pytest.raises(TypeError, match="QKAN"):
        to_sympy(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="input_names"):
        to_sympy(QKAN([2, 1]), input_names=["a"])
    layer = QKANLayer(1, 1, base_activation=lambda t: t**3, dtype=torch.float64)
    with pytest.raises(ValueError, match="no sympy form"):
        to_sympy(layer)
    with torch.no_grad():
        layer.base_weight.zero_()
    assert len(to_sympy(layer)) == 1
