"""The qiskit and pennylane solvers against the float64 exact solver: values and gradients (parameter
shift at the nodes or per sample) on every built-in and random multi-qubit circuits, batch-independent
circuit counts, shot noise that shrinks as 1/sqrt(shots), and one-line errors on bad options."""

import importlib.util
import math

import numpy as np
import pytest
import torch
from reference import random_circuit

from qkan import QKAN, QKANLayer
from qkan.circuits import BUILTINS
from qkan.solvers import LayerGeometry, UnsupportedCircuit, get_solver
from qkan.solvers.auto import choose

HAVE = {"qiskit": importlib.util.find_spec("qiskit_aer"), "pennylane": importlib.util.find_spec("pennylane")}
SOLVERS = [
    pytest.param(name, marks=pytest.mark.skipif(HAVE[name] is None, reason=f"pip install 'qkan-toolkit[{name}]'"))
    for name in ("qiskit", "pennylane")
]
EVALUATIONS = ("fourier_nodes", "per_sample")
TOL = 1e-10


def paired(solver, options=None, **settings):
    """An exact float64 layer and the same layer (same parameters) on ``solver``."""
    settings = dict(dtype=torch.float64, seed=3, postact_bias_trainable=True, **settings)
    ref = QKANLayer(2, 3, **settings)
    other = QKANLayer(2, 3, solver=solver, solver_kwargs=options or {}, **settings)
    other.load_state_dict(ref.state_dict())
    return ref, other


def values_and_grads(layer, x, weights):
    x = x.clone().requires_grad_()
    y = layer(x)
    params = [p for p in layer.parameters() if p.requires_grad]
    return [y.detach(), *torch.autograd.grad((y * weights).sum(), [x, *params])]


def assert_agree(ref, other, x):
    weights = torch.randn(x.shape[0], ref.out_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    for a, b in zip(values_and_grads(ref, x, weights), values_and_grads(other, x, weights)):
        assert (a - b).abs().max().item() < TOL


def inputs(batch=4, in_dim=2, seed=0):
    return torch.rand(batch, in_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("evaluation", EVALUATIONS)
@pytest.mark.parametrize("ansatz", sorted(BUILTINS))
@pytest.mark.parametrize("preacts", [False, True])
def test_builtins_match_exact_values_and_gradients(solver, evaluation, ansatz, preacts):
    ref, other = paired(solver, {"evaluation": evaluation}, reps=2, ansatz=ansatz, preact_trainable=preacts)
    assert_agree(ref, other, inputs())


@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize("evaluation", EVALUATIONS)
@pytest.mark.parametrize("seed", range(4))
def test_random_multi_qubit_circuits_match_exact(solver, evaluation, seed):
    circuit = random_circuit(n_qubits=2 + seed % 2, n_ops=8, reps=2, seed=seed)
    ref, other = paired(solver, {"evaluation": evaluation}, ansatz=circuit, preact_trainable=seed % 2 == 1)
    assert_agree(ref, other, inputs(seed=seed))


@pytest.mark.parametrize("solver", SOLVERS)
def test_fourier_nodes_circuit_count_is_independent_of_batch(solver):
    width, reps = 3, 3
    model = QKAN([width, width], reps=reps, solver=solver, seed=0, dtype=torch.float64)
    layer = model.layers[0]
    executor = layer.program(torch.device("cpu"), torch.float64).executor
    for batch in (2, 40):
        report = get_solver(solver).cost(layer, batch)
        assert report.circuits_forward == (2 * reps + 1) * width**2
        before = executor.submitted.circuits
        with torch.no_grad():
            model(inputs(batch, width))
        assert executor.submitted.circuits - before == (2 * reps + 1) * width**2
    options = {"evaluation": "per_sample"}
    per_sample = QKAN([width, width], reps=reps, solver=solver, solver_kwargs=options, seed=0, dtype=torch.float64)
    assert get_solver(solver).cost(per_sample.layers[0], 40).circuits_forward == 40 * width**2
    x = inputs(40, width)
    assert (model(x) - per_sample(x)).abs().max().item() < TOL


def binomial_sigma(p):
    return np.sqrt(np.clip(p * (1 - p), 1e-12, None))


@pytest.mark.parametrize("solver", SOLVERS)
def test_shot_noise_shrinks_as_one_over_sqrt_shots(solver):
    """z readout per sample: f = 2 P(0) - 1 with P(0) a binomial mean, so |f - exact| <= 4 * 2 sigma / sqrt(shots)
    at every point, and the RMS of the normalised errors (48 of them) is within 4 of its own sigma (0.1) of 1 at
    each of 1e3, 1e4, 1e5 shots."""
    ref = QKANLayer(2, 3, reps=2, ansatz="pz", fast_measure=False, dtype=torch.float64, seed=5)
    x = inputs(8)
    with torch.no_grad():
        exact = ref.circuit_values(x).numpy()
    p = (1 + exact) / 2
    rms = []
    for shots in (1000, 10000, 100000):
        options = {"shots": shots, "seed": 7, "evaluation": "per_sample"}
        layer = QKANLayer(2, 3, reps=2, ansatz="pz", fast_measure=False, solver=solver, solver_kwargs=options)
        layer = layer.to(torch.float64)
        layer.load_state_dict(ref.state_dict())
        with torch.no_grad():
            sampled = layer.circuit_values(x).numpy()
        normalised = (sampled - exact) / (2 * binomial_sigma(p) / math.sqrt(shots))
        assert np.abs(normalised).max() < 4.0 + 1e-9 or np.abs(sampled - exact).max() < 1e-12
        rms.append(float(np.sqrt(np.mean(normalised**2))))
    assert all(0.6 < r < 1.4 for r in rms), rms


@pytest.mark.parametrize("solver", SOLVERS)
def test_fourier_nodes_with_shots_stay_within_propagated_noise(solver):
    """At the nodes P(0) is sampled; the interpolated value's sigma is sqrt(sum_m L_m(x)^2 var_m)."""
    ref = QKANLayer(1, 1, reps=2, ansatz="pz", fast_measure=False, dtype=torch.float64, seed=2)
    x = torch.linspace(-1, 1, 9, dtype=torch.float64)[:, None]
    options = {"shots": 20000, "seed": 1}
    layer = QKANLayer(1, 1, reps=2, ansatz="pz", fast_measure=False, solver=solver, solver_kwargs=options)
    layer = layer.to(torch.float64)
    layer.load_state_dict(ref.state_dict())
    program = layer.program(torch.device("cpu"), torch.float64)
    (variable,) = program.grid.variables
    nodes = torch.as_tensor(variable.nodes())
    with torch.no_grad():
        p_nodes = (1 + ref.circuit_values(nodes[:, None]).reshape(-1)) / 2
        weights = variable.weights(x[:, 0])  # (9, N)
        sigma = 2 * torch.sqrt((weights**2 * p_nodes * (1 - p_nodes) / 20000).sum(-1))
        error = (layer.circuit_values(x) - ref.circuit_values(x)).reshape(-1)
    assert (error.abs() <= 4 * sigma).all()


@pytest.mark.skipif(HAVE["qiskit"] is None, reason="pip install 'qkan-toolkit[qiskit]'")
def test_readout_mitigation_reduces_the_error_of_a_noisy_model():
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

    noise = NoiseModel()
    noise.add_all_qubit_quantum_error(depolarizing_error(0.002, 1), ["rz", "ry", "h"])
    noise.add_all_qubit_readout_error(ReadoutError([[0.9, 0.1], [0.15, 0.85]]))
    ref = QKANLayer(2, 2, reps=2, ansatz="pz", fast_measure=False, dtype=torch.float64, seed=4)
    x = inputs(6)
    errors = {}
    for mitigation in (None, "readout"):
        options = {"shots": 20000, "seed": 3, "noise": noise, "mitigation": mitigation}
        layer = QKANLayer(2, 2, reps=2, ansatz="pz", fast_measure=False, solver="qiskit", solver_kwargs=options)
        layer = layer.to(torch.float64)
        layer.load_state_dict(ref.state_dict())
        with torch.no_grad():
            errors[mitigation] = (layer.circuit_values(x) - ref.circuit_values(x)).abs().mean().item()
    assert errors["readout"] < 0.3 * errors[None], errors


@pytest.mark.skipif(HAVE["pennylane"] is None, reason="pip install 'qkan-toolkit[pennylane]'")
def test_pennylane_noise_channels_run_on_default_mixed():
    import pennylane as qml

    noise = qml.NoiseModel({qml.noise.op_eq("RY"): qml.noise.partial_wires(qml.DepolarizingChannel, 0.05)})
    ref, noisy = paired("pennylane", {"noise": noise, "backend": "default.mixed"}, reps=2, fast_measure=False)
    x = inputs()
    with torch.no_grad():
        gap = (noisy(x) - ref(x)).abs().max().item()
    assert 1e-3 < gap < 1.0  # the channel shrinks the Bloch vector: a visible, bounded change


# ----- bad input -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("solver", SOLVERS)
@pytest.mark.parametrize(
    "options, error, words",
    [
        ({"shots": 0}, ValueError, "shots must be a positive integer"),
        ({"shots": -5}, ValueError, "shots must be a positive integer"),
        ({"shots": 1.5}, TypeError, "shots must be a positive integer"),
        ({"evaluation": "magic"}, ValueError, "unknown evaluation"),
        ({"noise": "depolarising"}, TypeError, "noise for solver"),
        ({"seed": -1}, ValueError, "seed must be"),
    ],
)
def test_bad_options_raise_one_line_errors(solver, options, error, words):
    with pytest.raises(error, match=words) as info:
        QKANLayer(2, 2, solver=solver, solver_kwargs=options)
    assert "\n" not in str(info.value)


@pytest.mark.skipif(HAVE["pennylane"] is None, reason="pip install 'qkan-toolkit[pennylane]'")
def test_unknown_pennylane_backend_and_noise_off_the_mixed_device():
    import pennylane as qml

    with pytest.raises(ValueError, match="unknown PennyLane device 'default.qbit'"):
        QKANLayer(2, 2, solver="pennylane", solver_kwargs={"backend": "default.qbit"})
    noise = qml.NoiseModel({qml.noise.op_eq("RY"): qml.noise.partial_wires(qml.DepolarizingChannel, 0.1)})
    with pytest.raises(ValueError, match="noise needs backend='default.mixed'"):
        QKANLayer(2, 2, solver="pennylane", solver_kwargs={"noise": noise})


@pytest.mark.skipif(HAVE["qiskit"] is None, reason="pip install 'qkan-toolkit[qiskit]'")
def test_qiskit_mitigation_options_are_checked():
    with pytest.raises(ValueError, match="unknown mitigation 'magic'"):
        QKANLayer(2, 2, solver="qiskit", solver_kwargs={"mitigation": "magic"})
    with pytest.raises(ValueError, match="needs shots"):
        QKANLayer(2, 2, solver="qiskit", solver_kwargs={"mitigation": "readout"})


@pytest.mark.parametrize("solver", SOLVERS)
def test_a_gate_the_backend_lacks_is_named(solver):
    from qkan.circuits import Circuit, GateSpec, data, register_gate
    from qkan.circuits.gates import GATES

    register_gate(GateSpec("sx_test", 1, matrix=np.array([[1, 1j], [1j, 1]]) / math.sqrt(2)), replace=True)
    try:
        circuit = Circuit(1).h(0).ry(0, data(0)).gate("sx_test", 0).measure("z")
        layer = QKANLayer(1, 1, ansatz=circuit, solver=solver)
        with pytest.raises(UnsupportedCircuit, match=rf"{solver} has no gate for \['sx_test'\]"):
            layer(torch.zeros(2, 1))
    finally:
        GATES.pop("sx_test")


def test_missing_extra_is_named(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "qiskit_aer" else real(name, *a))
    layer = QKANLayer(2, 2, solver="qiskit")
    with pytest.raises(UnsupportedCircuit, match=r"pip install 'qkan-toolkit\[qiskit\]'"):
        layer(torch.zeros(2, 2))


def test_auto_never_picks_the_hardware_solvers():
    from qkan.circuits import builtin

    assert get_solver("qiskit").auto_rank == {} and get_solver("pennylane").auto_rank == {}
    for batch in (1, 10**6):
        assert choose(builtin("pz", 2), LayerGeometry(2, 2), torch.float64, "cpu", batch) in ("exact", "cutn")


def test_explain_reports_circuits_and_shots_of_a_named_solver():
    from qkan.circuits import builtin
    from qkan.solvers import explain

    text = explain(builtin("pz", 3), LayerGeometry(4, 4), torch.float64, "cpu", batch=1000, solver="qiskit", shots=100)
    if HAVE["qiskit"] is None:
        assert "pip install 'qkan-toolkit[qiskit]'" in text
    else:
        assert "forward 112 circuits (11200 shots)" in text and "backward 1792 circuits" in text
    with pytest.raises(TypeError, match="unknown option"):
        explain(builtin("pz", 3), LayerGeometry(4, 4), torch.float64, "cpu", batch=10, solver="qiskit", shot=1)


@pytest.mark.skipif(importlib.util.find_spec("pennylane_lightning") is None, reason="lightning.qubit not installed")
def test_pennylane_lightning_matches_exact():
    circuit = random_circuit(n_qubits=2, n_ops=8, reps=2, seed=11)
    ref, other = paired("pennylane", {"backend": "lightning.qubit"}, ansatz=circuit)
    assert_agree(ref, other, inputs())


@pytest.mark.parametrize("solver", SOLVERS)
def test_job_rows_split_the_jobs_and_a_seed_repeats_the_counts(solver):
    x = inputs(6)

    def run(**options):
        layer = QKANLayer(2, 2, reps=1, solver=solver, solver_kwargs=options, seed=0, dtype=torch.float64)
        with torch.no_grad():
            y = layer(x)
        return y, layer.program(torch.device("cpu"), torch.float64).executor.submitted

    whole, one_job = run(evaluation="per_sample")
    split, jobs = run(evaluation="per_sample", job_rows=5, progress=True)
    assert one_job.jobs == 1 and jobs.jobs == math.ceil(6 * 4 / 5) and jobs.circuits == one_job.circuits == 24
    assert (whole - split).abs().max().item() < TOL
    first, _ = run(shots=500, seed=9)
    again, _ = run(shots=500, seed=9)
    other, _ = run(shots=500, seed=10)
    assert torch.equal(first, again) and not torch.equal(first, other)
