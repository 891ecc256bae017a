"""Multi-qubit flash kernels against the float64 exact solver on the GPU: values and every gradient within
1e-5 (float32) and 1e-10 (float64) on the entangling built-ins, CNOT rings of 2-5 qubits and random circuits
of 2-5 qubits, layer and edge outputs, pre-activations and grouping; gradcheck in float64; bitwise
reproducible gradients; auto's choice; a QKAN model trains."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import PARAM_NAMES, random_circuit, random_tensors
from test_flash_gpu import DEVICE, assert_backward_repeats_bitwise, assert_layer_gradcheck, on_device, run
from test_flash_multiqubit import ring

from qkan.circuits import ENTANGLING_BUILTINS, Circuit, builtin
from qkan.solvers import LayerGeometry, auto
from qkan.solvers import compile as compile_program
from qkan.solvers.flash import FlashProgram
from qkan.solvers.flash.statevector import StatevectorCodegen

pytestmark = pytest.mark.gpu
TOLERANCE = {torch.float32: 1e-5, torch.float64: 1e-10}


def assert_matches_exact(circuit: Circuit, geometry: LayerGeometry, batch: int, what: str = "layer", group=None):
    """flash in float32 and float64 against float64 exact on the same tensors: the output within TOLERANCE of
    its scale, every gradient within TOLERANCE relative (against a tenth of the whole gradient's norm where a
    gradient vanishes analytically)."""
    tensors = random_tensors(
        circuit.parameter_shape,
        geometry.out_dim,
        geometry.in_dim,
        circuit.data_reps,
        batch,
        group=group,
        arccos_safe="arccos" in circuit.data_encodings,
    )
    ref, ref_grads = run("exact", circuit, geometry, *on_device(tensors, torch.float64), what)
    floor = 0.1 * torch.cat([r.flatten() for r in ref_grads]).norm().item()
    for dtype, tol in TOLERANCE.items():
        x, params = on_device(tensors, dtype)
        program = compile_program("flash", circuit, geometry, dtype, DEVICE)
        assert isinstance(program, FlashProgram) and isinstance(program.kernels.codegen, StatevectorCodegen)
        out, grads = run("flash", circuit, geometry, x, params, what)
        err = (out.double() - ref).abs().max().item()
        assert err <= tol * max(1.0, ref.abs().max().item()), f"{dtype} {what}: max |flash - exact| = {err:.3g}"
        names = ["x"] + [n for n, p in zip(PARAM_NAMES, params) if p.requires_grad]
        for name, g, r in zip(names, grads, ref_grads):
            rel = ((g.double() - r).norm() / max(r.norm().item(), floor, 1e-30)).item()
            assert rel <= tol, f"{dtype} {what}: grad {name} relative error {rel:.3g} for {circuit.name}"


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(ENTANGLING_BUILTINS))
def test_entangling_builtins_match_exact(name, readout, preacts):
    assert_matches_exact(builtin(name, 3, readout), LayerGeometry(5, 3, preacts=preacts), 70)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_cnot_rings_match_exact(n):
    assert_matches_exact(ring(n), LayerGeometry(6, 4), 40)


@pytest.mark.parametrize("what", ["edge", "circuit"])
def test_edge_values_match_exact(what):
    assert_matches_exact(builtin("ring2", 2, "amp"), LayerGeometry(4, 3, preacts=True), 33, what=what)


@pytest.mark.parametrize("group", [1, 2])
def test_grouping_matches_exact(group):
    assert_matches_exact(builtin("ring3", 2, "z"), LayerGeometry(4, 3, groups=group), 20, group=group)


@settings(max_examples=16, deadline=None)
@given(n=st.integers(2, 5), seed=st.integers(0, 10_000), n_ops=st.integers(1, 24), preacts=st.booleans())
def test_random_circuits_match_exact(n, seed, n_ops, preacts):
    assert_matches_exact(random_circuit(n, n_ops, 2, seed), LayerGeometry(3, 2, preacts=preacts), 25)


def test_gradcheck_float64():
    for circuit, preacts in (
        (builtin("ring2", 2, "amp"), True),
        (builtin("ring3", 1, "z"), False),
        (ring(4, 1), False),
    ):
        assert_layer_gradcheck(circuit, preacts)


def test_backward_is_bitwise_deterministic():
    assert_backward_repeats_bitwise(ring(4), LayerGeometry(32, 32, preacts=True), 1024)


def test_auto_takes_flash_and_explains_why():
    cuda = torch.device("cuda")
    assert auto.choose(ring(4), LayerGeometry(32, 32), torch.float32, cuda, batch=1024) == "flash"
    text = auto.explain(Circuit(6).h(0).measure("z"), LayerGeometry(2, 2), torch.float32, cuda, batch=8)
    assert "at most 5 qubits" in text


def test_qkan_model_with_an_entangling_ansatz_trains():
    from qkan import QKAN

    model = QKAN([4, 3], ansatz="ring3", solver="flash", seed=0, device=DEVICE)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    x, y = torch.rand(64, 4, device=DEVICE), torch.rand(64, 3, device=DEVICE)
    losses = []
    for _ in range(20):
        loss = torch.nn.functional.mse_loss(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
