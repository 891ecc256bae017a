"""Multi-qubit flash kernels on the CPU: the lowered instruction list (numpy interpreter) and the printed
per-sample CUDA code itself (run line by line as Python) against the float64 exact solver, values and
every gradient, on the entangling built-ins and random circuits of 2-5 qubits; the sources compile for
sm_90 without spills up to 4 qubits; bad circuits are refused naming the property and exact/cutn."""

from __future__ import annotations

import math
import re
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from reference import PARAM_NAMES, random_circuit, random_tensors

from qkan.circuits import ENTANGLING_BUILTINS, Circuit, GateSpec, Theta, builtin, data, register_gate, theta
from qkan.circuits.bind import data_value
from qkan.circuits.circuit import Readout
from qkan.solvers import LayerGeometry, LayerParams, UnsupportedCircuit
from qkan.solvers import compile as compile_program
from qkan.solvers.cuda_runtime import nvcc_available, ptxas_report
from qkan.solvers.flash import FlashSolver, make_codegen
from qkan.solvers.flash.abi import name_expressions
from qkan.solvers.flash.amplitudes import adjoint, simulate
from qkan.solvers.flash.statevector import StatevectorCodegen
from qkan.solvers.flash.statevector_plan import MAX_FLASH_QUBITS
from qkan.solvers.flash.writer import CudaWriter

needs_nvcc = pytest.mark.skipif(not nvcc_available(), reason="nvcc is not installed")
CUDA = torch.device("cuda")


def ring(n: int, reps: int = 3) -> Circuit:
    """The 4-qubit target's shape: H, then per re-upload RY(theta) RZ(x) on every qubit and a CNOT ring."""
    c = Circuit(n)
    for q in range(n):
        c = c.h(q)
    for r in range(reps):
        for q in range(n):
            c = c.ry(q, theta(r, q)).rz(q, data(r))
        for q in range(n):
            c = c.cnot(q, (q + 1) % n)
    for q in range(n):
        c = c.ry(q, theta(reps, q))
    return c.measure("z", qubit=0).named(f"ring{n}")


# ----- the reference: one edge, one sample, through the exact solver -------------------------------------------
def exact_edge(circuit: Circuit, preacts: bool, seed: int):
    """(f, {x, theta, preacts_weight, preacts_bias: gradient of f}) and the edge's float64 values."""
    safe = "arccos" in circuit.data_encodings
    tensors = random_tensors(circuit.parameter_shape, 1, 1, circuit.data_reps, 1, arccos_safe=safe, seed=seed)
    tensors = {
        k: v.clone().requires_grad_(k in ("x", "theta", "preacts_weight", "preacts_bias")) for k, v in tensors.items()
    }
    program = compile_program("exact", circuit, LayerGeometry(1, 1, preacts=preacts), torch.float64, "cpu")
    f = program.circuit_values(tensors["x"], LayerParams(*(tensors[n] for n in PARAM_NAMES)))[0, 0, 0]
    names = ["x", "theta", "preacts_weight", "preacts_bias"]
    inputs = [tensors[n] for n in names]
    grads = torch.autograd.grad(f, inputs, allow_unused=True) if f.requires_grad else (None,) * len(inputs)
    grads = tuple(torch.zeros_like(tensors[n]) if g is None else g for n, g in zip(names, grads))
    values = {n: tensors[n].detach().numpy().reshape(-1) for n in names}
    values["theta"] = tensors["theta"].detach().numpy()[0, 0]
    return float(f.detach()), {n: g.numpy().reshape(-1) for n, g in zip(names, grads)}, values


def readout_cotangent(amplitudes: np.ndarray, circuit: Circuit) -> tuple[float, np.ndarray]:
    """f and dL/dRe + i dL/dIm of the amplitudes for L = f."""
    n, readout = circuit.n_qubits, circuit.measured
    bits = np.array([(k >> (n - 1 - readout.qubit)) & 1 for k in range(2**n)])
    p = [float(np.sum(np.abs(amplitudes[bits == b]) ** 2)) for b in (0, 1)]
    if readout.kind == "z":
        return p[0] - p[1], np.where(bits == 0, 2.0, -2.0) * amplitudes
    # a probability of exactly 0: the kink's zero subgradient
    scale = np.where(bits == 0, 1 / math.sqrt(p[0]) if p[0] else 0.0, -1 / math.sqrt(p[1]) if p[1] else 0.0)
    return math.sqrt(p[0]) - math.sqrt(p[1]), scale * amplitudes


def interpreted_edge(circuit: Circuit, preacts: bool, values: dict):
    """f and its gradients from the lowered instructions (amplitudes.simulate / adjoint), chained to the
    layer's tensors here by each rotation's angle expression."""
    plan = make_codegen(circuit, LayerGeometry(1, 1, preacts=preacts), None).plan
    x, th, w, c = values["x"][0], values["theta"], values["preacts_weight"], values["preacts_bias"]
    angles = []
    for op in plan.rotation_ops:
        terms = [
            coef * (th[s.index] if isinstance(s, Theta) else data_value(s, x, w, c, preacts))
            for s, coef in op.rotation_angle.terms
        ]
        angles.append(op.rotation_angle.const + sum(terms))
    f, cotangent = readout_cotangent(simulate(plan.lowered, angles), circuit)
    dangle = adjoint(plan.lowered, angles, cotangent)
    grads = {
        "x": np.zeros(1),
        "theta": np.zeros_like(th),
        "preacts_weight": np.zeros_like(w),
        "preacts_bias": np.zeros_like(c),
    }
    for op, d in zip(plan.rotation_ops, dangle):
        for s, coef in op.rotation_angle.terms:
            if isinstance(s, Theta):
                grads["theta"][s.index] += coef * d
            elif s.resolved_encoding(preacts) == "raw":
                grads["x"][0] += coef * d
            else:  # affine u = w x + c, or arccos u
                du = coef * d
                if s.resolved_encoding(preacts) == "arccos":
                    du /= -math.sqrt(1 - (w[s.rep] * x + c[s.rep]) ** 2)
                grads["x"][0] += w[s.rep] * du
                grads["preacts_weight"][s.rep] += x * du
                grads["preacts_bias"][s.rep] += du
    grads["theta"] = grads["theta"].reshape(-1)
    return f, grads


# ----- the printed CUDA code, run as Python ----------------------------------------------------------------------
def _python(lines: list[str]) -> str:
    """The generated C statements (declarations, assignments, qsincos, ternaries) as Python."""
    out = []
    for line in lines:
        for stmt in line.replace("{", ";").replace("}", ";").split(";"):
            stmt = stmt.strip()
            if not stmt or stmt.startswith("(void)"):
                continue
            if m := re.fullmatch(r"qsincos\((.*), &(\w+), &(\w+)\)", stmt):
                out.append(f"{m[2]}, {m[3]} = sin({m[1]}), cos({m[1]})")
                continue
            declared = re.match(r"(const )?real (.*)", stmt)
            items = [i.strip() for i in declared[2].split(",")] if declared else [stmt]
            for item in items:
                if "=" not in item:
                    continue
                if m := re.fullmatch(r"(\w+) = (.*) \? (.*) : (.*)", item):
                    item = f"{m[1]} = ({m[3]}) if ({m[2]}) else ({m[4]})"
                out.append(item)
    return "\n".join(out)


def run(lines_of, namespace: dict) -> None:
    w = CudaWriter()
    lines_of(w)
    exec(_python(w.lines), namespace)


def printed_edge(circuit: Circuit, preacts: bool, values: dict):
    """f and its gradients from the generated code: the table (edge kernel's body), the sample's x-only and
    per-edge values, the state, readout, cotangent and backward walk, and the parameter kernel's mapping."""
    gen = make_codegen(circuit, LayerGeometry(1, 1, preacts=preacts, base_activation=None), None)
    assert isinstance(gen, StatevectorCodegen)
    plan = gen.plan
    ns: dict = {"real": float, "sqrt": math.sqrt, "acos": math.acos, "sin": math.sin, "cos": math.cos}
    ns.update(sigma=lambda v: v, dsigma=lambda v: 1.0)  # the base branch is not part of f
    ns["th"] = list(values["theta"].reshape(-1))
    run(lambda w: gen.write_theta_values(w, lambda slot, expr: f"t{slot} = {expr};"), ns)
    for rep, (wt, c) in plan.pre_slots.items():
        ns[f"t{wt}"], ns[f"t{c}"] = values["preacts_weight"][rep], values["preacts_bias"][rep]
    ns["xv"], ns["dst"] = values["x"][0], [0.0] * gen.x_width
    run(lambda w: gen.write_x_values(w, "dst"), ns)
    ns["src"] = ns["dst"]
    run(lambda w: gen.write_x_load(w, "src"), ns)
    run(gen.write_sample_setup, ns)
    run(lambda w: gen.write_state(w, keep=False), ns)
    run(lambda w: gen.write_readout(w, lazy=False), ns)
    ns.update({f"acc{p}": 0.0 for p in range(gen.layout.acc_size)}, gf=1.0, gxl=0.0)
    run(gen.write_readout_cotangent, ns)
    run(gen.write_backward_walk, ns)
    ns["a"] = [ns[f"acc{p}"] for p in range(gen.layout.acc_size)]
    ns["g"] = [0.0] * plan.theta_numel
    run(lambda w: gen.write_theta_gradients(w, lambda p: f"a[{p}]"), ns)
    grads = {"x": np.array([ns["gxl"]]), "theta": np.array(ns["g"])}
    for name, k in (("preacts_weight", 0), ("preacts_bias", 1)):
        grads[name] = np.zeros(circuit.data_reps)
        for rep, accs in plan.pre_acc.items():
            grads[name][rep] = ns["a"][accs[k]]
    return ns["f"], grads


def assert_matches_exact(circuit: Circuit, preacts: bool, seed: int) -> None:
    f, grads, values = exact_edge(circuit, preacts, seed)
    for how in (interpreted_edge, printed_edge):
        got_f, got = how(circuit, preacts, values)
        assert got_f == pytest.approx(f, abs=1e-12), how.__name__
        for name, g in grads.items():
            np.testing.assert_allclose(got[name], g, atol=1e-10, err_msg=f"{how.__name__}: d f / d {name}")


@pytest.mark.parametrize("name", sorted(ENTANGLING_BUILTINS))
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("preacts", [False, True])
def test_entangling_builtins_match_exact(name, readout, preacts):
    assert_matches_exact(builtin(name, 2, readout), preacts, seed=1)


@pytest.mark.parametrize("n", [2, 3, 4, 5])
def test_rings_match_exact(n):
    assert_matches_exact(ring(n, reps=2), False, seed=n)


@settings(max_examples=25, deadline=None)
@given(n=st.integers(2, 5), n_ops=st.integers(1, 24), preacts=st.booleans(), seed=st.integers(0, 10_000))
def test_random_circuits_match_exact(n, n_ops, preacts, seed):
    assert_matches_exact(random_circuit(n, n_ops, 2, seed), preacts, seed)


def test_arccos_and_affine_encodings_with_theta_offsets_match_exact():
    c = (
        Circuit(3)
        .h(0)
        .rx(1, data(0, "arccos"))
        .cnot(0, 1)
        .ry(2, 0.3 + theta(0) - 2 * data(1, "affine"))
        .cz(1, 2)
        .rz(0, theta(1) + data(0, "arccos") + 0.5 * data(1))
        .cnot(2, 0)
        .ry(0, data(1, "raw"))
        .measure("amp", 0)
    )
    assert_matches_exact(c, True, seed=5)


def test_constant_gates_fold_and_permutations_rename():
    """CNOT, CZ, X and S lower to no mixes (renamed registers, a phase or sign each); a constant run on one
    qubit is one mix; gates after the last one touching the readout qubit's probabilities leave no code."""
    c = Circuit(2).h(0).h(0).h(0).cnot(0, 1).x(1).s(1).cz(0, 1).ry(1, theta(0)).rz(0, data(0)).h(1).measure("z", 0)
    lowered = make_codegen(c, LayerGeometry(1, 1), None).plan.lowered
    mixes = [type(i).__name__ + str(i.qubit) for i in lowered.instructions if type(i).__name__ == "Mix"]
    assert mixes == ["Mix0", "Mix1", "Mix0"]  # the folded H run, RY, RZ; the final H on qubit 1 is dropped


def test_readout_on_other_qubits_and_theta_rotation_accumulators():
    c = builtin("ring3", 1, "amp").measure("amp", 2)
    assert_matches_exact(c, False, seed=3)
    plan = make_codegen(c, LayerGeometry(1, 1), None).plan
    assert len(plan.param_rotations) == 2 * 3 * 2  # one accumulator each: no 3-component blocks
    assert plan.layout.acc_size == len(plan.param_rotations) + 3


# ----- refusals ---------------------------------------------------------------------------------------------------
def test_refuses_above_the_qubit_limit_naming_exact_and_cutn():
    six = Circuit(MAX_FLASH_QUBITS + 1).h(0).cnot(0, 1).measure("z")
    reason = FlashSolver().unsupported_reason(six, LayerGeometry(2, 2), torch.float32, CUDA)
    assert f"at most {MAX_FLASH_QUBITS} qubits" in reason and "exact" in reason and "cutn" in reason
    with pytest.raises(UnsupportedCircuit, match="at most 5 qubits.*exact.*cutn"):
        make_codegen(six, LayerGeometry(2, 2), None)
    assert FlashSolver().unsupported_reason(ring(5), LayerGeometry(2, 2), torch.float32, CUDA) in (
        None,
        FlashSolver().unsupported_reason(builtin("pz", 1), LayerGeometry(2, 2), torch.float32, CUDA),
    )  # 5 qubits: only what a one-qubit circuit meets too (CuPy absent here)


def test_refuses_gates_without_a_lowering_and_fourier():
    spec = GateSpec(
        "sqrt_swap_test",
        2,
        matrix=np.array([[1, 0, 0, 0], [0, 0.5 + 0.5j, 0.5 - 0.5j, 0], [0, 0.5 - 0.5j, 0.5 + 0.5j, 0], [0, 0, 0, 1]]),
    )
    register_gate(spec, replace=True)
    c = Circuit(2).h(0).gate("sqrt_swap_test", 0, 1).measure("z")
    reason = FlashSolver().unsupported_reason(c, LayerGeometry(2, 2), torch.float32, CUDA)
    assert "sqrt_swap_test" in reason and "permute" in reason and "exact" in reason and "cutn" in reason
    with pytest.raises(UnsupportedCircuit, match="sqrt_swap_test"):
        make_codegen(c, LayerGeometry(2, 2), None)
    with pytest.raises(UnsupportedCircuit, match="fourier=True"):
        make_codegen(ring(2), LayerGeometry(2, 2), True)


def test_refuses_a_readout_qubit_out_of_range():
    bad = Circuit(2, ops=builtin("ring2", 1).ops, readout=Readout("z", 3))
    reason = FlashSolver().unsupported_reason(bad, LayerGeometry(2, 2), torch.float32, CUDA)
    assert "readout qubit 3" in reason
    with pytest.raises(UnsupportedCircuit, match="readout qubit 3"):
        make_codegen(bad, LayerGeometry(2, 2), None)


# ----- compiled for sm_90 ----------------------------------------------------------------------------------------
def assert_compiles_without_spills(circuit: Circuit) -> None:
    report = ptxas_report(make_codegen(circuit, LayerGeometry(8, 6), None).source, arch="sm_90")
    assert len(report) == len(name_expressions()), sorted(report)
    spilling = {k: v for k, v in report.items() if v["spill_stores"] or v["spill_loads"]}
    assert not spilling, f"{circuit.name}: register spills in {spilling}"


@needs_nvcc
def test_compiles_without_spills_up_to_four_qubits():
    circuits = [builtin("ring2", 3), builtin("ring3", 3), ring(4)]
    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(assert_compiles_without_spills, c) for c in circuits]:
            future.result()
