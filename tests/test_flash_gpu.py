"""flash vs the float64 exact solver on the GPU: values and gradients of every built-in, both
readouts, pre-activations on/off, grouping, masks, base activations and random circuits;
gradcheck and bitwise determinism (whole models: test_flash_models_gpu.py)."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import PARAM_NAMES, random_circuit, random_tensors

from qkan import QKANLayer
from qkan.circuits import BUILTINS, Circuit, builtin, data, theta
from qkan.solvers import LayerGeometry, LayerParams
from qkan.solvers import compile as compile_program
from qkan.solvers.flash import FourierCodegen, WalkPlan
from qkan.solvers.flash.tuning import MAX_FOURIER_DEGREE, MAX_KEPT_STATES

pytestmark = pytest.mark.gpu
DEVICE = "cuda"


def make_inputs(circuit: Circuit, out_dim: int, in_dim: int, batch: int, dtype: torch.dtype, group=None, seed=0):
    """x and LayerParams on the GPU in ``dtype``, every tensor requiring grad (mask excepted)."""
    tensors = random_tensors(
        circuit.parameter_shape,
        out_dim,
        in_dim,
        circuit.data_reps,
        batch,
        group=group,
        arccos_safe="arccos" in circuit.data_encodings,
        seed=seed,
    )
    return on_device(tensors, dtype)


def on_device(tensors: dict, dtype: torch.dtype):
    moved = {k: v.to(DEVICE, dtype).requires_grad_(k != "mask") for k, v in tensors.items()}
    return moved["x"], LayerParams(*(moved[n] for n in PARAM_NAMES))


def run(solver: str, circuit: Circuit, geometry: LayerGeometry, x, params, what: str = "layer", **options):
    """Output and gradients of sum(output * fixed random weights) w.r.t. x (if it requires grad) and every
    parameter."""
    program = compile_program(solver, circuit, geometry, x.dtype, DEVICE, **options)
    out = {"layer": program.layer_output, "edge": program.edge_values, "circuit": program.circuit_values}[what](
        x, params
    )
    weights = torch.randn(out.shape, generator=torch.Generator().manual_seed(7), dtype=torch.float64).to(out)
    inputs = [x] * x.requires_grad + [p for p in params if p.requires_grad]
    grads = torch.autograd.grad((out * weights).sum(), inputs, allow_unused=True)
    return out, [torch.zeros_like(t) if g is None else g for g, t in zip(grads, inputs)]


def check_parity(
    circuit,
    geometry,
    out_dim,
    in_dim,
    batch,
    group=None,
    what="layer",
    dtypes=(torch.float32, torch.float64),
    fourier=None,
    input_grad=True,
):
    tensors = random_tensors(
        circuit.parameter_shape,
        out_dim,
        in_dim,
        circuit.data_reps,
        batch,
        group=group,
        arccos_safe="arccos" in circuit.data_encodings,
    )
    assert_matches_exact(circuit, geometry, tensors, what, dtypes, fourier, input_grad)


def assert_matches_exact(
    circuit, geometry, tensors: dict, what="layer", dtypes=(torch.float32, torch.float64), fourier=None, input_grad=True
):
    """flash in each dtype against float64 exact on the same (float64, CPU) tensors: values within 1e-5
    (fp32) / 1e-10 (fp64) of the output's scale, every gradient within 1e-4 / 1e-10 relative. ``fourier``:
    the flash kernels to use (None: the solver's pick, the Fourier series where the circuit allows);
    ``input_grad=False``: x needs no gradient (the kernels without grad_x)."""
    x64, p64 = on_device(tensors, torch.float64)
    x64.requires_grad_(input_grad)
    ref, ref_grads = run("exact", circuit, geometry, x64, p64, what)
    for dtype in dtypes:
        x, params = on_device(tensors, dtype)
        x.requires_grad_(input_grad)
        out, grads = run("flash", circuit, geometry, x, params, what, fourier=fourier)
        value_tol, grad_tol = (1e-5, 1e-4) if dtype == torch.float32 else (1e-10, 1e-10)
        scale = max(1.0, ref.abs().max().item())
        err = (out.double() - ref).abs().max().item()
        assert err <= value_tol * scale, f"{dtype} {what}: max |flash - exact| = {err:.3g} (scale {scale:.3g})"
        names = ["x"] * input_grad + [n for n, p in zip(PARAM_NAMES, p64) if p.requires_grad]
        # A gradient that vanishes analytically (e.g. theta of a circuit whose readout ignores it) is
        # rounding noise in both solvers: it is measured against a tenth of the whole gradient's norm.
        floor = 0.1 * torch.cat([r.flatten() for r in ref_grads]).norm().item()
        for name, g, r in zip(names, grads, ref_grads):
            rel = ((g.double() - r).norm() / max(r.norm().item(), floor, 1e-30)).item()
            assert rel <= grad_tol, (
                f"{dtype} {what}: grad {name} relative error {rel:.3g} "
                f"(|ref| {r.norm().item():.3g}, floor {floor:.3g}) for {circuit}"
            )


@pytest.mark.parametrize("fourier", [None, False])
@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
def test_builtins_match_exact(name, readout, preacts, fourier):
    """fourier=None takes the Fourier-series kernels for pz, real and mix without pre-activations."""
    circuit = builtin(name, 3, readout)
    check_parity(circuit, LayerGeometry(5, 3, preacts=preacts), 3, 5, 70, fourier=fourier)


def test_raw_circuits_default_to_the_fourier_kernels():
    for preacts, expected in ((False, True), (True, False)):
        program = compile_program(
            "flash", builtin("pz", 3), LayerGeometry(4, 3, preacts=preacts), torch.float32, DEVICE
        )
        assert isinstance(program.kernels.codegen, FourierCodegen) == expected


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("what", ["edge", "circuit"])
def test_edge_values_match_exact(what, preacts):
    check_parity(builtin("pz", 2, "amp"), LayerGeometry(4, 3, preacts=preacts), 3, 4, 33, what=what)


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("group", [1, 2, 3])
def test_grouping_and_masks_match_exact(group, preacts):
    """Output chunks > 1 (O=300 over 256-thread blocks), several batch tiles, grouped theta/preacts."""
    check_parity(builtin("pz", 2, "amp"), LayerGeometry(7, 300, groups=group, preacts=preacts), 300, 7, 90, group=group)


@pytest.mark.parametrize("preacts", [False, True])  # the Fourier and the gate-walk kernels
@pytest.mark.parametrize("what", ["layer", "edge", "circuit"])
@pytest.mark.parametrize("shape", [(20, 100), (7, 300), (5, 64)])  # (in, out); 32 divides 64: no FLAT
def test_parameter_gradients_without_input_gradient(shape, what, preacts):
    """The backward without grad_x, where blocks lie over consecutive edges (FLAT: O > 32 not a multiple of 32)
    and cross from one input's edges to the next, several batch tiles and chunks, grouped theta."""
    in_dim, out_dim = shape
    check_parity(
        builtin("pz", 3, "amp"),
        LayerGeometry(in_dim, out_dim, groups=3, preacts=preacts),
        out_dim,
        in_dim,
        70,
        group=3,
        what=what,
        input_grad=False,
    )
    check_parity(
        builtin("rpz", 2, "z"),
        LayerGeometry(in_dim, out_dim, preacts=preacts),
        out_dim,
        in_dim,
        70,
        what=what,
        input_grad=False,
    )


@pytest.mark.parametrize("reps", [1, MAX_FOURIER_DEGREE])
@pytest.mark.parametrize("readout", ["amp", "z"])
def test_fourier_degrees_match_exact(reps, readout):
    """The lowest and the highest degree the Fourier kernels take, with the base branch on, x far from 0."""
    circuit = builtin("mix", reps, readout)
    tensors = random_tensors(circuit.parameter_shape, 6, 9, reps, 120)
    tensors["x"] = tensors["x"] * 4
    assert_matches_exact(circuit, LayerGeometry(9, 6), tensors, fourier=True)


@pytest.mark.parametrize("activation", ["tanh", "gelu", "relu", "sigmoid", "identity", torch.sin])
def test_base_activations_match_exact(activation):
    check_parity(builtin("rpz", 2, "z"), LayerGeometry(4, 2, base_activation=activation), 2, 4, 40)


@settings(max_examples=12, deadline=None)
@given(seed=st.integers(0, 10_000), n_ops=st.integers(1, 12), preacts=st.booleans())
def test_random_circuits_match_exact(seed, n_ops, preacts):
    circuit = random_circuit(1, n_ops, 2, seed)
    check_parity(circuit, LayerGeometry(3, 2, preacts=preacts), 2, 3, 25)


@pytest.mark.parametrize("reps", [3, 5])
def test_kept_and_undone_states_match_exact(reps):
    """Up to MAX_KEPT_STATES data gates the backward keeps the state after each gate; beyond, it undoes them."""
    circuit = builtin("pz", reps, "amp")
    assert WalkPlan(circuit, LayerGeometry(4, 3)).keeps_states == (reps <= MAX_KEPT_STATES)
    check_parity(circuit, LayerGeometry(4, 3, preacts=True), 3, 4, 50)


@pytest.mark.parametrize("fourier", [True, False])
def test_amp_readout_near_the_poles(fourier):
    """Rotations within 1e-4..3e-4 of |0> and |1> (never across the readout's kink there): the amp readout
    computed as z / sqrt(1 + rho) keeps float32 precision (sqrt((1 - z) / 2) would not: 1 - z = 5e-9..5e-8
    rounds to 0 or 6e-8 in float32)."""
    circuit = Circuit(1, reps=1, theta_shape=(1,)).ry(0, angle=theta(0) + data(0, "raw")).measure("amp", 0)
    tensors = random_tensors(circuit.parameter_shape, 4, 6, 1, 64, seed=3)
    tensors["x"] = (tensors["x"] * 5e-5).clamp(-1e-4, 1e-4)
    poles = torch.tensor([0.0, math.pi]).repeat(12)[:24].view(4, 6, 1).to(torch.float64)
    tensors["theta"] = poles + 2e-4
    assert_matches_exact(circuit, LayerGeometry(6, 4), tensors, what="circuit", fourier=fourier)
    assert_matches_exact(circuit, LayerGeometry(6, 4), tensors, fourier=fourier)


def test_amp_readout_with_poles_and_equator_in_one_warp():
    """The Fourier amp kernels evaluate r_x, r_y only for states near a pole (|r_z| >= 0.97): lanes of one
    warp (consecutive outputs) alternate between poles, the equator and points in between."""
    circuit = Circuit(1, reps=1, theta_shape=(1,)).ry(0, angle=theta(0) + data(0, "raw")).measure("amp", 0)
    tensors = random_tensors(circuit.parameter_shape, 40, 3, 1, 64, seed=5)
    tensors["x"] = (tensors["x"] * 5e-5).clamp(-1e-4, 1e-4)
    centres = torch.tensor([0.0, math.pi, math.pi / 2, 1.3, 0.2, -0.25, 2.9])
    tensors["theta"] = (centres[torch.arange(120) % 7] + 2e-4).view(40, 3, 1).to(torch.float64)
    assert_matches_exact(circuit, LayerGeometry(3, 40), tensors, what="circuit")
    assert_matches_exact(circuit, LayerGeometry(3, 40), tensors)


def assert_layer_gradcheck(circuit: Circuit, preacts: bool) -> tuple:
    """gradcheck of a flash layer's output (3 inputs -> 2 outputs, 5 float64 samples) in x and every trainable
    tensor; returns (program, x, params) for further checks."""
    geometry = LayerGeometry(3, 2, preacts=preacts)
    x, params = make_inputs(circuit, 2, 3, 5, torch.float64)
    program = compile_program("flash", circuit, geometry, torch.float64, DEVICE)
    trainable = [t for t in params if t.requires_grad]

    def layer(x, *tensors):
        it = iter(tensors)
        return program.layer_output(x, LayerParams(*(next(it) if p.requires_grad else p for p in params)))

    assert torch.autograd.gradcheck(layer, (x, *trainable))
    return program, x, params


def test_gradcheck_float64():
    for circuit, preacts in (
        (builtin("pz", 2, "amp"), True),
        (builtin("px", 2, "z"), False),
        (builtin("pz", 2, "amp"), False),
        (builtin("real", 2, "z"), False),
    ):
        program, x, params = assert_layer_gradcheck(circuit, preacts)
        assert torch.autograd.gradcheck(
            lambda x, t, program=program, params=params: program.circuit_values(x, params._replace(theta=t)),
            (x, params.theta),
        )


def assert_backward_repeats_bitwise(circuit: Circuit, geometry: LayerGeometry, batch: int) -> None:
    """Two float32 flash backward passes on the same inputs give identical gradients."""
    x, params = make_inputs(circuit, geometry.out_dim, geometry.in_dim, batch, torch.float32)
    first = run("flash", circuit, geometry, x, params)[1]
    second = run("flash", circuit, geometry, x, params)[1]
    for a, b in zip(first, second):
        assert torch.equal(a, b)


@pytest.mark.parametrize("preacts", [False, True])
def test_backward_is_bitwise_deterministic(preacts):
    assert_backward_repeats_bitwise(builtin("pz", 3, "amp"), LayerGeometry(100, 100, preacts=preacts), 1000)


def test_eager_function_and_custom_op_agree_bitwise():
    """Eager calls skip the dispatcher (an autograd.Function); torch.compile sees the custom ops: both
    launch the same kernels, so values and every gradient are identical."""
    from qkan.solvers.flash.ops import _EagerFlash, flash_forward

    circuit, geometry = builtin("rpz", 2, "z"), LayerGeometry(7, 5, preacts=True)
    program = compile_program("flash", circuit, geometry, torch.float32, DEVICE)
    x, params = make_inputs(circuit, 5, 7, 300, torch.float32)
    inputs = [x, *params]
    for edge in (False, True):
        eager = _EagerFlash.apply(program.key, edge, *inputs)
        custom = flash_forward(program.key, edge, *inputs)[0]
        assert torch.equal(eager, custom)
        cotangent = torch.randn_like(eager)
        trainable = [t for t in inputs if t.requires_grad]
        for a, b in zip(
            torch.autograd.grad(eager, trainable, cotangent, allow_unused=True),
            torch.autograd.grad(custom, trainable, cotangent, allow_unused=True),
        ):
            assert (a is None and b is None) or torch.equal(a, b)


@pytest.mark.parametrize("shape", [(6, 5), (20, 100)])  # (in, out): one warp of outputs; 100 over 4 warps
@pytest.mark.parametrize("trainable", [("theta",), ("theta", "base_weight", "postact_bias"), ("theta", "x")])
def test_gradients_of_a_subset_match_exact(trainable, shape):
    """The eager backward allocates and writes only the gradients autograd asks for (QKAN's default trains
    theta alone, its input needs none: the kernels without grad_x): those it computes match exact, the rest
    stay None."""
    grads = {}
    in_dim, out_dim = shape
    reference = QKANLayer(in_dim, out_dim, device=DEVICE, dtype=torch.float64, seed=3)
    x64 = torch.rand(40, in_dim, device=DEVICE, dtype=torch.float64) * 2 - 1
    for solver, dtype in (("exact", torch.float64), ("flash", torch.float32)):
        layer = QKANLayer(in_dim, out_dim, solver=solver, device=DEVICE, dtype=dtype)
        layer.load_state_dict(reference.state_dict())  # the same weights in both dtypes
        for name, p in layer.named_parameters():
            p.requires_grad_(name in trainable)
        x = x64.to(dtype).detach().requires_grad_("x" in trainable)
        layer(x).square().sum().backward()
        grads[solver] = {name: p.grad for name, p in [*layer.named_parameters(), ("x", x)]}
    for name, got in grads["flash"].items():
        expected = grads["exact"][name]
        assert (got is None) == (name not in trainable) == (expected is None)
        if got is not None:
            torch.testing.assert_close(got.double(), expected, atol=1e-4, rtol=1e-4)


def test_strided_input_matches_contiguous():
    circuit, geometry = builtin("pz", 2, "amp"), LayerGeometry(6, 4)
    program = compile_program("flash", circuit, geometry, torch.float32, DEVICE)
    x, params = make_inputs(circuit, 4, 6, 50, torch.float32)
    wide = torch.randn(50, 12, device=DEVICE)
    wide[:, ::2] = x.detach()
    strided = wide[:, ::2]
    assert not strided.is_contiguous()
    assert torch.equal(program.layer_output(strided, params), program.layer_output(x.detach(), params))


@pytest.mark.parametrize("shape", [(6, 5), (20, 100)])  # (in, out); 100 outputs: the FLAT backward
@pytest.mark.parametrize("input_grad", [False, True])
def test_empty_batch_gives_zero_gradients(shape, input_grad):
    """A batch of no samples: an empty output and zero parameter gradients, as from exact (the backward's tiling
    once divided by its zero tile length)."""
    in_dim, out_dim = shape
    grads = {}
    for solver in ("exact", "flash"):
        layer = QKANLayer(in_dim, out_dim, solver=solver, device=DEVICE, seed=0)
        x = torch.zeros(0, in_dim, device=DEVICE, requires_grad=input_grad)
        y = layer(x)
        assert y.shape == (0, out_dim)
        y.sum().backward()
        grads[solver] = [p.grad for p in layer.parameters()] + ([x.grad] if input_grad else [])
    for got, expected in zip(grads["flash"], grads["exact"]):
        assert (got is None) == (expected is None)
        if got is not None:
            assert torch.equal(got, expected) and not got.any()


def test_check_finite_on_cuda_when_asked(monkeypatch):
    """With validation off NaN flows through the kernels; check_finite=True raises at the call. (The default,
    a device assert, ends the process's CUDA context: tests/test_validation.py runs it in a subprocess.)"""
    layer = QKANLayer(2, 1, solver="flash", device=DEVICE, seed=0)
    x = torch.tensor([[float("nan"), 0.0]], device=DEVICE)
    monkeypatch.setattr(QKANLayer, "check_finite", False)
    assert torch.isnan(layer(x)).all()
    monkeypatch.setattr(QKANLayer, "check_finite", True)
    with pytest.raises(ValueError, match=r"input contains NaN or inf"):
        layer(x)
