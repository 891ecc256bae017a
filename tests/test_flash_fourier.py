"""The flash solver's Fourier-series path on the CPU: which circuits take it, that an eligible circuit's
Bloch vector really is the trigonometric polynomial of the planned degree (checked with the float64
exact solver, so an undercounted degree fails), and that its kernels compile for sm_90 without spills."""

from __future__ import annotations

import itertools
import math
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import PARAM_NAMES, random_circuit, random_tensors

from qkan.circuits import Circuit, builtin, data, theta
from qkan.solvers import LayerGeometry, LayerParams, UnsupportedCircuit
from qkan.solvers import compile as compile_program
from qkan.solvers.cuda_runtime import nvcc_available, ptxas_report
from qkan.solvers.flash import (
    FlashSolver,
    FourierCodegen,
    FourierPlan,
    WalkCodegen,
    WalkPlan,
    fourier_form,
    make_codegen,
)
from qkan.solvers.flash.abi import name_expressions
from qkan.solvers.flash.tuning import MAX_FOURIER_DEGREE

needs_nvcc = pytest.mark.skipif(not nvcc_available(), reason="nvcc is not installed")


@pytest.mark.parametrize("name", ["pz", "real", "mix"])
@pytest.mark.parametrize("reps", [1, 3])
def test_raw_builtins_take_the_fourier_path(name, reps):
    gen = make_codegen(builtin(name, reps), LayerGeometry(4, 3), None)
    assert isinstance(gen, FourierCodegen)
    plan = gen.fourier
    assert plan.degree == reps and plan.nodes == 2 * reps + 1
    # amp: r_x's and r_y's coefficients padded to a multiple of four (the pole block), r_z's, then QW, QB, BW
    assert plan.pole_width == -(-2 * plan.nodes // 4) * 4 and gen.layout.table_size == plan.pole_width + plan.nodes + 3
    assert make_codegen(builtin(name, reps, "z"), LayerGeometry(4, 3), None).layout.table_size == plan.nodes + 3


def test_other_circuits_keep_the_gate_walk():
    assert type(make_codegen(builtin("pz", 3), LayerGeometry(4, 3, preacts=True), None)) is WalkCodegen
    for name in ("rpz", "px"):  # affine and arccos encodings
        assert type(make_codegen(builtin(name, 2), LayerGeometry(4, 3), None)) is WalkCodegen
    assert type(make_codegen(builtin("pz", MAX_FOURIER_DEGREE + 1), LayerGeometry(4, 3), None)) is WalkCodegen
    assert type(make_codegen(builtin("pz", 3), LayerGeometry(4, 3), fourier=False)) is WalkCodegen
    irrational = Circuit(1).h(0).rz(0, theta(0) + math.sqrt(2) * data(0, "raw")).measure("z")
    assert fourier_form(WalkPlan(irrational, LayerGeometry(2, 2))) is None


def test_frequencies_in_units_of_x_over_d():
    circuit = (
        Circuit(1)
        .h(0)
        .rz(0, -0.5 * data(0, "raw"))
        .ry(0, theta(0))
        .rx(0, 1.5 * data(1, "raw") + theta(1))
        .measure("amp")
    )
    gen = make_codegen(circuit, LayerGeometry(2, 2), None)
    assert isinstance(gen, FourierCodegen) and (gen.fourier.denominator, gen.fourier.degree) == (2, 4)
    assert fourier_form(gen.plan) == (2, (-1, 3))
    too_high = Circuit(1).h(0).rz(0, 2 * data(0, "raw")).ry(0, theta(0)).rx(0, 1.5 * data(1, "raw")).measure("amp")
    assert fourier_form(WalkPlan(too_high, LayerGeometry(2, 2))) is None  # degree 7 in x / 2


def test_fourier_true_on_an_ineligible_circuit_is_refused():
    with pytest.raises(UnsupportedCircuit, match="fourier=None or False"):
        FlashSolver().build(builtin("rpz", 2), LayerGeometry(3, 2), torch.float32, "cuda", fourier=True)
    with pytest.raises(TypeError, match="fourier must be"):
        FlashSolver().build(builtin("pz", 2), LayerGeometry(3, 2), torch.float32, "cuda", fourier="yes")


def _mixed_z(circuit: Circuit) -> Circuit:
    """The circuit followed by a fixed rotation and read out as <Z>: a combination of all three Bloch
    components of the original, so it has their frequencies."""
    mixed = Circuit(1, ops=circuit.ops, reps=circuit.data_reps, theta_shape=circuit.parameter_shape)
    return mixed.ry(0, 0.7).rx(0, -0.4).rz(0, 0.3).measure("z")


def assert_is_planned_series(circuit: Circuit, seed: int = 0, plan: Optional[FourierPlan] = None) -> None:
    """The exact solver's values at random x equal the degree-K trigonometric interpolant through the
    2K+1 nodes (u = x / d), for every edge of a random layer (``plan``: the plan to check, default the solver's)."""
    if plan is None:
        codegen = make_codegen(circuit, LayerGeometry(3, 2), None)
        assert isinstance(codegen, FourierCodegen)
        plan = codegen.fourier
    probe = _mixed_z(circuit)
    geometry = LayerGeometry(3, 2)
    program = compile_program("exact", probe, geometry, torch.float64, "cpu")
    tensors = random_tensors(probe.parameter_shape, 2, 3, probe.data_reps, 1, seed=seed)
    params = LayerParams(*(tensors[n].double() for n in PARAM_NAMES))
    nodes = torch.arange(plan.nodes, dtype=torch.float64) * (2 * math.pi / plan.nodes)
    x_nodes = (nodes * plan.denominator)[:, None].repeat(1, 3)
    at_nodes = program.circuit_values(x_nodes, params)  # (N, O, I)
    x = torch.rand(40, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(seed)) * 12 - 6
    k = torch.arange(1, plan.degree + 1, dtype=torch.float64)
    coef_cos = 2 / plan.nodes * torch.einsum("mk,moi->koi", torch.cos(nodes[:, None] * k), at_nodes)
    coef_sin = 2 / plan.nodes * torch.einsum("mk,moi->koi", torch.sin(nodes[:, None] * k), at_nodes)
    u = x / plan.denominator  # (B, I)
    series = (
        at_nodes.mean(0)
        + torch.einsum("bik,koi->boi", torch.cos(u[..., None] * k), coef_cos)
        + torch.einsum("bik,koi->boi", torch.sin(u[..., None] * k), coef_sin)
    )
    exact = program.circuit_values(x, params)
    assert (series - exact).abs().max().item() < 1e-12, f"{circuit} is not a series of degree {plan.degree}"


@pytest.mark.parametrize("name", ["pz", "real", "mix"])
def test_builtin_bloch_vectors_are_series_of_degree_reps(name):
    assert_is_planned_series(builtin(name, 3))


def test_a_series_one_degree_short_would_be_caught():
    """The check above can fail: drop the last harmonic and pz's readout is no longer reproduced."""
    plan = make_codegen(builtin("pz", 2), LayerGeometry(3, 2), None).fourier
    plan.degree, plan.nodes = 1, 3
    with pytest.raises(AssertionError, match="not a series"):
        assert_is_planned_series(builtin("pz", 2), plan=plan)


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 10_000), n_ops=st.integers(1, 12))
def test_random_eligible_circuits_are_series_of_their_degree(seed, n_ops):
    circuit = random_circuit(1, n_ops, 2, seed)
    if not isinstance(make_codegen(circuit, LayerGeometry(3, 2), None), FourierCodegen):
        return
    assert_is_planned_series(circuit, seed)


def assert_fourier_compiles_without_spills(circuit: Circuit, geometry: LayerGeometry) -> None:
    gen = make_codegen(circuit, geometry, None)
    assert isinstance(gen, FourierCodegen)
    report = ptxas_report(gen.source, arch="sm_90")
    assert len(report) == len(name_expressions()), sorted(report)
    spilling = {k: v for k, v in report.items() if v["spill_stores"] or v["spill_loads"]}
    assert not spilling, f"{circuit.name}: register spills in {spilling}"


@needs_nvcc
def test_fourier_builtins_compile_without_spills_up_to_the_largest_degree():
    variants = list(itertools.product(["pz", "real", "mix"], ("amp", "z"), (1, MAX_FOURIER_DEGREE)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                assert_fourier_compiles_without_spills,
                builtin(name, reps, readout),
                LayerGeometry(
                    8, 6, groups=2 if reps == 1 else None, base_activation="gelu" if readout == "z" else "silu"
                ),
            )
            for name, readout, reps in variants
        ]
        for future in futures:
            future.result()
