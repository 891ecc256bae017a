"""torch.compile(fullgraph=True) of every QKAN model: no graph breaks, compiled equal to eager (outputs and
gradients), and no recompile when only the batch size changes. CPU with exact and cutn (an opaque op); CUDA with
flash (marker gpu), also under inductor's reduce-overhead and max-autotune modes and autocast."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._dynamo.testing import CompileCounter

from qkan import QKAN, QKANLayer
from qkan.models import GPT, HQKAN, HQKANClassifier

CPU_EXACT = pytest.param("cpu", "exact", id="cpu-exact")
CPU_CUTN = pytest.param("cpu", "cutn", id="cpu-cutn")  # not traceable: one opaque op per layer call
CUDA_FLASH = pytest.param("cuda", "flash", id="cuda-flash", marks=pytest.mark.gpu)
BACKENDS = [CPU_EXACT, CPU_CUTN, CUDA_FLASH]


def _skip_without(device: str) -> None:
    if device == "cuda" and not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")


def _models(solver: str, device: str):
    """(name, model, example input builder over a batch size, the output tensor of a call)."""
    gen = torch.Generator().manual_seed(0)
    gpt = GPT(64, 16, n_layer=1, n_head=2, n_embd=16, mlp="hqkan", solver=solver)
    return [
        ("layer", QKANLayer(3, 4, reps=2, solver=solver, seed=0), lambda b: torch.rand(b, 3, generator=gen) * 2 - 1),
        ("qkan", QKAN([3, 4, 2], reps=2, solver=solver, seed=0), lambda b: torch.rand(b, 3, generator=gen) * 2 - 1),
        ("hqkan", HQKAN(12, solver=solver), lambda b: torch.randn(b, 5, 12, generator=gen)),
        (
            "classifier",
            HQKANClassifier.for_digits(solver=solver, qkan_out=6, hidden=5, reps=1),
            lambda b: torch.rand(b, 1, 8, 8, generator=gen),
        ),
        ("gpt", gpt, lambda b: torch.randint(64, (b, 16), generator=gen)),
    ]


def _output(model, x):
    out = model(x)
    return out[0] if isinstance(out, tuple) else out


@pytest.mark.parametrize("device, solver", BACKENDS)
def test_fullgraph_compile_has_no_graph_breaks_and_matches_eager(device, solver):
    _skip_without(device)
    for name, model, make_input in _models(solver, device):
        model = model.to(device)
        x = make_input(6).to(device)
        explanation = torch._dynamo.explain(model)(x)
        assert explanation.graph_break_count == 0, (name, explanation.break_reasons)
        torch._dynamo.reset()
        compiled = torch.compile(model, fullgraph=True, backend="aot_eager")
        eager_out = _output(model, x)
        eager_out.float().square().sum().backward()
        eager_grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
        model.zero_grad(set_to_none=True)
        compiled_out = _output(compiled, x)
        compiled_out.float().square().sum().backward()
        compiled_grads = [p.grad for p in model.parameters() if p.grad is not None]
        torch.testing.assert_close(compiled_out, eager_out, rtol=1e-5, atol=1e-6, msg=name)
        assert len(compiled_grads) == len(eager_grads) > 0, name
        for got, want in zip(compiled_grads, eager_grads):
            torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-6, msg=name)
        torch._dynamo.reset()


@pytest.mark.parametrize("device, solver", BACKENDS)
def test_dynamic_batch_compiles_once(device, solver):
    """After the first dynamic compile, other batch sizes (1 included, with the batch marked unbacked as
    docs/design.md, "Layers and models" says) run the same graph."""
    _skip_without(device)
    model = QKAN([3, 5, 2], reps=2, solver=solver, seed=1).to(device)
    counter = CompileCounter()
    compiled = torch.compile(model, backend=counter, fullgraph=True, dynamic=True)
    for batch in (7, 1, 2, 33, 512):
        x = torch.rand(batch, 3, device=device)
        torch._dynamo.decorators.mark_unbacked(x, 0)
        torch.testing.assert_close(compiled(x), model(x), rtol=1e-5, atol=1e-6)
    assert counter.frame_count == 1
    torch._dynamo.reset()


@pytest.mark.gpu
@pytest.mark.parametrize("mode", ["reduce-overhead", "max-autotune"])
@pytest.mark.parametrize("amp", [None, torch.bfloat16], ids=["fp32", "bf16"])
def test_inductor_modes_on_flash(mode, amp):
    """inductor (CUDA graphs for reduce-overhead, autotuned kernels for max-autotune) around the flash ops:
    a GPT with the HQKAN feed-forward trains, compiled equal to eager within the dtype's tolerance."""
    _skip_without("cuda")
    torch.manual_seed(0)
    model = GPT(64, 16, n_layer=1, n_head=2, n_embd=16, mlp="hqkan", solver="flash").cuda()
    idx = torch.randint(64, (4, 16), device="cuda")
    compiled = torch.compile(model, mode=mode, fullgraph=True)
    with torch.autocast("cuda", dtype=amp or torch.float32, enabled=amp is not None):
        want = model(idx, idx)[1]
        for _ in range(3):  # reduce-overhead records its graph on a later call
            got = compiled(idx, idx)[1]
    tolerance = 2e-2 if amp else 1e-4
    torch.testing.assert_close(got.float(), want.float(), rtol=tolerance, atol=tolerance)
    got.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters() if p.requires_grad)
    torch._dynamo.reset()
