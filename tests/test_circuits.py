"""Unit tests of the circuit IR: builder, immutability and hashing, validation messages, the gate
registry's checks, the built-ins' published shapes, the text drawing and the parameter-fusion pass."""

import dataclasses
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from qkan.circuits import (
    BUILTIN_ALIASES,
    BUILTINS,
    Circuit,
    FusedBlock,
    GateSpec,
    Op,
    builtin,
    data,
    draw,
    fuse_parameter_gates,
    gate_spec,
    gates,
    register_gate,
    theta,
)
from qkan.solvers import LayerGeometry, LayerParams, compile, registry


def small() -> Circuit:
    return Circuit(2).h(0).ry(1, theta(0)).rz(0, data(0)).cnot(0, 1).measure("z", 1)


# ----- builder, immutability, hashing ---------------------------------------------------------
def test_builder_appends_ops_in_order():
    c = small()
    assert [op.kind for op in c.ops] == ["h", "ry", "rz", "cnot"]
    assert c.ops[3].qubits == (0, 1)
    assert c.ops[1].angle.thetas == (theta(0),)
    assert c.ops[2].depends_on_data and not c.ops[1].depends_on_data
    assert (c.readout.kind, c.readout.qubit) == ("z", 1)
    assert len(c) == 4 and list(c) == list(c.ops)


def test_builder_calls_return_new_circuits_and_leave_the_old_one_alone():
    base = Circuit(1).h(0)
    longer = base.rz(0, theta(0))
    assert len(base) == 1 and len(longer) == 2
    measured = longer.measure("amp")
    assert longer.readout is None and measured.readout.kind == "amp"


def test_circuit_is_frozen():
    c = small()
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.n_qubits = 3
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.ops[0].kind = "x"


def test_equal_circuits_hash_equal_and_the_name_is_not_identity():
    a, b = small(), small().named("other name")
    assert a == b and hash(a) == hash(b)
    assert {a: 1}[b] == 1
    assert a != small().measure("amp", 1)
    assert a != Circuit(2).h(0).ry(1, theta(0)).rz(0, data(0)).cnot(1, 0).measure("z", 1)


def test_angle_algebra_merges_and_drops_terms():
    a = theta(0) + 2 * theta(0) - data(1) + 0.5
    assert dict(a.terms) == {theta(0): 3.0, data(1): -1.0} and a.const == 0.5
    assert (theta(0) - theta(0)).terms == ()
    assert (theta(1) / 4).terms == ((theta(1), 0.25),)
    assert (-data(0)).terms == ((data(0), -1.0),)


def test_concatenation_keeps_order_and_the_later_readout():
    a = Circuit(1).h(0).measure("amp")
    b = Circuit(1).rz(0, data(0)).measure("z")
    c = a + b
    assert [op.kind for op in c] == ["h", "rz"] and c.readout.kind == "z"
    with pytest.raises(ValueError, match="same number of qubits"):
        a + Circuit(2)


def test_cx_is_an_alias_of_cnot():
    assert gate_spec("cx") is gate_spec("cnot")
    assert Circuit(2).cx(0, 1) == Circuit(2).cnot(0, 1)


# ----- validation ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "build, error, message",
    [
        (lambda: Circuit(1).gate("foo", 0), ValueError, r"unknown gate 'foo'; known gates: .*cnot"),
        (lambda: Circuit(2).h(2), ValueError, r"qubit 2 out of range for a 2-qubit circuit \(valid: 0..1\)"),
        (lambda: Circuit(2).h(-1), ValueError, r"qubit -1 out of range"),
        (lambda: Circuit(2).cnot(0, 2), ValueError, r"qubit 2 out of range"),
        (lambda: Circuit(2).cnot(1, 1), ValueError, r"needs distinct qubits, got \(1, 1\)"),
        (lambda: Circuit(2).gate("cnot", 0), ValueError, r"acts on 2 qubit\(s\), got 1"),
        (lambda: Circuit(1, reps=2).rz(0, data(2)), ValueError, r"data slot rep 2 is beyond reps=2 \(valid: 0..1\)"),
        (lambda: Circuit(1).gate("h", 0, angle=theta(0)), ValueError, r"'h' is fixed and takes no angle"),
        (lambda: Circuit(1).gate("rz", 0), ValueError, r"'rz' is a rotation and needs an angle"),
        (lambda: Circuit(1, theta_shape=(2, 2)).rz(0, theta(2, 0)), ValueError, r"does not index theta_shape \(2, 2\)"),
        (lambda: Circuit(1, theta_shape=(2, 2)).rz(0, theta(0)), ValueError, r"does not index theta_shape"),
        (lambda: Circuit(1).measure("x"), ValueError, r"unknown readout 'x'; expected one of \('amp', 'z'\)"),
        (lambda: Circuit(1).measure("z", 1), ValueError, r"qubit 1 out of range"),
        (lambda: Circuit(0), ValueError, r"n_qubits must be an integer in 1\.\.16, got 0"),
        (lambda: Circuit(1, reps=-1), ValueError, r"reps must be a non-negative integer"),
        (lambda: Circuit(1, theta_shape=(0,)), ValueError, r"theta_shape must be a tuple of positive integers"),
        (lambda: Circuit(1).rz(0, float("nan")), ValueError, r"constant angle must be finite"),
        (lambda: theta(-1), ValueError, r"non-negative integer indices"),
        (lambda: theta(), ValueError, r"non-negative integer indices"),
        (lambda: data(-1), ValueError, r"non-negative integer re-upload index"),
        (lambda: data(0, "sin"), ValueError, r"unknown data encoding 'sin'"),
        (lambda: builtin("pzz", 3), ValueError, r"unknown ansatz 'pzz'; expected a Circuit or one of"),
        (lambda: builtin("pz", 0), ValueError, r"reps must be a positive integer, got 0"),
        # wrong types
        (lambda: Circuit(2).h("0"), TypeError, r"qubit index must be an int, got str"),
        (lambda: Circuit(2).h(1.0), TypeError, r"qubit index must be an int, got float"),
        (lambda: Circuit(2).h(True), TypeError, r"qubit index must be an int, got bool"),
        (lambda: Circuit(1).rz(0, "theta"), TypeError, r"an angle must be a number, theta\(...\), data\(...\)"),
        (lambda: theta(0) * theta(1), TypeError, r"scaled by a real number, got Theta"),
        (lambda: theta(0) * True, TypeError, r"scaled by a real number, got bool"),
        (lambda: theta(0) / 0, ValueError, r"divided by a non-zero real number, got 0"),
        (lambda: theta(0) / "2", TypeError, r"divided by a non-zero real number, got str"),
        (lambda: Circuit(1.5), ValueError, r"n_qubits must be an integer"),
    ],
)
def test_invalid_builds_raise_clear_errors(build, error, message):
    with pytest.raises(error, match=message):
        build()


def test_missing_readout_is_caught_before_simulation():
    c = Circuit(1).h(0).rz(0, data(0))
    with pytest.raises(ValueError, match=r"has no readout: end it with \.measure\('amp'\) or \.measure\('z'\)"):
        c.validate()


def test_mixed_theta_ranks_need_a_declared_shape():
    c = Circuit(1).rz(0, theta(0)).ry(0, theta(0, 1)).measure()
    with pytest.raises(ValueError, match=r"theta slots mix index ranks \[1, 2\]"):
        c.validate()


# ----- the gate registry ---------------------------------------------------------------------
X = np.array([[0, 1], [1, 0]], dtype=np.complex128)


@pytest.fixture
def scratch_gates(monkeypatch):
    """Copies of the gate registry and its aliases that the test may change."""
    monkeypatch.setattr(gates, "GATES", dict(gates.GATES))
    monkeypatch.setattr(gates, "ALIASES", dict(gates.ALIASES))


@pytest.mark.parametrize(
    "spec, error, message",
    [
        (GateSpec("bad", 1), ValueError, r"'bad' needs exactly one of generator or matrix"),
        (GateSpec("bad", 1, generator="x", matrix=X), ValueError, r"exactly one of generator or matrix"),
        (GateSpec("bad", 2, generator="x"), ValueError, r"single-qubit Pauli rotations, got n_qubits=2"),
        (GateSpec("bad", 1, generator="w"), ValueError, r"generator must be one of \['x', 'y', 'z'\], got 'w'"),
        (GateSpec("bad", 1, generator="x", diagonal=True), ValueError, r"rotation about 'x' is not diagonal"),
        (
            GateSpec("bad", 1, matrix=np.array([[1, 1], [0, 1]])),
            ValueError,
            r"unitary within 1e-10, but \|M\^H M - I\|",
        ),
        (GateSpec("bad", 1, matrix=X * (1 + 1e-8)), ValueError, r"must be unitary"),
        (GateSpec("bad", 1, matrix=np.eye(4)), ValueError, r"matrix must be 2x2 for n_qubits=1, got shape \(4, 4\)"),
        (GateSpec("bad", 2, matrix=X), ValueError, r"matrix must be 4x4 for n_qubits=2, got shape \(2, 2\)"),
        (GateSpec("bad", 1, matrix=np.array([[np.nan, 0], [0, 1]])), ValueError, r"entries must be finite"),
        (GateSpec("bad", 0, matrix=np.eye(1)), ValueError, r"n_qubits must be an integer >= 1, got 0"),
        (GateSpec("bad", True, matrix=X), ValueError, r"n_qubits must be an integer >= 1, got True"),
        (GateSpec("bad", 1, matrix=X, diagonal=True), ValueError, r"diagonal=True but the matrix has off-diagonal"),
        (GateSpec("bad", 1, matrix=[["a", 0], [0, 1]]), TypeError, r"matrix must be an array of numbers"),
        (GateSpec("", 1, matrix=X), ValueError, r"gate name must be a non-empty string, got ''"),
        (GateSpec("bad", 1, matrix=X, qasm=""), ValueError, r"qasm must be None or a non-empty string"),
        ("h", TypeError, r"spec must be a GateSpec, got str"),
    ],
)
def test_bad_gate_specs_are_refused_and_change_nothing(scratch_gates, spec, error, message):
    before = (dict(gates.GATES), dict(gates.ALIASES))
    with pytest.raises(error, match=message):
        register_gate(spec)
    assert (gates.GATES, gates.ALIASES) == before


def test_taken_names_and_aliases_are_refused_and_change_nothing(scratch_gates):
    before = (dict(gates.GATES), dict(gates.ALIASES))
    with pytest.raises(ValueError, match=r"gate 'h' is already registered; pass replace=True to replace it"):
        register_gate(GateSpec("h", 1, matrix=X))
    with pytest.raises(ValueError, match=r"gate name 'cx' is already an alias of 'cnot'"):
        register_gate(GateSpec("cx", 1, matrix=X), replace=True)
    with pytest.raises(ValueError, match=r"alias 'h' would shadow the gate named 'h'"):
        register_gate(GateSpec("flip", 1, matrix=X), aliases=("f", "h"), replace=True)
    with pytest.raises(ValueError, match=r"alias 'cx' already names gate 'cnot'; pass replace=True"):
        register_gate(GateSpec("flip", 1, matrix=X), aliases=("f", "cx"))
    with pytest.raises(TypeError, match=r"aliases must be a tuple of names, got the string 'f'"):
        register_gate(GateSpec("flip", 1, matrix=X), aliases="f")
    assert (gates.GATES, gates.ALIASES) == before  # no name and no alias of a refused call got in


def test_replace_true_replaces_a_builtin_and_repoints_an_alias(scratch_gates):
    spec = register_gate(GateSpec("h", 1, matrix=X, qasm="x"), replace=True)
    assert gate_spec("h") is spec
    np.testing.assert_array_equal(gate_spec("h").fixed_matrix(), X)
    register_gate(GateSpec("flip", 2, matrix=np.eye(4)[[0, 1, 3, 2]]), aliases=("cx",), replace=True)
    assert gate_spec("cx") is gate_spec("flip") and gate_spec("cnot").name == "cnot"


def test_a_registered_gate_is_a_read_only_copy_and_runs_in_the_exact_solver(scratch_gates, monkeypatch):
    monkeypatch.setattr(registry, "_PROGRAMS", {})
    matrix = X.copy()
    spec = register_gate(GateSpec("flip", 1, matrix=matrix), aliases=("f",))
    matrix[0, 0] = 5  # the caller's array is not the registry's
    assert spec.fixed_matrix()[0, 0] == 0 and not spec.fixed_matrix().flags.writeable
    one = torch.ones(1, 1, dtype=torch.float64)
    params = LayerParams(torch.zeros(1, 1, 0, dtype=torch.float64), one, 0 * one, one, 0 * one, 0 * one, one)
    circuit = Circuit(1).gate("f", 0).measure("z")
    value = compile("exact", circuit, LayerGeometry(1, 1), torch.float64, "cpu").circuit_values(one, params)
    assert value.item() == pytest.approx(-1.0)
    register_gate(GateSpec("flip", 1, matrix=np.eye(2)), replace=True)
    monkeypatch.setattr(registry, "_PROGRAMS", {})  # compiled Programs keep the gate they were built with
    value = compile("exact", circuit, LayerGeometry(1, 1), torch.float64, "cpu").circuit_values(one, params)
    assert value.item() == pytest.approx(1.0)


def test_rotation_matrices_follow_the_half_angle_convention():
    t = 0.73
    c, s = np.cos(t / 2), np.sin(t / 2)
    np.testing.assert_allclose(gate_spec("ry").rotation_matrix(t), [[c, -s], [s, c]], atol=1e-15)
    np.testing.assert_allclose(gate_spec("rx").rotation_matrix(t), [[c, -1j * s], [-1j * s, c]], atol=1e-15)
    np.testing.assert_allclose(
        gate_spec("rz").rotation_matrix(t), np.diag([np.exp(-0.5j * t), np.exp(0.5j * t)]), atol=1e-15
    )


# ----- built-ins -----------------------------------------------------------------------------
@pytest.mark.parametrize("reps", [1, 3])
@pytest.mark.parametrize(
    "name, shape, n_ops",
    [
        ("pz", lambda r: (r + 1, 2), lambda r: 1 + 3 * r + 2),
        ("rpz", lambda r: (r + 1, 1), lambda r: 1 + 2 * r + 1),
        ("real", lambda r: (r, 1), lambda r: 1 + 4 * r),
        ("px", lambda r: (r + 1, 1), lambda r: 1 + 2 * r + 1),
        ("mix", lambda r: (r + 1, 2), lambda r: 1 + 3 * r + 2),
    ],
)
def test_builtin_shapes_follow_the_published_layout(name, shape, n_ops, reps):
    c = builtin(name, reps)
    assert c.parameter_shape == shape(reps)
    assert c.data_reps == reps and len(c) == n_ops(reps)
    assert c.n_qubits == 1 and c.readout.kind == "amp" and c.ops[0].kind == "h"
    assert builtin(name, reps, "z").readout.kind == "z"
    used = {s.index for op in c.ops if op.angle for s in op.angle.thetas}
    assert used == set(np.ndindex(*shape(reps)))  # every theta entry is used, none beyond the shape


def test_builtin_data_encodings():
    assert builtin("pz", 2).data_encodings == {"auto"}
    assert builtin("rpz", 2).data_encodings == {"affine"}
    assert builtin("px", 2).data_encodings == {"arccos"}
    assert [op.kind for op in builtin("real", 1)] == ["h", "x", "ry", "z", "ry"]


def test_aliases_give_the_same_circuits():
    assert set(BUILTINS) == {"pz", "rpz", "real", "px", "mix"}
    for alias, name in BUILTIN_ALIASES.items():
        assert builtin(alias, 2) == builtin(name, 2)


# ----- drawing -------------------------------------------------------------------------------
def test_drawing_shows_wires_gates_and_readout():
    text = draw(small().named("demo"))
    lines = text.splitlines()
    assert lines[0] == "demo: 2 qubit(s), 4 ops, reps=1"
    assert lines[1].startswith("q0:") and lines[2].startswith("q1:") and len(lines) == 3
    assert "H" in lines[1] and "RZ(φ0)" in lines[1] and "●" in lines[1]
    assert "RY(θ[0])" in lines[2] and "⊕" in lines[2] and lines[2].endswith("⟨Z⟩")
    assert len(lines[1]) == len(lines[2].removesuffix(" ⟨Z⟩"))  # columns line up
    assert str(builtin("pz", 1)).splitlines()[1].endswith("|a|-|b|")


def test_drawing_reads_any_circuit_shaped_object():
    op = SimpleNamespace(kind="cz", qubits=(0, 1), angle=None)
    shaped = SimpleNamespace(name="duck", n_qubits=2, ops=[op], readout=None, data_reps=0)
    assert draw(shaped) == "duck: 2 qubit(s), 1 ops, reps=0\nq0: ─●─\nq1: ─●─"


# ----- fuse pass -----------------------------------------------------------------------------
def test_fuse_groups_parameter_only_runs_between_data_gates():
    items = fuse_parameter_gates(builtin("pz", 2))
    kinds = [[op.kind for op in it.ops] if isinstance(it, FusedBlock) else it.kind for it in items]
    assert kinds == [["h", "rz", "ry"], "rz", ["rz", "ry"], "rz", ["rz", "ry"]]


def test_fuse_keeps_every_op_in_order_and_splits_on_qubits_and_entanglers():
    c = (
        Circuit(2)
        .h(0)
        .rz(0, theta(0))
        .ry(1, theta(1))
        .rx(1, theta(2))
        .cnot(0, 1)
        .s(0)
        .z(0)
        .rz(0, data(0))
        .y(1)
        .measure()
    )
    items = fuse_parameter_gates(c)
    flat = [op for it in items for op in (it.ops if isinstance(it, FusedBlock) else (it,))]
    assert flat == list(c.ops)
    blocks = [(it.qubit, len(it.ops)) for it in items if isinstance(it, FusedBlock)]
    assert blocks == [(0, 2), (1, 2), (0, 2), (1, 1)]
    assert [it.kind for it in items if isinstance(it, Op)] == ["cnot", "rz"]
    for it in items:
        if isinstance(it, FusedBlock):
            assert all(op.qubits == (it.qubit,) and not op.depends_on_data for op in it.ops)
