"""cutn's memory budget on CPU (issue 22, "memory_limit is a promise"): the chunk is the largest whose estimated
peak fits, the estimate counts at least the tensors the layer really builds, too small a limit is refused
before anything runs with the smallest that works, and the target cases of the GPU test get chunks under their
limits. The CUDA allocator's measurement is tests/test_cutn_gpu.py::test_memory_limit_is_a_promise."""

import pytest
import torch

from qkan import QKANLayer
from qkan.circuits import builtin
from qkan.solvers import LayerGeometry
from qkan.solvers import compile as compile_program
from qkan.solvers.cutn.budget import MemoryLimitTooSmall, chunk_budget
from qkan.solvers.cutn.engines import EinsumEngine
from qkan.solvers.cutn.labels import BATCH

MIB = 2**20
TARGETS = [(100, 1000), (256, 4096)]  # (width of QKAN([w, w]), batch) of the GPU test


def program_and_network(width: int, readout: str, memory_limit=None, preacts=False, dtype=torch.float32):
    program = compile_program(
        "cutn", builtin("pz", 3, readout), LayerGeometry(width, width, preacts=preacts), dtype, "cpu",
        memory_limit=memory_limit,
    )  # fmt: skip
    return program, program.layer_network or program.values_network


@pytest.mark.parametrize("limit_mib", [300, 2048])
@pytest.mark.parametrize("width,batch", TARGETS)
@pytest.mark.parametrize("readout", ["amp", "z"])
@pytest.mark.parametrize("batch_grads", [False, True])
def test_chunk_is_the_largest_whose_peak_fits(width, batch, limit_mib, readout, batch_grads):
    limit = limit_mib * MIB
    _, network = program_and_network(width, readout, limit)
    budget = chunk_budget(network, batch, 8, batch_grads, cuda=True)
    largest = budget.largest_chunk(limit)
    if largest == 0:
        assert budget.smallest_limit() > limit
        return
    assert budget.peak_bytes(largest) <= limit < budget.peak_bytes(largest + 1)
    assert budget.workspace_room(limit, largest) >= largest * budget.workspace_per_sample


@pytest.mark.parametrize("limit_mib", [300, 2048])
@pytest.mark.parametrize("width,batch", TARGETS)
def test_gpu_targets_get_chunks_under_their_limits(width, batch, limit_mib):
    """The train-step case of the GPU test (input without gradient, amp readout) runs at both limits."""
    limit = limit_mib * MIB
    program, network = program_and_network(width, "amp", limit)
    chunk = program.chunk_size(network, batch, batch_grads=False)
    budget = chunk_budget(network, batch, 8, False, cuda=False)
    assert 1 <= chunk <= batch and budget.peak_bytes(chunk) <= limit


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("readout", ["amp", "z"])
def test_estimate_counts_the_tensors_the_layer_builds(readout, preacts):
    """Resident bytes cover the whole-batch operands (and their gradients); per-sample bytes cover a chunk's
    operands and its contraction result, measured on the tensors themselves."""
    batch, chunk = 64, 8
    layer = QKANLayer(6, 6, reps=3, solver="exact", preact_trainable=preacts, fast_measure=readout == "amp")
    _, network = program_and_network(6, readout, preacts=preacts)
    budget = chunk_budget(network, batch, 8, True, cuda=False)
    operands = network.operands(torch.rand(batch, 6), layer.params())
    carries = [BATCH in t.labels for t in network.tensors]
    whole = sum(o.nbytes for o, b in zip(operands, carries) if b)
    free = sum(o.nbytes for o, b in zip(operands, carries) if not b)
    if network.per_sample_edges:  # built per chunk: counted per sample
        assert budget.per_sample * chunk >= 2 * whole * chunk // batch
    else:
        assert budget.resident >= 2 * (whole + free)
    chunk_operands = [
        o.narrow(network.batch_dims()[k], 0, chunk) if b else o for k, (o, b) in enumerate(zip(operands, carries))
    ]

    result = EinsumEngine().contract(network.expression, network.path, chunk_operands)
    assert budget.per_sample * chunk >= result.nbytes


def test_too_small_a_limit_is_refused_before_anything_runs_with_one_that_works():
    layer = QKANLayer(32, 32, reps=3, solver="cutn", solver_kwargs={"memory_limit": 4096})
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    x = torch.rand(256, 32, requires_grad=True)
    with pytest.raises(MemoryLimitTooSmall, match=r"memory_limit=4096 bytes .* 32->32 .* batch 256") as info:
        layer(x)
    assert all(torch.equal(v, layer.state_dict()[k]) for k, v in before.items()) and x.grad is None
    smallest = int(str(info.value).split("works is ")[1].split(" bytes")[0])
    works = QKANLayer(32, 32, reps=3, solver="cutn", solver_kwargs={"memory_limit": smallest})
    program = works.program(torch.device("cpu"), torch.float32)
    assert program.chunk_size(program.values_network, 256, batch_grads=True) == 1
    works(x).sum().backward()  # runs, one sample per chunk
    with pytest.raises(MemoryLimitTooSmall):
        QKANLayer(32, 32, reps=3, solver="cutn", solver_kwargs={"memory_limit": smallest - 1})(x)
    assert isinstance(info.value, ValueError)


def test_empty_batch_and_no_limit_are_never_refused():
    program, network = program_and_network(8, "amp", memory_limit=1)
    assert program.chunk_size(network, 0) == 0
    unlimited, network = program_and_network(8, "amp")
    assert unlimited.chunk_size(network, 10**6) == 10**6
