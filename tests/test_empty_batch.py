"""Issue 22: every layer and model gives an empty output for an empty batch, on every solver, and its backward
gives zero gradients of the parameters' shapes (and the input's), the baselines and every cutn contraction
route included. flash and cutn on CUDA are ``gpu``-marked."""

import pytest
import torch

from qkan import QKAN, QKANLayer
from qkan.baselines import BASELINES
from qkan.circuits import builtin
from qkan.models import HQKAN
from qkan.models.classifier import HQKANClassifier
from qkan.models.gpt import GPT
from qkan.quant import parse_spec, quantize

gpu = pytest.mark.gpu
SOLVERS = [
    pytest.param("exact", "cpu", id="exact"),
    pytest.param("cutn", "cpu", id="cutn-cpu"),
    pytest.param("auto", "cpu", id="auto-cpu"),
    pytest.param("exact", "cuda", id="exact-gpu", marks=gpu),
    pytest.param("flash", "cuda", id="flash-gpu", marks=gpu),
    pytest.param("cutn", "cuda", id="cutn-gpu", marks=gpu),
]

# (id, build(solver), empty input shape, output shape); float inputs unless the model takes token ids
MODELS = [
    ("layer", lambda s: QKANLayer(3, 2, reps=2, solver=s, preact_trainable=True), (0, 3), (0, 2)),
    ("layer grouped", lambda s: QKANLayer(4, 2, reps=2, solver=s, group=2), (0, 4), (0, 2)),
    (
        "layer real z",
        lambda s: QKANLayer(3, 2, reps=2, solver=s, ansatz=builtin("real", 2, "z"), postact_weight_trainable=True),
        (0, 3),
        (0, 2),
    ),
    ("model", lambda s: QKAN([3, 4, 2], reps=2, solver=s, base_activation="silu"), (0, 3), (0, 2)),
    ("model 3-d input", lambda s: QKAN([3, 2], reps=1, solver=s), (0, 5, 3), (0, 5, 2)),
    ("hqkan", lambda s: HQKAN(6, e=2, solver=s), (0, 4, 6), (0, 4, 6)),
    ("classifier", lambda s: HQKANClassifier(5, solver=s, image_size=8), (0, 3, 8, 8), (0, 5)),
    ("gpt", lambda s: GPT(11, 6, n_layer=1, n_head=2, n_embd=8, mlp="hqkan", solver=s), (0, 4), (0, 4, 11)),
    (
        "quantised model",
        lambda s: quantize(QKAN([3, 2], reps=1, solver=s), parse_spec("W8AF")),
        (0, 3),
        (0, 2),
    ),
]


@pytest.mark.parametrize("solver,device", SOLVERS)
@pytest.mark.parametrize("build,in_shape,out_shape", [m[1:] for m in MODELS], ids=[m[0] for m in MODELS])
def test_empty_batch_gives_empty_output_and_zero_gradients(build, in_shape, out_shape, solver, device):
    torch.manual_seed(0)
    model = build(solver).to(device)
    tokens = isinstance(model, GPT)
    x = torch.zeros(in_shape, dtype=torch.long, device=device) if tokens else torch.rand(in_shape, device=device)
    if not tokens:
        x.requires_grad_(True)
    out = model(x)
    y = out[0] if tokens else out
    assert y.shape == out_shape
    y.sum().backward()
    if not tokens:
        assert x.grad is not None and x.grad.shape == x.shape
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for name, p in trainable:
        assert p.grad is not None and p.grad.shape == p.shape and not p.grad.any(), name


@pytest.mark.parametrize("shape", [(0, 4), (2, 0, 4)])
@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_empty_batch(name, shape):
    torch.manual_seed(0)
    layer = BASELINES[name](4, 3)
    x = torch.randn(*shape, requires_grad=True)
    y = layer(x)
    assert y.shape == (*shape[:-1], 3)
    y.sum().backward()
    assert x.grad.shape == x.shape
    for pname, p in layer.named_parameters():
        assert p.grad is not None and p.grad.shape == p.shape and not p.grad.any(), pname
    if name != "mlp":
        assert layer.edge_values(torch.randn(0, 4)).shape == (0, 3, 4)


CUTN_CASES = [
    ("pz z", "pz", {}),
    ("real z, memory limit", "real", {"memory_limit": 4096}),
    ("pz amp", builtin("pz", 2, "amp"), {}),
    ("mix amp, memory limit", builtin("mix", 2, "amp"), {"memory_limit": 4096}),
    ("rpz environments", "rpz", {"backward": "environments"}),
]


@pytest.mark.parametrize("preacts", [False, True])
@pytest.mark.parametrize("ansatz,solver_kwargs", [c[1:] for c in CUTN_CASES], ids=[c[0] for c in CUTN_CASES])
def test_cutn_empty_batch(ansatz, solver_kwargs, preacts):
    model = QKAN(
        [3, 2, 2],
        reps=2,
        solver="cutn",
        ansatz=ansatz,
        seed=0,
        preact_trainable=preacts,
        solver_kwargs=solver_kwargs,
        dtype=torch.float64,
    )
    x = torch.rand(0, 3, dtype=torch.float64, requires_grad=True)
    y = model(x)
    assert y.shape == (0, 2)
    y.sum().backward()
    assert x.grad.shape == (0, 3)
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    for pname, p in trainable:
        assert p.grad is not None and p.grad.shape == p.shape and not p.grad.any(), pname
    layer = model.layers[0]
    assert layer.edge_values(x).shape == (0, 2, 3) and layer.circuit_values(x).shape == (0, 2, 3)
