"""OpenQASM 2 and 3 import: ``Circuit.from_qasm(to_qasm(c))`` gives ``c`` back for every built-in and random
circuits, bound exports read back to the same edge value, and unsupported input gets a one-line error."""

import math

import numpy as np
import pytest
import torch
from reference import random_circuit

from qkan.circuits import BUILTINS, Circuit, builtin, data, theta, to_qasm
from qkan.solvers import LayerGeometry, LayerParams
from qkan.solvers import compile as compile_program


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_round_trip(name, readout, version):
    circuit = builtin(name, 3, readout)
    assert Circuit.from_qasm(to_qasm(circuit, version=version)) == circuit


@pytest.mark.parametrize("version", [2, 3])
@pytest.mark.parametrize("seed", range(40))
def test_random_circuits_round_trip(seed, version):
    circuit = random_circuit(n_qubits=1 + seed % 3, n_ops=12, reps=2, seed=seed)
    assert Circuit.from_qasm(to_qasm(circuit, version=version)) == circuit


def edge_value(circuit, theta_values, x):
    program = compile_program("exact", circuit, LayerGeometry(1, 1), torch.float64, "cpu")
    one = torch.ones(1, 1, dtype=torch.float64)
    reps = max(circuit.data_reps, 1)
    params = LayerParams(
        torch.as_tensor(theta_values)[None, None], torch.ones(1, 1, reps, dtype=torch.float64),
        torch.zeros(1, 1, reps, dtype=torch.float64), one, 0 * one, 0 * one, one,
    )  # fmt: skip
    return program.circuit_values(torch.tensor([[x]], dtype=torch.float64), params).item()


@pytest.mark.parametrize("seed", range(6))
def test_a_bound_edge_reads_back_to_the_same_value(seed):
    circuit = random_circuit(n_qubits=2, n_ops=10, reps=2, seed=seed)
    values = np.random.default_rng(seed).normal(size=circuit.parameter_shape)
    bound = Circuit.from_qasm(to_qasm(circuit, values, 0.3))
    assert abs(edge_value(bound, np.zeros(bound.parameter_shape), 0.0) - edge_value(circuit, values, 0.3)) < 1e-12


def test_handwritten_qasm2_with_a_measurement_reads_out_z():
    text = """OPENQASM 2.0;
    include "qelib1.inc";
    qreg q[2];
    creg c[1];
    h q[0];
    rz(pi/2 + 2*x_0_raw - theta_0_0) q[0];
    cx q[0], q[1];
    measure q[1] -> c[0];
    """
    expected = Circuit(2).h(0).rz(0, math.pi / 2 + 2 * data(0, "raw") - theta(0, 0)).cnot(0, 1).measure("z", 1)
    assert Circuit.from_qasm(text) == expected


@pytest.mark.parametrize(
    "line, words",
    [
        ("reset q[0];", "unsupported QASM statement 'reset q\\[0\\]'"),
        ("if (c == 1) x q[0];", "unsupported QASM statement"),
        ("rz(theta_0_0 * x_0_raw) q[0];", "cannot read the angle"),
        ("rz(sin(x_0_raw)) q[0];", "cannot read the angle"),
        ("rz(alpha) q[0];", "unknown parameter 'alpha'"),
        ("u3(0.1, 0.2, 0.3) q[0];", "unsupported QASM statement"),
        ("x r[0];", "expected a qubit q\\[i\\]"),
        ("qubit[1] r;", "unsupported qubit declaration"),
    ],
)
def test_unsupported_input_is_named_in_one_line(line, words):
    text = f'OPENQASM 3.0;\ninclude "stdgates.inc";\nqubit[1] q;\n{line}\n'
    with pytest.raises(ValueError, match=words) as info:
        Circuit.from_qasm(text)
    assert "\n" not in str(info.value)


def test_bad_headers_are_named():
    with pytest.raises(ValueError, match="unsupported OpenQASM version"):
        Circuit.from_qasm("OPENQASM 4.0;\nqubit[1] q;")
    with pytest.raises(ValueError, match="unsupported include"):
        Circuit.from_qasm('OPENQASM 3.0;\ninclude "mine.inc";\nqubit[1] q;')
    with pytest.raises(ValueError, match="declares no qubits"):
        Circuit.from_qasm("OPENQASM 3.0;")
    with pytest.raises(TypeError, match="QASM text must be a str"):
        Circuit.from_qasm(b"OPENQASM 3.0;")


def test_qiskit_reads_the_named_export():
    qasm3 = pytest.importorskip("qiskit.qasm3")
    pytest.importorskip("qiskit_qasm3_import")
    circuit = builtin("mix", 2)
    loaded = qasm3.loads(to_qasm(circuit))
    assert sorted(p.name for p in loaded.parameters) == sorted(
        [f"theta_{l}_{k}" for l in range(3) for k in range(2)] + ["x_0_auto", "x_1_auto"]
    )
