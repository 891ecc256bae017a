"""Classical baselines on CPU: shapes, float64 gradients, state_dict round trips, input errors,
the spline's exact identity init, the rational presets' fit quality, and the CUDA source's ptxas report."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from qkan.baselines import BASELINES, MLP, RATIONAL_PRESETS, BSplineKAN, FastKAN, RationalKAN, SplineKAN
from qkan.baselines.mlp import mlp_parameter_count
from qkan.baselines.rational_math import ACTIVATIONS, fit_safe_pade, grouped_safe_pade
from qkan.solvers.cuda_runtime import nvcc_available, ptxas_report

NAMES = sorted(BASELINES)
KAN_NAMES = [n for n in NAMES if n != "mlp"]
# edge_values summed over inputs gives forward, up to these layers' output bias
BIAS_ATTR = {"rational": "bias", "fastkan": "base_bias"}


def build(name, in_dim=4, out_dim=3, seed=0, **options):
    torch.manual_seed(seed)
    if name == "mlp":
        options.setdefault("hidden", 5)
    return BASELINES[name](in_dim, out_dim, **options)


def test_registry_names():
    assert set(BASELINES) == {"spline", "bspline", "rational", "fastkan", "mlp"}
    assert BASELINES["spline"] is SplineKAN and BASELINES["bspline"] is BSplineKAN
    assert BASELINES["rational"] is RationalKAN and BASELINES["fastkan"] is FastKAN and BASELINES["mlp"] is MLP


@pytest.mark.parametrize("name", NAMES)
def test_shapes_and_backward(name):
    layer = build(name)
    for shape in [(7, 4), (2, 5, 4), (4,)]:
        x = (torch.randn(*shape) * 1.5).requires_grad_(True)
        y = layer(x)
        assert y.shape == (*shape[:-1], 3)
        layer.zero_grad()
        y.square().sum().backward()
        assert x.grad.shape == x.shape and torch.isfinite(x.grad).all()
        for pname, p in layer.named_parameters():
            if p.requires_grad:
                assert p.grad is not None and p.grad.shape == p.shape, pname
    assert "in_dim=4, out_dim=3" in repr(layer)


@pytest.mark.parametrize("name", NAMES)
def test_gradcheck_float64(name):
    layer = build(name, 3, 2, dtype=torch.float64)
    x = (torch.randn(5, 3, dtype=torch.float64) * 1.3).requires_grad_(True)
    params = [p for p in layer.parameters() if p.requires_grad]

    def fn(x, *values):
        return torch.func.functional_call(
            layer, dict(zip([n for n, p in layer.named_parameters() if p.requires_grad], values)), (x,)
        )

    # parameters moved off their init: presets hold near-zero |b| (a kink) that finite differences would straddle
    moved = [(p.detach() + 0.1 + 0.05 * torch.randn_like(p)).requires_grad_(True) for p in params]
    assert torch.autograd.gradcheck(fn, (x, *moved))


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_round_trip(name):
    source, target = build(name, seed=1), build(name, seed=2)
    x = torch.randn(6, 4)
    assert not torch.equal(source(x), target(x))
    target.load_state_dict(source.state_dict())
    assert torch.equal(source(x), target(x))


@pytest.mark.parametrize("name", NAMES)
def test_reset_parameters_redraws(name):
    layer = build(name)
    x = torch.randn(6, 4)
    before = layer(x)
    torch.manual_seed(123)
    layer.reset_parameters()
    after = layer(x)
    assert after.shape == before.shape and torch.isfinite(after).all()


@pytest.mark.parametrize("name", KAN_NAMES)
def test_edge_values_sum_to_forward(name):
    layer = build(name, dtype=torch.float64)
    x = torch.randn(9, 4, dtype=torch.float64) * 2
    edges = layer.edge_values(x)
    assert edges.shape == (9, 3, 4)
    total = edges.sum(-1)
    if name in BIAS_ATTR:
        total = total + getattr(layer, BIAS_ATTR[name])
    torch.testing.assert_close(total, layer(x), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("name", NAMES)
def test_bad_input(name):
    layer = build(name)
    with pytest.raises(ValueError, match=r"\(\.\.\., 4\)"):
        layer(torch.randn(5, 3))
    with pytest.raises(ValueError, match="shape"):
        layer(torch.tensor(1.0))
    with pytest.raises(TypeError, match="floating-point"):
        layer(torch.ones(5, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="float64 but the layer's parameters are torch.float32"):
        layer(torch.randn(5, 4, dtype=torch.float64))
    with pytest.raises(TypeError, match="torch.Tensor"):
        layer([[0.0] * 4])
    with pytest.raises(ValueError, match="is on meta but the layer is on cpu"):
        layer(torch.empty(5, 4, device="meta"))
    with pytest.raises(TypeError):
        BASELINES[name](4, 3, no_such_option=1)
    with pytest.raises(ValueError, match="in_dim must be a positive integer"):
        BASELINES[name](0, 3)
    if name != "mlp":
        with pytest.raises(ValueError, match=r"\(batch, 4\)"):
            layer.edge_values(torch.randn(2, 5, 4))


@pytest.mark.parametrize("name", NAMES)
def test_plot_writes_grid(name, tmp_path):
    layer = build(name, 3, 2)
    path = tmp_path / f"{name}.png"
    fig = layer.plot(path=str(path), x=torch.randn(20, 3), n_points=30)
    assert path.stat().st_size > 0
    assert len(fig.axes) == 3 * 2
    assert len(fig.axes[0].lines[0].get_xdata()) == 30


def test_mlp_has_no_edge_values():
    with pytest.raises(NotImplementedError, match="no per-edge functions"):
        build("mlp").edge_values(torch.randn(2, 4))


@pytest.mark.parametrize("name", sorted(BASELINES))
def test_baseline_nan_input_propagates_to_its_row(name):
    """No baseline checks values: a NaN input gives NaN in its own output row, the others are unchanged."""
    torch.manual_seed(0)
    layer = BASELINES[name](4, 3, dtype=torch.float64)
    x = torch.randn(3, 4, dtype=torch.float64)
    clean = layer(x)
    x[1, 2] = float("nan")
    y = layer(x)
    assert torch.isnan(y[1]).all()
    assert torch.equal(y[[0, 2]], clean[[0, 2]])


def test_spline_nan_and_inf_edge_values():
    layer = SplineKAN(2, 1, dtype=torch.float64)
    x = torch.tensor([[float("nan"), 0.5], [float("inf"), -float("inf")], [0.25, 0.5]], dtype=torch.float64)
    edges = layer.edge_values(x)
    assert torch.isnan(edges[0, 0, 0]) and not torch.isfinite(edges[1]).any() and torch.isfinite(edges[2]).all()


def test_baselines_accept_numpy_integer_sizes():
    layer = SplineKAN(np.int64(3), np.int32(2), grid_size=np.int64(4))
    assert layer(torch.randn(5, 3)).shape == (5, 2) and isinstance(layer.in_dim, int)


# ----- SplineKAN ------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_spline_identity_init_reproduces_x(dtype):
    """The lerp (1 - t) x_k + t x_(k+1) rounds twice: y = x to 2 ulp of max(|x|, 1), inside and far outside
    the grid; the knots themselves exactly (t = 0)."""
    layer = SplineKAN(5, 5, init="identity", dtype=dtype)
    x = torch.randn(4000, 5, dtype=dtype) * 3  # inside and far outside the grid [-1, 1]
    x[0] = torch.tensor([-1.0, -0.25, 0.0, 0.125, 0.75])  # knots themselves
    bound = 2 * torch.finfo(dtype).eps * x.abs().clamp_min(1)
    assert ((layer(x) - x).abs() <= bound).all()
    assert torch.equal(layer(x[:1]), x[:1])
    diagonal = torch.diagonal(layer.edge_values(x), dim1=1, dim2=2)
    assert ((diagonal - x).abs() <= bound).all()


def test_spline_linear_init_is_a_linear_map():
    torch.manual_seed(0)
    layer = SplineKAN(4, 3, dtype=torch.float64)
    weight = layer.knot_values[:, -1, :].T / layer.grid_range[1]  # f_oi(x) = w_oi x
    x = torch.randn(50, 4, dtype=torch.float64) * 4
    torch.testing.assert_close(layer(x), x @ weight.T, rtol=1e-12, atol=1e-12)


def test_spline_interpolates_and_extrapolates_linearly():
    torch.manual_seed(0)
    layer = SplineKAN(1, 1, grid_size=4, grid_range=(-2.0, 2.0), dtype=torch.float64)
    with torch.no_grad():
        layer.knot_values.copy_(torch.tensor([3.0, -1.0, 0.5, 2.0, -4.0], dtype=torch.float64)[None, :, None])
    knots = layer.knots()
    v = layer.knot_values[0, :, 0]
    x = torch.tensor([-5.0, -2.0, -1.5, 0.0, 0.7, 2.0, 6.0], dtype=torch.float64)
    expected = torch.tensor(np.interp(x.numpy(), knots.numpy(), v.detach().numpy()))
    first, last = (v[1] - v[0]) / 1.0, (v[4] - v[3]) / 1.0
    expected[0] = v[0] + (x[0] - knots[0]) * first
    expected[-1] = v[4] + (x[-1] - knots[4]) * last
    torch.testing.assert_close(layer(x[:, None])[:, 0], expected.detach(), rtol=1e-12, atol=1e-12)


def test_spline_bad_options():
    with pytest.raises(ValueError, match="low < high"):
        SplineKAN(2, 2, grid_range=(1.0, -1.0))
    with pytest.raises(ValueError, match="unknown init"):
        SplineKAN(2, 2, init="zeros")
    with pytest.raises(ValueError, match="grid_size"):
        SplineKAN(2, 2, grid_size=0)


# ----- BSplineKAN -----------------------------------------------------------------------------


def test_bspline_basis_partition_of_unity():
    from qkan.baselines.bspline import bspline_basis

    layer = BSplineKAN(2, 1, dtype=torch.float64)
    x = torch.rand(100, 2, dtype=torch.float64) * 1.98 - 0.99
    bases = bspline_basis(x, layer.grid, layer.spline_order)
    assert bases.shape == (100, 2, layer.grid_size + layer.spline_order)
    torch.testing.assert_close(bases.sum(-1), torch.ones(100, 2, dtype=torch.float64))
    assert (bases >= 0).all()


# ----- FastKAN ----------------------------------------------------------------------------------


def test_fastkan_rbf_matches_definition():
    torch.manual_seed(0)
    layer = FastKAN(3, 2, use_base_update=False, dtype=torch.float64)
    x = torch.randn(4, 3, dtype=torch.float64)
    z = F.layer_norm(x, (3,))
    centers = torch.linspace(-2, 2, 8, dtype=torch.float64)
    rbf = torch.exp(-(((z[..., None] - centers) / (4 / 7)) ** 2))
    torch.testing.assert_close(layer(x), torch.einsum("big,oig->bo", rbf, layer.spline_weight))


# ----- RationalKAN ------------------------------------------------------------------------------


def naive_rational(x, a, b, groups):
    """float64 numpy reference: feature c uses denominator c // (D / groups)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    per = x.shape[-1] // groups
    for c in range(x.shape[-1]):
        v = x[..., c]
        p = sum(a[k] * v**k for k in range(6))
        q = 1 + sum(abs(b[c // per][j - 1]) * abs(v) ** j for j in range(1, 5))
        out[..., c] = p / q
    return out


def test_rational_torch_matches_naive_reference():
    torch.manual_seed(0)
    a = torch.randn(6, dtype=torch.float64)
    b = torch.randn(3, 4, dtype=torch.float64)
    x = torch.randn(2, 5, 12, dtype=torch.float64) * 2
    expected = naive_rational(x.numpy(), a.numpy(), b.numpy(), 3)
    np.testing.assert_allclose(grouped_safe_pade(x, a, b).numpy(), expected, rtol=1e-12, atol=1e-12)


def test_rational_gradcheck_random_coefficients():
    torch.manual_seed(0)
    x = (torch.randn(3, 8, dtype=torch.float64) * 1.5).requires_grad_(True)
    a = torch.randn(6, dtype=torch.float64, requires_grad=True)
    b = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(grouped_safe_pade, (x, a, b))


@pytest.mark.parametrize("name,tolerance", [("identity", 0.0), ("silu", 1e-6), ("gelu", 5e-3)])
def test_rational_preset_fit_quality(name, tolerance):
    """The stored presets reproduce their activation on [-3, 3] to the error their fit reached."""
    numerator, denominator = (torch.tensor(c, dtype=torch.float64) for c in RATIONAL_PRESETS[name])
    x = torch.linspace(-3, 3, 6001, dtype=torch.float64)
    error = (grouped_safe_pade(x[:, None], numerator, denominator[None])[:, 0] - ACTIVATIONS[name](x)).abs().max()
    assert error <= tolerance
    assert (denominator >= 0).all()


def test_rational_fit_reproduces_silu_preset():
    a, b, error = fit_safe_pade(F.silu)
    assert error < 1e-6
    x = torch.linspace(-3, 3, 601, dtype=torch.float64)
    stored = [torch.tensor(c, dtype=torch.float64) for c in RATIONAL_PRESETS["silu"]]
    refit = grouped_safe_pade(x[:, None], a, b[None])
    torch.testing.assert_close(refit, grouped_safe_pade(x[:, None], stored[0], stored[1][None]), atol=2e-6, rtol=0)


@pytest.mark.parametrize("init", sorted(RATIONAL_PRESETS))
def test_rational_layer_applies_preset(init):
    layer = RationalKAN(8, 3, groups=4, init=init, dtype=torch.float64)
    x = torch.randn(10, 8, dtype=torch.float64)
    fn = ACTIVATIONS[init]
    tolerance = {"identity": 1e-15, "silu": 1e-6, "gelu": 5e-3}[init]
    inside = x.abs() <= 3
    assert (layer.activation(x) - fn(x))[inside].abs().max() <= tolerance
    torch.testing.assert_close(layer(x), F.linear(layer.activation(x), layer.weight, layer.bias))


def test_rational_identity_preset_can_learn_denominator():
    """|b| has derivative +1 at b = 0, so the identity preset's denominators still get gradients."""
    layer = RationalKAN(4, 2, groups=2, init="identity", dtype=torch.float64)
    layer(torch.randn(6, 4, dtype=torch.float64)).square().sum().backward()
    assert (layer.denominator.grad != 0).any()


def test_rational_groups_errors():
    with pytest.raises(ValueError, match="in_dim=10 is not divisible by groups=4"):
        RationalKAN(10, 3, groups=4)
    with pytest.raises(ValueError, match="unknown init"):
        RationalKAN(8, 3, init="tanh")
    with pytest.raises(ValueError, match="unknown backend"):
        RationalKAN(8, 3, backend="triton")
    assert RationalKAN(12, 3).groups == 4 and RationalKAN(768, 3).groups == 8 and RationalKAN(1, 1).groups == 1


def test_rational_cuda_backend_needs_cuda():
    if torch.cuda.is_available():
        pytest.skip("checks the CPU message")
    with pytest.raises(RuntimeError, match="backend='cuda' needs a CUDA"):
        RationalKAN(8, 3, backend="cuda")(torch.randn(2, 8))


def test_rational_custom_op_fake_shapes():
    from torch._subclasses.fake_tensor import FakeTensorMode

    from qkan.baselines.rational_cuda import rational_backward, rational_forward

    with FakeTensorMode():
        x = torch.empty(5, 7, 16)
        a, b = torch.empty(6), torch.empty(4, 4)
        assert rational_forward(x, a, b).shape == x.shape
        dx, da, db = rational_backward(torch.empty_like(x), x, a, b)
        assert (dx.shape, da.shape, db.shape) == (x.shape, a.shape, b.shape)


@pytest.mark.skipif(not nvcc_available(), reason="needs nvcc")
def test_rational_cuda_source_compiles_without_spills():
    from qkan.baselines.rational_cuda import SOURCE

    report = ptxas_report(SOURCE)
    assert len(report) == 4  # forward and backward, float and double
    for name, info in report.items():
        assert info["spill_stores"] == 0 and info["spill_loads"] == 0, (name, info)


# ----- MLP ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("depth,n_params", [(2, 500), (2, 37), (3, 5000), (4, 20000)])
def test_mlp_matched_is_closest(depth, n_params):
    model = MLP.matched(6, 4, n_params, depth=depth)
    count = sum(p.numel() for p in model.parameters())
    assert count == mlp_parameter_count(6, 4, model.hidden, depth)
    for h in (model.hidden - 1, model.hidden + 1):
        if h >= 1:
            assert abs(count - n_params) <= abs(mlp_parameter_count(6, 4, h, depth) - n_params)


def test_mlp_depth_one_is_linear():
    model = MLP(3, 2, depth=1)
    assert len(model.linears) == 1 and sum(p.numel() for p in model.parameters()) == 8
    with pytest.raises(ValueError, match="depth=1"):
        MLP.matched(3, 2, 100, depth=1)
    with pytest.raises(ValueError, match="unknown activation"):
        MLP(3, 2, activation="swish")


def test_baselines_train_on_a_smooth_target():
    """Each KAN fits sin(pi x) on one input better than its initial loss (the layers are trainable)."""
    x = torch.linspace(-1, 1, 64)[:, None]
    y = torch.sin(math.pi * x)
    for name in NAMES:
        layer = build(name, 1, 1)
        opt = torch.optim.Adam(layer.parameters(), lr=0.03)
        first = F.mse_loss(layer(x), y).item()
        for _ in range(80):
            opt.zero_grad()
            loss = F.mse_loss(layer(x), y)
            loss.backward()
            opt.step()
        assert loss.item() < 0.5 * first, name
