"""The node grid and interpolation of the hardware solvers (no SDK needed), and the mitigation maths."""

import math

import numpy as np
import pytest
import torch

from qkan.circuits import Circuit, builtin, data, theta
from qkan.solvers.hardware import node_grid
from qkan.solvers.hardware.mitigation import folded, richardson_weights
from qkan.solvers.hardware.nodes import NodeVariable


@pytest.mark.parametrize("reps", [1, 2, 3])
def test_grid_sizes_of_the_builtins(reps):
    assert node_grid(builtin("pz", reps), preacts=False).size == 2 * reps + 1
    assert node_grid(builtin("pz", reps), preacts=True).size == 3**reps  # 2M + 1, M = (3^R - 1) / 2
    assert node_grid(builtin("rpz", reps), preacts=False).size == 3**reps  # affine slots: one variable each
    assert node_grid(builtin("px", reps), preacts=False).shape == (3,) * reps  # arccos angles


def test_coefficients_set_denominator_and_degree():
    circuit = Circuit(1).h(0).rz(0, 2 * data(0, "raw")).ry(0, -0.5 * data(1, "raw") + theta(0)).measure("z")
    (variable,) = node_grid(circuit, preacts=False).variables
    assert (variable.denominator, variable.degree) == (2, 5)  # 4/2 and -1/2 of u = x / 2
    with pytest.raises(ValueError, match="use evaluation='per_sample'"):
        node_grid(Circuit(1).h(0).rz(0, math.pi * data(0)).measure("z"), preacts=False)


@pytest.mark.parametrize("denominator, degree", [(1, 1), (1, 4), (3, 2)])
def test_interpolation_reproduces_a_trigonometric_polynomial(denominator, degree):
    rng = np.random.default_rng(degree)
    a, b = rng.normal(size=degree + 1), rng.normal(size=degree + 1)

    def poly(v):
        u = v / denominator
        return sum(a[k] * np.cos(k * u) + b[k] * np.sin(k * u) for k in range(degree + 1))

    variable = NodeVariable(data(0, "raw"), denominator, degree)
    v = torch.linspace(-7, 7, 41, dtype=torch.float64)
    interpolated = variable.weights(v) @ torch.as_tensor(poly(variable.nodes()))
    assert (interpolated - torch.as_tensor(poly(v.numpy()))).abs().max().item() < 1e-12


def test_richardson_weights_extrapolate_a_quadratic_to_zero():
    factors = (1, 3, 5)
    weights = richardson_weights(factors)
    assert abs(weights.sum() - 1) < 1e-12
    assert abs(weights @ np.array([2 + 0.3 * s - 0.1 * s**2 for s in factors]) - 2) < 1e-12


def test_folding_keeps_the_unitary():
    qiskit = pytest.importorskip("qiskit")
    from qiskit.quantum_info import Operator

    circuit = qiskit.QuantumCircuit(2)
    circuit.h(0)
    circuit.ry(0.3, 1)
    circuit.cx(0, 1)
    circuit.rz(-1.1, 0)
    for scale in (3, 5):
        assert Operator(folded(circuit, scale)).equiv(Operator(circuit))
        assert len(folded(circuit, scale).data) == scale * len(circuit.data)
