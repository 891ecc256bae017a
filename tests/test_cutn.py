"""cutn solver on CPU (opt_einsum): parity with the float64 exact reference on every built-in ansatz
and on random multi-qubit circuits, forward and gradients; gradcheck; batch chunking; the
recontraction backward the GPU path uses; the lowering's shape of the network."""

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from qkan import QKANLayer
from qkan.circuits import BUILTINS, Circuit, builtin, data, theta
from qkan.solvers import LayerGeometry, LayerParams, UnsupportedCircuit
from qkan.solvers import compile as compile_program
from qkan.solvers.cutn import CutnSolver
from qkan.solvers.cutn.budget import chunk_budget
from qkan.solvers.cutn.engines import EinsumEngine
from qkan.solvers.cutn.gradients import ContractNetwork, environment_gradients
from qkan.solvers.cutn.network import CircuitNetwork
from qkan.solvers.cutn.paths import path_cost
from qkan.solvers.cutn.readout import amp_readout
from qkan.solvers.statevector import readout

B, I, O, REPS = 5, 3, 2, 2


def random_params(circuit: Circuit, geometry: LayerGeometry, dtype, seed: int = 0) -> LayerParams:
    """Layer tensors with every entry non-trivial (mask with one pruned edge), requiring grad."""
    g = torch.Generator().manual_seed(seed)
    edges = geometry.edge_shape
    reps = max(circuit.data_reps, 1)

    def rand(*shape, lo=-1.0, hi=1.0):
        return (lo + (hi - lo) * torch.rand(*shape, generator=g, dtype=torch.float64)).to(dtype).requires_grad_()

    out_dim, in_dim = geometry.out_dim, geometry.in_dim
    mask = torch.ones(out_dim, in_dim, dtype=dtype)
    mask[0, -1] = 0
    return LayerParams(
        rand(*edges, *circuit.parameter_shape, lo=-3, hi=3),
        rand(*edges, reps, lo=0.2, hi=0.5),
        rand(*edges, reps, lo=-0.3, hi=0.3),
        rand(out_dim, in_dim),
        rand(out_dim, in_dim),
        rand(out_dim, in_dim),
        mask,
    )


def inputs(dtype, seed: int = 1) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(B, I, generator=g, dtype=torch.float64) * 1.6 - 0.8).to(dtype).requires_grad_()


def outputs_and_grads(program, x, params):
    """layer_output, edge_values and the gradients of a fixed scalar of layer_output."""
    y = program.layer_output(x, params)
    edges = program.edge_values(x, params)
    weights = torch.linspace(-1, 1, y.numel(), dtype=y.dtype, device=y.device).reshape(y.shape)
    wanted = [x] + [p for p in params if p.requires_grad]
    grads = torch.autograd.grad((y * weights).sum(), wanted, allow_unused=True)
    return y, edges, [torch.zeros_like(w) if gr is None else gr for w, gr in zip(wanted, grads)]


def leaves(tensors, dtype, device):
    """Fresh leaf copies (grad flags kept) in ``dtype`` on ``device``."""
    return [t.detach().to(device, dtype).requires_grad_(t.requires_grad) for t in tensors]


def assert_parity(circuit, geometry, dtype, tol, device="cpu", **options):
    """cutn (dtype, device) against exact (float64, CPU): layer output, edge values, all gradients."""
    params, x = random_params(circuit, geometry, torch.float64), inputs(torch.float64)
    exact = compile_program("exact", circuit, geometry, torch.float64, "cpu")
    cutn = compile_program("cutn", circuit, geometry, dtype, device, **options)
    ref = outputs_and_grads(
        exact, *leaves([x], torch.float64, "cpu"), LayerParams(*leaves(params, torch.float64, "cpu"))
    )
    got = outputs_and_grads(cutn, *leaves([x], dtype, device), LayerParams(*leaves(params, dtype, device)))
    for r, c in zip(ref[:2] + tuple(ref[2]), got[:2] + tuple(got[2])):
        torch.testing.assert_close(c.cpu().double(), r, atol=tol, rtol=0)
    return cutn


@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", sorted(BUILTINS))
@pytest.mark.parametrize("preacts,groups", [(False, None), (True, None), (True, 2)])
def test_builtins_match_exact_in_float64(name, readout, preacts, groups):
    assert_parity(
        builtin(name, REPS, readout), LayerGeometry(I, O, groups=groups, preacts=preacts), torch.float64, 1e-10
    )


@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("name", ["pz", "px"])
def test_builtins_match_exact_in_float32(name, readout):
    assert_parity(builtin(name, REPS, readout), LayerGeometry(I, O, preacts=True), torch.float32, 1e-5)


GATES_1Q_FIXED = ["h", "x", "y", "z", "s"]
ROTATIONS = ["rx", "ry", "rz"]


@st.composite
def random_circuits(draw):
    """1-4 qubits, fixed gates, rotations with theta, data (each encoding) or mixed angles, CNOT/CZ."""
    n = draw(st.integers(1, 4))
    reps = draw(st.integers(1, 2))
    c = Circuit(n, reps=reps, theta_shape=(3, 2)).h(0)
    for _ in range(draw(st.integers(2, 9))):
        qubit = draw(st.integers(0, n - 1))
        kind = draw(st.sampled_from(GATES_1Q_FIXED + ROTATIONS * 2 + (["cnot", "cz"] * 2 if n > 1 else [])))
        if kind in ("cnot", "cz"):
            other = draw(st.integers(0, n - 1).filter(lambda q, qubit=qubit: q != qubit))
            c = c.gate(kind, qubit, other)
        elif kind in ROTATIONS:
            slot = draw(st.sampled_from(["theta", "raw", "auto", "affine", "mixed", "const"]))
            t = theta(draw(st.integers(0, 2)), draw(st.integers(0, 1)))
            encoding = {"theta": "auto", "const": "auto", "mixed": "affine"}.get(slot, slot)
            d = data(draw(st.integers(0, reps - 1)), encoding)
            angle = {"theta": t, "const": 0.7, "mixed": 0.5 * t + 2 * d - 0.3}.get(slot, d)
            c = c.gate(kind, qubit, angle=angle)
        else:
            c = c.gate(kind, qubit)
    return c.measure(draw(st.sampled_from(["amp", "z"])), draw(st.integers(0, n - 1)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(circuit=random_circuits(), preacts=st.booleans())
def test_random_entangling_circuits_match_exact(circuit, preacts):
    assert_parity(circuit, LayerGeometry(I, O, preacts=preacts), torch.float64, 1e-10)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    circuit=random_circuits(),
    preacts=st.booleans(),
    strategy=st.sampled_from(["circuit", "split"]),
    layer=st.booleans(),
)
def test_recontraction_backward_matches_autograd(circuit, preacts, strategy, layer):
    """The GPU path's backward (environments of each operand) on opt_einsum, along either path strategy,
    against torch autograd through the circuit-order contraction."""
    geometry = LayerGeometry(I, O, preacts=preacts)
    mode = ("layer" if layer else "expectation") if circuit.readout.kind == "z" else "amplitudes"
    network = CircuitNetwork(circuit, geometry, mode, strategy=strategy)
    assert network.split == (strategy == "split")
    operands = [
        o.detach().requires_grad_()
        for o in network.operands(inputs(torch.float64), random_params(circuit, geometry, torch.float64))
    ]
    engine = EinsumEngine()
    reference = engine.contract(network.expression, CircuitNetwork(circuit, geometry, mode, "circuit").path, operands)
    cotangent = torch.randn_like(reference)
    expected = torch.autograd.grad(reference, operands, cotangent)
    got = environment_gradients(engine, network, [o.detach() for o in operands], [True] * len(operands), cotangent)
    for e, g in zip(expected, got):
        torch.testing.assert_close(g, e, atol=1e-12, rtol=0)
    through_function = ContractNetwork.apply(engine, network, "environments", *operands)
    torch.testing.assert_close(through_function, reference, atol=1e-12, rtol=0)


@pytest.mark.parametrize("readout,mode", [("amp", "amplitudes"), ("z", "expectation"), ("z", "layer")])
def test_split_path_where_it_writes_less(readout, mode):
    """pz without pre-activations (data gates per (b, i)) is contracted edge side and data side apart: the
    only per-sample tensor as large as the output is the output itself, and far less is written than in
    circuit order; with pre-activations (data gates per (o, i, b)) the circuit order stays."""
    sizes = {"o": 100, "i": 100, "b": 1000}
    split = CircuitNetwork(builtin("pz", 3, readout), LayerGeometry(100, 100), mode)
    circuit = CircuitNetwork(builtin("pz", 3, readout), LayerGeometry(100, 100), mode, strategy="circuit")
    assert split.split and not circuit.split
    assert split.largest_per_sample <= circuit.largest_per_sample
    (split_flops, split_written), (_, circuit_written) = (
        path_cost(n.expression, n.path, sizes) for n in (split, circuit)
    )
    assert split_written * 4 < circuit_written and split_flops > 0
    assert not CircuitNetwork(builtin("pz", 3, readout), LayerGeometry(100, 100, preacts=True), mode).split
    with pytest.raises(ValueError, match="path strategy"):
        CircuitNetwork(builtin("pz", 3, readout), LayerGeometry(2, 2), mode, strategy="greedy")


def chunk_limit(circuit: Circuit, geometry: LayerGeometry, batch: int, chunk: int = 1) -> int:
    """The memory limit (bytes, float64 on CPU) under which the layer runs in chunks of ``chunk`` samples."""
    program = compile_program("cutn", circuit, geometry, torch.float64, "cpu")
    network = program.layer_network or program.values_network
    return chunk_budget(network, batch, 16, True, cuda=False).peak_bytes(chunk)


@pytest.mark.parametrize("limited", [False, True])
@pytest.mark.parametrize("readout", ["amp", "z"])
def test_gradcheck_float64(readout, limited):
    """Unchunked, and in chunks of the batch (the backward, run many times by gradcheck, reuses the
    forward's last chunk the first time only)."""
    circuit = (
        Circuit(2, reps=1, theta_shape=(2,))
        .h(0)
        .ry(1, theta(0))
        .rz(0, data(0))
        .cnot(0, 1)
        .rx(1, data(0) + theta(1))
        .cz(1, 0)
        .measure(readout, 1)
    )
    geometry = LayerGeometry(2, 2, preacts=True)
    memory_limit = chunk_limit(circuit, geometry, 3) if limited else None
    program = compile_program("cutn", circuit, geometry, torch.float64, "cpu", memory_limit=memory_limit)
    assert program.chunk_size(program.layer_network or program.values_network, 3) == (1 if limited else 3)
    params = random_params(circuit, geometry, torch.float64)
    x = torch.rand(3, 2, dtype=torch.float64, requires_grad=True)
    trainable = [p for p in params if p.requires_grad]

    def fn(x, *tensors):
        it = iter(tensors)
        return program.layer_output(x, LayerParams(*[next(it) if p.requires_grad else p for p in params]))

    assert torch.autograd.gradcheck(fn, (x, *trainable))


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("readout", ["amp", "z"])
def test_chunked_batch_matches_exact(readout, preacts):
    """A memory limit small enough to split the batch into chunks: chunks of one node over whole-batch
    operands (contracted again in backward), or, with per-(o, i, b) operands, checkpointed chunks."""
    circuit, geometry = builtin("pz", REPS, readout), LayerGeometry(I, O, preacts=preacts)
    memory_limit = chunk_limit(circuit, geometry, B, chunk=2)
    program = compile_program("cutn", circuit, geometry, torch.float64, "cpu", memory_limit=memory_limit)
    network = program.layer_network or program.values_network
    assert program.chunk_size(network, B) == 2 and network.per_sample_edges == preacts
    assert_parity(circuit, geometry, torch.float64, 1e-10, memory_limit=memory_limit)


def test_layer_trains_with_cutn():
    torch.manual_seed(0)
    layer = QKANLayer(3, 2, reps=2, solver="cutn", dtype=torch.float64, seed=0)
    reference = QKANLayer(3, 2, reps=2, solver="exact", dtype=torch.float64, seed=0)
    x, target = torch.rand(16, 3, dtype=torch.float64), torch.rand(16, 2, dtype=torch.float64)
    for model in (layer, reference):
        opt = torch.optim.Adam(model.parameters(), lr=0.05)
        for _ in range(5):
            opt.zero_grad()
            loss = (model(x) - target).square().mean()
            loss.backward()
            opt.step()
    torch.testing.assert_close(layer.theta, reference.theta, atol=1e-10, rtol=0)


def test_lowering_uses_hyperedges_vectors_and_four_index_gates():
    circuit = Circuit(2, reps=1).h(0).rz(0, data(0)).ry(1, theta(0)).cnot(0, 1).cz(0, 1).measure("z")
    network = CircuitNetwork(circuit, LayerGeometry(I, O), "layer")
    labels = network.expression.split("->")[0].split(",")
    assert network.expression.endswith("->bo")
    assert any(
        l.startswith("ib") and len(l) == 3 for l in labels
    )  # raw data RZ: a vector on the wire, per (i, b), no o
    assert any(l.startswith("oi") and len(l) == 4 for l in labels)  # theta block per edge (o, i)
    assert sum(len(l) == 4 and not l.startswith("oi") for l in labels) == 2  # CNOT (ket and bra)
    assert all(l.count(c) <= 1 for l in labels for c in l)


@pytest.mark.parametrize("readout", ["amp", "z"])
def test_circuit_without_data_broadcasts_over_the_batch(readout):
    """The contraction has no sample label: its output is broadcast over the batch, its cotangent summed."""
    circuit = Circuit(1, reps=0, theta_shape=(1,)).h(0).ry(0, theta(0)).measure(readout)
    assert_parity(circuit, LayerGeometry(I, O), torch.float64, 1e-10)


def test_options_and_unsupported_reasons(monkeypatch):
    circuit, geometry = builtin("pz", 1), LayerGeometry(2, 2)
    with pytest.raises(TypeError):
        compile_program("cutn", circuit, geometry, torch.float64, "cpu", chunk=3)
    with pytest.raises(ValueError, match="fractional memory_limit"):
        compile_program("cutn", circuit, geometry, torch.float64, "cpu", memory_limit=1.5)
    with pytest.raises(ValueError, match="backward must be one of"):
        compile_program("cutn", circuit, geometry, torch.float64, "cpu", backward="autograd")
    solver = CutnSolver()
    assert "float32 or float64" in solver.unsupported_reason(circuit, geometry, torch.float16, torch.device("cpu"))
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    reason = solver.unsupported_reason(circuit, geometry, torch.float32, torch.device("cuda"))
    assert "cuQuantum" in reason and "exact" in reason
    with pytest.raises(UnsupportedCircuit, match="cuQuantum"):
        compile_program("cutn", circuit, geometry, torch.float32, "cuda")


@pytest.mark.parametrize("qubit,n_qubits", [(0, 1), (0, 3), (1, 3), (2, 3)])
def test_amp_readout_matches_torch_autograd(qubit, n_qubits):
    """The lean amp readout node: values and gradients equal torch autograd through the statevector
    readout (a zero-norm half included, where both give the subgradient 0); gradcheck in float64."""
    g = torch.Generator().manual_seed(qubit + 10 * n_qubits)
    amplitudes = torch.randn(4, 3, 2**n_qubits, dtype=torch.complex128, generator=g)
    amplitudes.view(4, 3, 2**qubit, 2, -1)[0, 0, :, 1] = 0  # P(1) = 0 on one edge
    cotangent = torch.randn(4, 3, dtype=torch.float64, generator=g)
    ours = amplitudes.clone().requires_grad_()
    reference = amplitudes.clone().requires_grad_()
    f = amp_readout(ours, qubit, n_qubits)
    expected = readout(reference, "amp", qubit, n_qubits)
    torch.testing.assert_close(f, expected, atol=1e-14, rtol=0)
    (grad,) = torch.autograd.grad(f, ours, cotangent)
    (expected_grad,) = torch.autograd.grad(expected, reference, cotangent)
    torch.testing.assert_close(grad, expected_grad, atol=1e-14, rtol=0)
    nonzero = torch.randn(2, 2**n_qubits, dtype=torch.complex128, generator=g, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: amp_readout(a, qubit, n_qubits), (nonzero,))
