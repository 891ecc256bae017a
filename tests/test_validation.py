"""Input value checks (NaN/inf, the arccos domain of px) under qkan.set_validation's modes: what each mode
catches on CPU, no graph break under torch.compile, and on CUDA (marker gpu) no host sync by default and
"async" failing the stream at the next sync point."""

import subprocess
import sys
import textwrap

import pytest
import torch
import torch._dynamo

import qkan
from qkan import QKAN, QKANLayer, get_validation, set_validation

NAN = [[float("nan"), 0.0]]
INF = [[0.1, float("inf")]]
OUT_OF_DOMAIN = [[1.5, -0.2]]  # px: w*x + c = 1.5 with the initial w=1, c=0
BAD_INPUTS = [
    pytest.param("pz", NAN, r"input contains NaN or inf", id="nan"),
    pytest.param("pz", INF, r"input contains NaN or inf", id="inf"),
    pytest.param("px", OUT_OF_DOMAIN, r"arccos-encoded data .* got values in \[-0\.2, 1\.5\]", id="px"),
]


@pytest.fixture(autouse=True)
def restore_mode():
    saved = get_validation()
    yield
    set_validation(saved)


def test_default_mode_is_auto_and_bad_modes_are_refused():
    assert get_validation() == "auto"
    with pytest.raises(ValueError, match=r"mode must be one of \('auto', 'full', 'async', 'off'\), got 'fast'"):
        set_validation("fast")
    assert get_validation() == "auto"
    assert qkan.__all__.count("set_validation") == 1 and "get_validation" in qkan.__all__


@pytest.mark.parametrize("mode", ["auto", "full", "async"])
@pytest.mark.parametrize("ansatz, rows, message", BAD_INPUTS)
def test_checking_modes_raise_at_the_call_on_cpu(mode, ansatz, rows, message):
    """On CPU "async" behaves like "full": nothing to gain from deferring."""
    set_validation(mode)
    layer = QKANLayer(2, 3, ansatz=ansatz, seed=0)
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    for method in (layer, layer.edge_values, layer.circuit_values):
        with pytest.raises(ValueError, match=message):
            method(torch.tensor(rows))
    assert all(torch.equal(v, before[k]) for k, v in layer.state_dict().items())


@pytest.mark.parametrize("ansatz, rows, message", BAD_INPUTS)
def test_off_lets_bad_input_through(ansatz, rows, message):
    set_validation("off")
    assert torch.isnan(QKANLayer(2, 3, ansatz=ansatz, seed=0)(torch.tensor(rows))).any()


@pytest.mark.parametrize(
    "check_finite, mode, raises",
    [(True, "off", True), (False, "full", False), (None, "full", True), (None, "off", False)],
)
def test_check_finite_overrides_the_mode(monkeypatch, check_finite, mode, raises):
    """The published per-class switch still works: True is "full", False is "off", None follows the mode."""
    set_validation(mode)
    monkeypatch.setattr(QKANLayer, "check_finite", check_finite)
    layer = QKANLayer(2, 1, ansatz="px", seed=0)
    for rows in (NAN, OUT_OF_DOMAIN):
        if raises:
            with pytest.raises(ValueError):
                layer(torch.tensor(rows))
        else:
            assert torch.isnan(layer(torch.tensor(rows))).all()


def test_domain_edges_and_empty_batches_pass():
    layer = QKANLayer(2, 1, ansatz="px", seed=0)
    layer(torch.tensor([[1.0, -1.0]]))
    assert layer(torch.empty(0, 2)).shape == (0, 1)


def test_grouped_px_layer_checks_every_group():
    layer = QKANLayer(3, 2, ansatz="px", group=2, preact_trainable=True, seed=0)
    with torch.no_grad():
        layer.preacts_weight[1].fill_(2.0)  # inputs 1 (i mod 2 = 1) see 2x
    layer(torch.tensor([[0.9, 0.4, 0.9]]))
    with pytest.raises(ValueError, match=r"got values in \[.*, 1\.2\]"):
        layer(torch.tensor([[0.9, 0.6, 0.9]]))


def _graph_breaks(model, x) -> int:
    torch._dynamo.reset()
    return torch._dynamo.explain(model)(x).graph_break_count


@pytest.mark.parametrize("mode", ["auto", "full", "async", "off"])
def test_compiled_model_has_no_graph_break_and_still_checks(mode):
    """While tracing, checks assert on the device (torch._assert_async): on CPU that raises RuntimeError
    at the call; "off" compiles them away."""
    set_validation(mode)
    model = QKAN([2, 3, 1], ansatz="px", seed=0)
    x = torch.tensor([[0.3, -0.5], [0.1, 0.9]])
    assert _graph_breaks(model, x) == 0
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True)
    torch.testing.assert_close(compiled(x), model(x))
    for rows in (NAN, OUT_OF_DOMAIN):
        if mode == "off":
            assert torch.isnan(compiled(torch.tensor(rows))).all()
        else:
            with pytest.raises(RuntimeError, match="NaN or inf" if rows is NAN else "arccos-encoded data"):
                compiled(torch.tensor(rows))


# ----- CUDA -----------------------------------------------------------------------------------
@pytest.mark.gpu
@pytest.mark.parametrize("ansatz, width", [("pz", [3, 4, 2]), ("px", [3, 2])])  # px: inputs stay in [-1, 1]
def test_default_mode_trains_on_cuda_without_a_host_sync(ansatz, width):
    model = QKAN(width, ansatz=ansatz, seed=0, device="cuda")
    x = torch.rand(16, 3, device="cuda") * 1.8 - 0.9
    model(x).square().sum().backward()  # warm-up: programs compiled, constant matrices on the device
    model.zero_grad()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        model(x).square().sum().backward()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)


@pytest.mark.gpu
@pytest.mark.parametrize("ansatz, rows, message", BAD_INPUTS)
def test_full_mode_raises_at_the_call_on_cuda(ansatz, rows, message):
    set_validation("full")
    with pytest.raises(ValueError, match=message):
        QKANLayer(2, 3, ansatz=ansatz, seed=0, device="cuda")(torch.tensor(rows, device="cuda"))


@pytest.mark.gpu
@pytest.mark.parametrize("ansatz, rows", [("pz", NAN), ("px", OUT_OF_DOMAIN)], ids=["nan", "px"])
def test_async_mode_fails_the_stream_at_the_next_sync(ansatz, rows):
    """A failed device assert leaves the CUDA context unusable, so this runs in its own process."""
    script = textwrap.dedent(f"""
        import torch, qkan
        nan, inf = float("nan"), float("inf")
        qkan.set_validation("async")
        layer = qkan.QKANLayer(2, 3, ansatz={ansatz!r}, seed=0, device="cuda")
        layer(torch.tensor([[0.1, 0.2]], device="cuda"))
        torch.cuda.synchronize()
        y = layer(torch.tensor({rows!r}, device="cuda"))
        print("returned", flush=True)
        try:
            torch.cuda.synchronize()
        except RuntimeError as error:
            print("raised at synchronize:", error, flush=True)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    out = proc.stdout
    assert "returned" in out and "raised at synchronize:" in out and "device-side assert" in out, proc.stderr
