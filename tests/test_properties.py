"""Property tests (hypothesis) on random circuits: the exact solver's readout is finite, bounded
and equal to the independent reference; invalid builder calls raise ValueError or TypeError."""

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import PARAM_NAMES, circuit_edge, random_tensors

from qkan.circuits import GATES, READOUTS, Circuit, data, theta
from qkan.circuits.gates import ALIASES
from qkan.solvers import LayerGeometry, LayerParams
from qkan.solvers import compile as compile_program

FIXED = sorted(k for k, s in GATES.items() if not s.parametric and s.n_qubits == 1)
ROTATIONS = sorted(k for k, s in GATES.items() if s.parametric)
ENTANGLERS = sorted(k for k, s in GATES.items() if s.n_qubits == 2)
THETA_SHAPE = (3, 2)
PROPERTY_SETTINGS = settings(max_examples=40, deadline=None)


@st.composite
def angles(draw, reps: int):
    """const + a*theta + b*data, any of the three parts possibly absent."""
    angle = draw(st.floats(-math.pi, math.pi))
    if draw(st.booleans()):
        angle = angle + draw(st.floats(-2, 2)) * theta(*(draw(st.integers(0, d - 1)) for d in THETA_SHAPE))
    if draw(st.booleans()):
        encoding = draw(st.sampled_from(["auto", "raw", "affine", "arccos"]))
        angle = angle + draw(st.floats(-2, 2)) * data(draw(st.integers(0, reps - 1)), encoding)
    return angle


@st.composite
def circuits(draw, max_qubits: int = 3, readout: str = None):
    n = draw(st.integers(1, max_qubits))
    reps = draw(st.integers(1, 3))
    c = Circuit(n, reps=reps, theta_shape=THETA_SHAPE)
    for _ in range(draw(st.integers(0, 10))):
        kind = draw(st.sampled_from(FIXED + ROTATIONS + (ENTANGLERS if n > 1 else [])))
        if kind in ENTANGLERS:
            a, b = draw(st.permutations(range(n)))[:2]
            c = c.gate(kind, a, b)
        elif kind in ROTATIONS:
            c = c.gate(kind, draw(st.integers(0, n - 1)), angle=draw(angles(reps)))
        else:
            c = c.gate(kind, draw(st.integers(0, n - 1)))
    return c.measure(readout or draw(st.sampled_from(READOUTS)), draw(st.integers(0, n - 1)))


def exact_values(circuit: Circuit, seed: int, preacts: bool):
    """(f from exact (B, O, I), the tensors used), float64, 2x2 layer, batch 5."""
    tensors = random_tensors(
        circuit.parameter_shape, 2, 2, circuit.data_reps, 5, arccos_safe="arccos" in circuit.data_encodings, seed=seed
    )
    program = compile_program("exact", circuit, LayerGeometry(2, 2, None, preacts), torch.float64, "cpu")
    f = program.circuit_values(tensors["x"], LayerParams(*(tensors[k] for k in PARAM_NAMES)))
    return f, tensors


@PROPERTY_SETTINGS
@given(circuit=circuits(), seed=st.integers(0, 2**16), preacts=st.booleans())
def test_random_circuit_output_is_finite_and_matches_reference(circuit, seed, preacts):
    f, t = exact_values(circuit, seed, preacts)
    assert f.shape == (5, 2, 2) and torch.isfinite(f).all()
    for o in range(2):
        for i in range(2):
            want = circuit_edge(
                circuit, t["theta"][o, i], t["x"][:, i], t["preacts_weight"][o, i], t["preacts_bias"][o, i], preacts
            )
            assert (f[:, o, i] - want).abs().max().item() <= 1e-12


@PROPERTY_SETTINGS
@given(circuit=circuits(readout="z"), seed=st.integers(0, 2**16), preacts=st.booleans())
def test_z_readout_is_bounded_by_one(circuit, seed, preacts):
    f, _ = exact_values(circuit, seed, preacts)
    assert f.abs().max().item() <= 1 + 1e-12


@PROPERTY_SETTINGS
@given(circuit=circuits(max_qubits=1, readout="amp"), seed=st.integers(0, 2**16), preacts=st.booleans())
def test_single_qubit_amp_readout_is_bounded_by_one(circuit, seed, preacts):
    f, _ = exact_values(circuit, seed, preacts)
    assert f.abs().max().item() <= 1 + 1e-12


def test_multi_qubit_amp_readout_is_bounded_by_one():
    circuit = Circuit(2).h(1).measure("amp", 0)  # |0>|+>: amplitudes 1/sqrt2, 1/sqrt2 on the |0> side
    f, _ = exact_values(circuit, 0, False)
    assert f.abs().max().item() <= 1 + 1e-12


# ----- invalid builder calls ---------------------------------------------------------------
KNOWN_NAMES = set(GATES) | set(ALIASES)
BAD_TYPES = st.one_of(
    st.floats(allow_nan=True), st.text(max_size=3), st.none(), st.booleans(), st.lists(st.integers(), max_size=2)
)


@st.composite
def invalid_calls(draw):
    """(description, zero-argument callable) for a builder call that must be refused."""
    n = draw(st.integers(1, 3))
    reps = draw(st.integers(1, 3))
    c = Circuit(n, reps=reps)
    bad_qubit = draw(st.one_of(st.integers(max_value=-1), st.integers(min_value=n)))
    choice = draw(st.integers(0, 8))
    if choice == 0:
        name = draw(st.text(min_size=1, max_size=6).filter(lambda s: s not in KNOWN_NAMES))
        return f"unknown gate {name!r}", lambda: c.gate(name, 0)
    if choice == 1:
        kind = draw(st.sampled_from(FIXED))
        return f"{kind} on qubit {bad_qubit}", lambda: c.gate(kind, bad_qubit)
    if choice == 2:
        kind = draw(st.sampled_from(ROTATIONS))
        return f"{kind} on qubit {bad_qubit}", lambda: c.gate(kind, bad_qubit, angle=theta(0))
    if choice == 3:
        kind, angle = draw(st.sampled_from(FIXED)), draw(st.floats(-3, 3))
        return f"angle on fixed {kind}", lambda: c.gate(kind, 0, angle=angle)
    if choice == 4:
        kind = draw(st.sampled_from(ROTATIONS))
        return f"{kind} without angle", lambda: c.gate(kind, 0)
    if choice == 5:
        rep = draw(st.integers(reps, reps + 5))
        return f"data({rep}) with reps={reps}", lambda: c.rz(0, data(rep))
    if choice == 6:
        qubit = draw(BAD_TYPES)
        return f"qubit {qubit!r}", lambda: c.h(qubit)
    if choice == 7:
        angle = draw(st.one_of(st.text(max_size=3), st.none(), st.just(float("inf")), st.lists(st.floats())))
        return f"angle {angle!r}", lambda: c.rx(0, angle)
    readout = draw(st.text(max_size=4).filter(lambda s: s not in READOUTS))
    return f"readout {readout!r}", lambda: c.measure(readout)


@settings(max_examples=150, deadline=None)
@given(call=invalid_calls())
def test_invalid_builder_calls_raise_value_or_type_error(call):
    description, build = call
    with pytest.raises((ValueError, TypeError)) as error:
        build()
    assert str(error.value), f"{description}: the error has no message"
