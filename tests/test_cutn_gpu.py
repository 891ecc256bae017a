"""cutn on cuTensorNet (run with `pytest -m gpu` where cuQuantum is installed): parity with the float64
exact reference for both backward kinds, plans reused across steps, and memory bounded by
``memory_limit`` (a forward and backward of QKAN([100, 100]) at batch 1000 and QKAN([256, 256]) at batch 4096
under 300 MiB and 2 GiB; too small a limit refused, naming one that works)."""

import pytest
import torch
from test_cutn import REPS, I, O, assert_parity

from qkan import QKAN
from qkan.circuits import Circuit, builtin, data, theta
from qkan.solvers import LayerGeometry
from qkan.solvers.cutn.budget import MemoryLimitTooSmall

pytest.importorskip("cuquantum")
pytestmark = pytest.mark.gpu

ENTANGLING = [
    Circuit(2, reps=1, theta_shape=(2,))
    .h(0)
    .ry(1, theta(0))
    .rz(0, data(0))
    .cnot(0, 1)
    .rx(1, data(0, "affine") + theta(1))
    .cz(1, 0)
    .measure("z", 1),
    Circuit(3, reps=2, theta_shape=(2, 2))
    .h(0)
    .h(2)
    .rz(0, data(0))
    .cnot(0, 1)
    .ry(1, theta(0, 1))
    .cnot(1, 2)
    .rz(2, data(1, "affine"))
    .cz(0, 2)
    .ry(0, theta(1, 0))
    .measure("amp", 2),
]


@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize(
    "name,backward",
    [(n, "cutensornet") for n in ("pz", "rpz", "real", "px", "mix")] + [(n, "environments") for n in ("pz", "mix")],
)
def test_builtins_match_exact_on_cutensornet(name, readout, backward):
    for preacts, groups in ((False, None), (True, 2)):
        geometry = LayerGeometry(I, O, groups=groups, preacts=preacts)
        assert_parity(builtin(name, REPS, readout), geometry, torch.float64, 1e-10, "cuda", backward=backward)
    assert_parity(
        builtin(name, REPS, readout), LayerGeometry(I, O, preacts=True), torch.float32, 1e-5, "cuda", backward=backward
    )


@pytest.mark.parametrize("backward", ["cutensornet", "environments"])
@pytest.mark.parametrize("index", range(len(ENTANGLING)))
def test_entangling_circuits_match_exact_on_cutensornet(index, backward):
    circuit = ENTANGLING[index]
    for preacts in (False, True):
        assert_parity(circuit, LayerGeometry(I, O, preacts=preacts), torch.float64, 1e-10, "cuda", backward=backward)
    assert_parity(circuit, LayerGeometry(I, O), torch.float32, 1e-5, "cuda", backward=backward)


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("readout", ["amp", "z"])
def test_chunked_and_sliced_matches_exact_on_cutensornet(readout, preacts):
    """Chunks of one node over whole-batch operands, and checkpointed chunks (per-(o, i, b) operands)."""
    program = assert_parity(
        builtin("pz", REPS, readout),
        LayerGeometry(I, O, preacts=preacts),
        torch.float64,
        1e-10,
        "cuda",
        memory_limit=8 * 400,
    )
    assert program.chunk_size(program.layer_network or program.values_network, 5) < 5


def test_plans_are_reused_across_steps():
    model = QKAN([8, 8], solver="cutn", seed=0, device="cuda")
    x = torch.randn(64, 8, device="cuda")
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    counts = []
    for _ in range(3):
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()
        counts.append(len(model.layers[0].program(x.device, x.dtype).engine._networks))
    assert counts[0] == counts[1] == counts[2] > 0


def train_step_peak(model: QKAN, batch: int, steps: int = 2) -> tuple[int, torch.Tensor]:
    """(peak extra bytes allocated, last loss) over ``steps`` Adam steps of an MSE fit at ``batch``."""
    width = model.layers[0].in_dim, model.layers[-1].out_dim
    x, y = torch.randn(batch, width[0], device="cuda"), torch.randn(batch, width[1], device="cuda")
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    for _ in range(steps):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base, loss.detach()


def test_large_train_step_stays_under_memory_limit():
    """QKAN([256, 256]) at batch 4096 with memory_limit=1 GiB: peak extra memory < 1.5 GiB."""
    model = QKAN([256, 256], solver="cutn", seed=0, device="cuda", solver_kwargs={"memory_limit": 2**30})
    peak, loss = train_step_peak(model, 4096)
    assert torch.isfinite(loss)
    assert peak < 1.5 * 2**30, f"peak extra memory {peak / 2**20:.0f} MiB"


def test_workspaces_are_sized_to_need_within_the_share():
    """Each network's workspace is within the engine's limit and sized to its need, not the whole share
    (QKAN([100, 100]) at batch 1000: cuTensorNet would take up to about 1 GiB of scratch per network)."""
    model = QKAN([100, 100], solver="cutn", seed=0, device="cuda", solver_kwargs={"memory_limit": 4 * 2**30})
    x = torch.randn(1000, 100, device="cuda")
    model(x).square().mean().backward()
    engine = model.layers[0].program(x.device, x.dtype).engine
    sizes = [n.workspace_scratch_size + n.workspace_cache_size for n in engine._networks.values()]
    assert sizes and max(sizes) < engine.workspace_limit / 4, (
        f"workspaces {sizes} of a {engine.workspace_limit}-byte limit"
    )


def test_wide_train_step_stays_under_memory_limit():
    """QKAN([100, 100]) at batch 1000 with memory_limit=300 MiB, both readouts: peak extra memory < 300 MiB."""
    for readout in ("amp", "z"):
        model = QKAN(
            [100, 100],
            solver="cutn",
            seed=0,
            device="cuda",
            fast_measure=readout == "amp",
            solver_kwargs={"memory_limit": 300 * 2**20},
        )
        peak, loss = train_step_peak(model, 1000)
        assert torch.isfinite(loss)
        assert peak < 300 * 2**20, f"{readout}: peak extra memory {peak / 2**20:.0f} MiB"


def test_four_qubit_ring_trains_on_cutensornet():
    """The issue's entangling case: a 4-qubit ring (3 re-uploads, CNOT ring) on QKAN([32, 32]) at batch 1024
    trains for several Adam steps (its backward first tried at its least workspace, then the whole limit)."""
    circuit = Circuit(4, reps=3, theta_shape=(4, 4))
    for q in range(4):
        circuit = circuit.h(q)
    for r in range(3):
        for q in range(4):
            circuit = circuit.ry(q, theta(r, q)).rz(q, data(r))
        for q in range(4):
            circuit = circuit.cnot(q, (q + 1) % 4)
    for q in range(4):
        circuit = circuit.ry(q, theta(3, q))
    model = QKAN([32, 32], ansatz=circuit.measure("z", 0), solver="cutn", seed=0, device="cuda")
    x = torch.randn(1024, 32, device="cuda")
    y = torch.sin(x).mean(dim=1, keepdim=True).expand(-1, 32).contiguous()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    losses = []
    for _ in range(6):
        opt.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert all(torch.isfinite(torch.tensor(losses))) and losses[-1] < 0.8 * losses[0], losses


def forward_backward_peak(model: QKAN, batch: int) -> int:
    """Peak extra bytes the CUDA allocator holds over one forward and backward at ``batch`` (model and input
    allocated before)."""
    x = torch.randn(batch, model.layers[0].in_dim, device="cuda")
    torch.cuda.synchronize()
    torch.cuda.empty_cache()
    base = torch.cuda.memory_allocated()
    torch.cuda.reset_peak_memory_stats()
    model(x).square().mean().backward()
    torch.cuda.synchronize()
    return torch.cuda.max_memory_allocated() - base


@pytest.mark.parametrize("limit_mib", [300, 2048])
@pytest.mark.parametrize("width,batch", [([100, 100], 1000), ([256, 256], 4096)])
@pytest.mark.parametrize("readout", ["amp", "z"])
def test_memory_limit_is_a_promise(width, batch, limit_mib, readout):
    """Forward and backward peak at most memory_limit (issue 22), both readouts, both sizes, both limits."""
    limit = limit_mib * 2**20
    options = {"memory_limit": limit}
    model = QKAN(width, solver="cutn", seed=0, device="cuda", fast_measure=readout == "amp", solver_kwargs=options)
    peak = forward_backward_peak(model, batch)
    assert peak <= limit, f"peak {peak / 2**20:.0f} MiB over the {limit_mib} MiB limit"


def test_too_small_a_limit_is_refused_with_one_that_works():
    model = QKAN([256, 256], solver="cutn", seed=0, device="cuda", solver_kwargs={"memory_limit": 16 * 2**20})
    with pytest.raises(MemoryLimitTooSmall, match="the smallest limit that works is") as info:
        model(torch.randn(4096, 256, device="cuda"))
    smallest = int(str(info.value).split("works is ")[1].split(" bytes")[0])
    model = QKAN([256, 256], solver="cutn", seed=0, device="cuda", solver_kwargs={"memory_limit": smallest})
    peak = forward_backward_peak(model, 4096)
    assert peak <= smallest, f"peak {peak / 2**20:.0f} MiB over the named {smallest / 2**20:.0f} MiB"
