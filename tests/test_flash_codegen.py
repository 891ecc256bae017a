"""The flash solver's generated CUDA source compiles for sm_90 with no register spills (CPU/CI:
needs nvcc, no GPU), for every built-in x readout x pre-activations (gate-walk kernels; the Fourier
kernels in test_flash_fourier.py) and for random circuits (whichever kernels the solver picks); plus
the solver's refusals off the GPU and above flash's qubit limit, and the launcher's argument packing."""

from __future__ import annotations

import ctypes
import itertools
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import random_circuit

from qkan.circuits import BUILTINS, Circuit, builtin
from qkan.solvers import LayerGeometry, UnsupportedCircuit
from qkan.solvers import compile as compile_program
from qkan.solvers.cuda_runtime import ArgumentSlots, _integer, nvcc_available, ptxas_report
from qkan.solvers.flash import FlashSolver, WalkCodegen, make_codegen
from qkan.solvers.flash.abi import name_expressions
from qkan.solvers.flash.kernels import backward_kernel, forward_kernel
from qkan.solvers.flash.kernels import source as kernel_source
from qkan.solvers.flash.tuning import MAX_KEPT_STATES, NB

needs_nvcc = pytest.mark.skipif(not nvcc_available(), reason="nvcc is not installed")


def assert_compiles_without_spills(circuit: Circuit, geometry: LayerGeometry, fourier=False) -> None:
    """The gate-walk kernels (``fourier=False``), or whichever the solver picks (None)."""
    report = ptxas_report(make_codegen(circuit, geometry, fourier).source, arch="sm_90")
    assert len(report) == len(name_expressions()), sorted(report)  # every kernel compiled
    spilling = {k: v for k, v in report.items() if v["spill_stores"] or v["spill_loads"]}
    assert not spilling, f"{circuit.name}: register spills in {spilling}"


@needs_nvcc
def test_builtins_compile_without_spills():
    variants = list(itertools.product(sorted(BUILTINS), ("amp", "z"), (False, True)))
    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(assert_compiles_without_spills, builtin(name, 3, readout), LayerGeometry(8, 6, preacts=preacts))
            for name, readout, preacts in variants
        ]
        for future in futures:
            future.result()


@needs_nvcc
@pytest.mark.parametrize("name, fourier", [(n, None) for n in sorted(BUILTINS)] + [("pz", False), ("real", False)])
def test_reduced_precision_kernels_compile_without_spills(name, fourier):
    """The bf16/fp16 I/O family (float compute): only the batch kernels, each without spills (every built-in as
    the solver picks its kernels, and two on the gate walk)."""
    gen = make_codegen(builtin(name, 3), LayerGeometry(8, 6, preacts=True), fourier)
    report = ptxas_report(kernel_source(gen, "reduced"), arch="sm_90")
    assert len(report) == len(name_expressions("reduced")), sorted(report)
    spilling = {k: v for k, v in report.items() if v["spill_stores"] or v["spill_loads"]}
    assert not spilling, f"{name}: register spills in {spilling}"


@needs_nvcc
@settings(max_examples=3, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n_ops=st.integers(1, 16),
    preacts=st.booleans(),
    activation=st.sampled_from(["silu", "gelu", "tanh", None]),
)
def test_random_circuits_compile_without_spills(seed, n_ops, preacts, activation):
    circuit = random_circuit(1, n_ops, 3, seed)
    assert_compiles_without_spills(
        circuit, LayerGeometry(5, 4, groups=2, preacts=preacts, base_activation=activation), fourier=None
    )


def test_shared_sincos_and_folded_constants():
    """pz without pre-activations: the three data gates RZ(x) share one sincos, computed once per
    (sample, input) in the staging loop; the constant H is folded into the first block's per-edge
    Bloch rotation, so no per-sample code multiplies by 1/sqrt(2). With pre-activations each gate has its own."""
    gen = make_codegen(builtin("pz", 3), LayerGeometry(4, 4), fourier=False)
    assert isinstance(gen, WalkCodegen)
    assert gen.plan.trig_gates == [0] and gen.plan.x_trig == [0] and gen.plan.trig_of == [0, 0, 0]
    forward = forward_kernel(gen)
    assert forward.count("qsincos(") == 1
    assert "0.7071067811865476" not in forward
    assert len([n for n in gen.layout.table_names if n.startswith("R")]) == 4 * 9
    affine = make_codegen(builtin("pz", 3), LayerGeometry(4, 4, preacts=True), fourier=False)
    assert affine.plan.trig_gates == [0, 1, 2] and affine.plan.x_trig == []
    assert forward_kernel(affine).count("qsincos(") == 3 * NB


@pytest.mark.parametrize("name", sorted(BUILTINS))
@pytest.mark.parametrize("fourier", [None, False])
def test_layer_sums_are_the_last_accumulators(name, fourier):
    """The kernels without the layer sums (SUMS=false) keep only the first circuit_acc_count accumulators, so the
    sums SG, SGF, SGS must be planned last, by either codegen."""
    layout = make_codegen(builtin(name, 2), LayerGeometry(4, 3), fourier).layout
    size = layout.acc_size
    assert layout.layer_accs == tuple(range(size - 3, size)) and layout.circuit_acc_count == size - 3
    assert [layout.acc_names[p] for p in layout.layer_accs] == ["SG", "SGF", "SGS"]


@needs_nvcc
def test_long_circuits_undo_gates_and_compile_without_spills():
    """Beyond MAX_KEPT_STATES data gates the backward undoes each gate on the state instead of keeping it."""
    short, long = (make_codegen(builtin("pz", reps), LayerGeometry(4, 4), False) for reps in (MAX_KEPT_STATES, 5))
    assert short.plan.keeps_states and "const real kx" in backward_kernel(short)
    assert not long.plan.keeps_states and "const real kx" not in backward_kernel(long)
    assert_compiles_without_spills(builtin("pz", 5), LayerGeometry(4, 4, preacts=True))


def test_flash_refuses_cpu_and_multi_qubit_circuits():
    geometry = LayerGeometry(2, 2)
    with pytest.raises(UnsupportedCircuit, match="exact.*cutn"):
        compile_program("flash", builtin("pz", 2), geometry, torch.float32, "cpu")
    six = Circuit(6).h(0).cnot(0, 1).measure("z")
    reason = FlashSolver().unsupported_reason(six, geometry, torch.float32, torch.device("cuda"))
    assert "at most 5 qubits" in reason and "exact" in reason and "cutn" in reason
    with pytest.raises(UnsupportedCircuit, match="at most 5 qubits"):
        make_codegen(six, geometry, None)


def test_kernel_argument_slots_point_at_packed_values():
    """cuLaunchKernel reads argument k through slot pointer k: each must address its packed 8-byte value."""
    slots = ArgumentSlots(3)
    slots.pack([5, 2**40 + 3, -1])
    pointers = (ctypes.c_void_p * 3).from_address(slots.address)
    assert [ctypes.c_int64.from_address(p).value for p in pointers] == [5, 2**40 + 3, -1]
    assert _integer(np.int32(7)) == 7
    for bad in (1.5, True, "x"):
        with pytest.raises(TypeError, match="tensors or integers"):
            _integer(bad)
