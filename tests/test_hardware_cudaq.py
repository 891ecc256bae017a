"""solver="cudaq" (NVIDIA CUDA-Q). Without cudaq: the published constructor call builds the model, the first
forward names the extra to install, and bad options fail at construction. With cudaq (skipped where it is not
installed): values and parameter-shift gradients equal the float64 exact solver (exact mode), sampled values and
gradients stay within their shot-noise bound, packing (parallel_qubits) changes nothing but the launches, and
target options are checked without contacting any service."""

import importlib.util
import math

import numpy as np
import pytest
import torch
from reference import random_circuit
from test_hardware_solvers import paired, values_and_grads

from qkan import QKAN, QKANLayer
from qkan.circuits import builtin
from qkan.solvers import UnsupportedCircuit, get_solver, registry

TOL = 1e-10
PUBLISHED_KWARGS = {
    "target": "quantum_machines",
    "url": "http://qoperator-host:8080",
    "executor": "opx-1000",
    "api_key": "...",
    "shots": 1024,
    "parallel_qubits": 8,
}


@pytest.fixture
def without_cudaq(monkeypatch):
    """This test sees no cudaq, installed or not (nor a Program compiled with it by an earlier test)."""
    monkeypatch.setattr(registry, "_PROGRAMS", {})
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "cudaq" else real(name, *a))


@pytest.fixture
def cudaq():
    module = pytest.importorskip("cudaq")
    before = module.get_target().name
    yield module
    module.set_target(before)  # a test that names a target leaves the process's target as it found it


def inputs(batch=4, in_dim=2, seed=0):
    return torch.rand(batch, in_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 1.6 - 0.8


def max_gaps(ref, other, x):
    weights = torch.randn(x.shape[0], ref.out_dim, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    pairs = zip(values_and_grads(ref, x, weights), values_and_grads(other, x, weights))
    return [(a - b).abs().max().item() for a, b in pairs]


# ----- without cudaq ----------------------------------------------------------------------------------------
def test_the_published_call_constructs_and_the_first_forward_names_the_extra(without_cudaq):
    model = QKAN([1, 2, 1], solver="cudaq", fast_measure=False, solver_kwargs=PUBLISHED_KWARGS)
    assert model.layers[0].solver == "cudaq" and model.layers[0].solver_kwargs == PUBLISHED_KWARGS
    with pytest.raises(UnsupportedCircuit, match=r"pip install 'qkan-toolkit\[cudaq\]'"):
        model(torch.zeros(2, 1))


@pytest.mark.parametrize(
    "options, error, words",
    [
        ({"target": 5}, TypeError, "target for solver 'cudaq' must be a string or None, got 5"),
        ({"target": "quantum_machines", "url": 8080}, TypeError, "url for solver 'cudaq' must be a string"),
        ({"target": "braket", "machine": ["arn"]}, TypeError, "machine for solver 'cudaq' must be a string"),
        ({"api_key": "k"}, ValueError, r"\['api_key'\] configure a CUDA-Q target: pass target="),
        ({"parallel_qubits": 0}, ValueError, "parallel_qubits must be a positive integer or None, got 0"),
        ({"parallel_qubits": "auto"}, TypeError, "parallel_qubits must be a positive integer or None, got 'auto'"),
        ({"parallel_qubits": True}, TypeError, "parallel_qubits must be a positive integer"),
        ({"expectation_via_sample": "yes"}, TypeError, "expectation_via_sample must be True, False or None"),
        ({"noise": object()}, ValueError, "solver 'cudaq' takes no noise model"),
        ({"shots": 0}, ValueError, "shots must be a positive integer"),
        ({"seed": -1}, ValueError, "seed must be"),
        ({"initial_layout": [0, 1]}, TypeError, r"solver 'cudaq' got unknown option\(s\) \['initial_layout'\]"),
    ],
)
def test_bad_options_fail_at_construction_without_cudaq(without_cudaq, options, error, words):
    with pytest.raises(error, match=words) as info:
        QKAN([1, 2, 1], solver="cudaq", solver_kwargs=options)
    assert "\n" not in str(info.value)


def test_auto_never_picks_cudaq_and_its_cost_is_reported():
    solver = get_solver("cudaq")
    assert solver.auto_rank == {} and solver.extra == "cudaq"
    layer = QKANLayer(3, 3, reps=3, solver="cudaq", solver_kwargs={"shots": 100})
    report = solver.cost(layer, batch=50)
    assert report.circuits_forward == 7 * 9 and report.shots_forward == 7 * 9 * 100


# ----- with cudaq: exact mode -------------------------------------------------------------------------------
@pytest.mark.parametrize("evaluation", ["fourier_nodes", "per_sample"])
@pytest.mark.parametrize("ansatz", ["pz", "rpz", "ring2"])
@pytest.mark.parametrize("fast_measure", [True, False])
def test_exact_mode_matches_the_exact_solver(cudaq, evaluation, ansatz, fast_measure):
    reps = 1 if ansatz == "ring2" else 2  # ring2's backward is 8x pz's circuits per re-upload
    ref, other = paired("cudaq", {"evaluation": evaluation}, reps=reps, ansatz=ansatz, fast_measure=fast_measure)
    assert max(max_gaps(ref, other, inputs())) < TOL


@pytest.mark.parametrize("seed", range(4))
def test_random_circuits_over_every_gate_match_the_exact_solver(cudaq, seed):
    circuit = random_circuit(n_qubits=2 + seed % 2, n_ops=10, reps=2, seed=seed)
    ref, other = paired("cudaq", {"evaluation": "per_sample"}, ansatz=circuit, preact_trainable=seed % 2 == 1)
    assert max(max_gaps(ref, other, inputs(seed=seed))) < TOL


def test_amp_stays_accurate_at_the_poles(cudaq):
    """ry(x) on |0>: P(1) = sin^2(x / 2) is tiny near x = 0, where amp = sqrt(P0) - sqrt(P1) needs P(1) itself
    (not 1 - P(0)) to keep its digits."""
    from qkan.circuits import Circuit, data

    circuit = Circuit(1, reps=1, theta_shape=(1, 1)).ry(0, data(0, "raw")).measure("amp")
    ref = QKANLayer(1, 1, ansatz=circuit, dtype=torch.float64, seed=0)
    options = {"evaluation": "per_sample"}  # the nodes interpolate P, which costs digits at a pole
    other = QKANLayer(1, 1, ansatz=circuit, dtype=torch.float64, seed=0, solver="cudaq", solver_kwargs=options)
    x = torch.tensor([[1e-9], [1e-6], [0.0]], dtype=torch.float64)
    with torch.no_grad():
        assert (ref.circuit_values(x) - other.circuit_values(x)).abs().max().item() < 1e-15


@pytest.mark.parametrize("ansatz, parallel_qubits, copies", [("pz", 8, 8), ("ring2", 5, 2), ("ring3", 3, 1)])
def test_packing_changes_the_launches_not_the_values(cudaq, ansatz, parallel_qubits, copies):
    options = {"parallel_qubits": parallel_qubits, "evaluation": "per_sample"}
    ref, packed = paired("cudaq", options, reps=1, ansatz=ansatz)
    executor = packed.program(torch.device("cpu"), torch.float64).executor
    assert executor.copies == copies and executor.width == copies * builtin(ansatz, 1).n_qubits
    assert max(max_gaps(ref, packed, inputs(3))) < TOL  # 18 rows: pz packs 8 a launch, its last launch padded
    before = executor.submitted.jobs
    with torch.no_grad():
        packed(inputs(3))
    assert executor.submitted.jobs - before == math.ceil(3 * 6 / copies)  # one job per launch


def test_a_packing_narrower_than_the_circuit_is_refused(cudaq):
    with pytest.raises(ValueError, match="parallel_qubits=2 is fewer than the circuit's 3 qubits"):
        QKANLayer(2, 2, ansatz="ring3", solver="cudaq", solver_kwargs={"parallel_qubits": 2})


# ----- with cudaq: sampled mode -----------------------------------------------------------------------------
def test_sampled_values_and_gradients_stay_within_shot_noise(cudaq):
    """z readout per sample: f = 2 P(0) - 1 from ``shots`` samples, sigma(f) = 2 sqrt(P0 P1 / shots); a
    parameter-shift derivative (f+ - f-) / 2 has sigma <= sqrt(2) / (2 sqrt(shots)) (P0 P1 <= 1/4), and the
    gradient of sum W * f sums independent such terms. Every value and gradient entry within 4 sigma."""
    shots = 20000
    ref, other = paired("cudaq", {"shots": shots, "seed": 11, "evaluation": "per_sample"}, reps=2, fast_measure=False)
    x = inputs(6)
    weights = torch.randn(6, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    results = []
    for layer in (ref, other):
        y = layer.circuit_values(x)
        results.append((y.detach(), torch.autograd.grad((y * weights).sum(), layer.theta)[0]))
    (exact, grad_exact), (sampled, grad_sampled) = results
    p0 = (1 + exact) / 2
    value_sigma = 2 * torch.sqrt(torch.clamp(p0 * (1 - p0), min=1e-12) / shots)
    assert ((sampled - exact).abs() <= 4 * value_sigma + 1e-12).all()
    grad_sigma = math.sqrt(2) / (2 * math.sqrt(shots)) * torch.sqrt((weights**2).sum(0))  # (O, I)
    gap = (grad_sampled - grad_exact).abs()
    assert (gap <= 4 * grad_sigma[..., None, None]).all() and gap.max() > 0


def test_a_seed_repeats_the_counts_and_packing_keeps_the_statistics(cudaq):
    x = inputs(6)

    def run(**options):
        layer = QKANLayer(2, 2, reps=1, solver="cudaq", solver_kwargs=options, seed=0, dtype=torch.float64)
        with torch.no_grad():
            return layer(x)

    first, again, other = run(shots=500, seed=9), run(shots=500, seed=9), run(shots=500, seed=10)
    assert torch.equal(first, again) and not torch.equal(first, other)
    exact = QKANLayer(2, 2, reps=1, seed=0, dtype=torch.float64)(x).detach()
    packed = run(shots=20000, seed=3, parallel_qubits=4)
    assert (packed - exact).abs().max().item() < 0.05  # 20000 shots: a few 1e-3 per edge, summed over 2 inputs


# ----- with cudaq: targets ----------------------------------------------------------------------------------
def test_a_named_simulator_target_runs_and_hardware_targets_need_shots(cudaq):
    ref, other = paired("cudaq", {"target": "qpp-cpu"}, reps=2)
    assert max(max_gaps(ref, other, inputs())) < TOL
    with pytest.raises(ValueError, match="unknown CUDA-Q target 'qpp-gpu'; known here: .*'qpp-cpu'"):
        QKANLayer(2, 2, solver="cudaq", solver_kwargs={"target": "qpp-gpu"})
    with pytest.raises(ValueError, match="CUDA-Q target 'quantum_machines' runs on hardware, which samples"):
        QKANLayer(2, 2, solver="cudaq", solver_kwargs={"target": "quantum_machines"})


def test_the_published_call_builds_without_contacting_the_target(cudaq):
    before = cudaq.get_target().name
    model = QKAN([1, 2, 1], solver="cudaq", fast_measure=False, solver_kwargs=PUBLISHED_KWARGS)
    executor = model.layers[0].program(torch.device("cpu"), torch.float32).executor
    assert executor.target == "quantum_machines" and executor.copies == 8
    assert executor.target_options == {"url": "http://qoperator-host:8080", "executor": "opx-1000", "api_key": "..."}
    assert cudaq.get_target().name == before  # set_target waits for the first job


def test_readout_marginals_follow_cudaqs_qubit_order(cudaq):
    from qkan.solvers.hardware.cudaq_solver import readout_marginals

    kernel = cudaq.make_kernel()
    qubits = kernel.qalloc(3)
    kernel.x(qubits[1])
    state = np.asarray(cudaq.get_state(kernel))
    np.testing.assert_allclose(readout_marginals(state, [0, 1, 2], 3), [[1, 0], [0, 1], [1, 0]])
