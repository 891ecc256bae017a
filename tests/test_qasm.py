"""OpenQASM 3 export round trip: qiskit loads the exported edge and its Statevector gives the
same readout as the exact solver for random bound values (1-3 qubits)."""

import random

import numpy as np
import pytest
import torch
from reference import random_circuit

from qkan.circuits import BUILTINS, Circuit, builtin, to_qasm
from qkan.solvers import LayerGeometry, LayerParams
from qkan.solvers import compile as compile_program

qiskit = pytest.importorskip(
    "qiskit", reason="qiskit is a test-only dependency: pip install qiskit qiskit-qasm3-import"
)
pytest.importorskip("qiskit_qasm3_import", reason="qiskit.qasm3.loads needs: pip install qiskit-qasm3-import")
from qiskit.qasm3 import loads  # noqa: E402
from qiskit.quantum_info import Statevector  # noqa: E402


def exact_edge_value(
    circuit: Circuit, theta: np.ndarray, x: float, w: np.ndarray, c: np.ndarray, preacts: bool
) -> float:
    """f of one edge from the exact solver (a 1x1 layer, batch 1) in float64."""
    program = compile_program("exact", circuit, LayerGeometry(1, 1, None, preacts), torch.float64, "cpu")
    one = torch.ones(1, 1, dtype=torch.float64)
    params = LayerParams(
        torch.as_tensor(theta)[None, None],
        torch.as_tensor(w)[None, None],
        torch.as_tensor(c)[None, None],
        one,
        0 * one,
        0 * one,
        one,
    )
    return program.circuit_values(torch.tensor([[x]], dtype=torch.float64), params).item()


def qiskit_edge_value(qasm: str, kind: str, qubit: int) -> float:
    """The readout computed by qiskit from the exported text, from the qubit's marginal
    probabilities: <Z_qubit> = P(0) - P(1), or for ``amp`` sqrt(P(0)) - sqrt(P(1))."""
    p0, p1 = Statevector(loads(qasm)).probabilities([qubit])
    return float(p0 - p1) if kind == "z" else float(np.sqrt(p0) - np.sqrt(p1))


def _random_values(circuit: Circuit, rng: np.random.Generator, arccos: bool):
    reps = circuit.data_reps
    theta = rng.uniform(-np.pi, np.pi, circuit.parameter_shape)
    if arccos:
        return theta, rng.uniform(-0.9, 0.9), rng.uniform(0.3, 1.0, reps), rng.uniform(-0.05, 0.05, reps)
    return theta, rng.uniform(-2, 2), rng.uniform(0.5, 1.5, reps), rng.uniform(-1, 1, reps)


def _round_trip(circuit: Circuit, seed: int, preacts: bool) -> None:
    rng = np.random.default_rng(seed)
    theta, x, w, c = _random_values(circuit, rng, arccos="arccos" in circuit.data_encodings)
    qasm = to_qasm(circuit, theta, x, w, c, preacts)
    want = exact_edge_value(circuit, theta, x, w, c, preacts)
    got = qiskit_edge_value(qasm, circuit.readout.kind, circuit.readout.qubit)
    assert abs(got - want) <= 1e-6, f"qiskit {got} vs exact {want}\n{qasm}"


@pytest.mark.parametrize("readout", ["z", "amp"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtin_export_round_trip(name, readout):
    for seed in range(3):
        _round_trip(builtin(name, 3, readout), seed, preacts=seed % 2 == 1)


@pytest.mark.parametrize("seed", range(12))
def test_random_circuit_export_round_trip(seed):
    circuit = random_circuit(n_qubits=1 + seed % 3, n_ops=14, reps=2, seed=100 + seed)
    _round_trip(circuit.with_readout(random.Random(seed).choice(["z", "amp"])), seed, preacts=seed % 4 < 2)


def test_export_text_is_openqasm3_with_bound_angles():
    circuit = Circuit(2).h(0).rz(1, 0.25).cnot(0, 1).measure("z", 1)
    text = to_qasm(circuit, np.zeros(0), 0.0)
    assert text.splitlines() == [
        "OPENQASM 3.0;",
        'include "stdgates.inc";',
        "qubit[2] q;",
        "h q[0];",
        "rz(0.25) q[1];",
        "cx q[0], q[1];",
        "// readout: z on q[1]",
    ]


def test_export_checks_theta_shape_and_arccos_domain():
    with pytest.raises(ValueError, match=r"theta for one edge must have shape \(4, 2\), got \(3, 2\)"):
        to_qasm(builtin("pz", 3), np.zeros((3, 2)), 0.1)
    with pytest.raises(ValueError, match=r"arccos data slot needs w\*x\+c in \[-1, 1\]"):
        to_qasm(builtin("px", 1), np.zeros((2, 1)), 1.5)
