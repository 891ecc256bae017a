"""qkan.quant's quantisers: error bounds of each rounding scheme, and the angle periods that let a periodic
quantiser wrap theta without changing the circuit's function."""

import math

import pytest
import torch

from qkan import QKANLayer
from qkan.circuits import Circuit, GateSpec, data, theta
from qkan.quant import (
    DSQQuantizer,
    LSQQuantizer,
    PeriodicQuantizer,
    QuantizerConfig,
    QuantSpec,
    UniformQuantizer,
    export_quantized,
    gate_function_period,
    quantize,
    theta_periods,
)
from qkan.quant.periodic import circular_distance


# ----- quantise-dequantise error bounds ------------------------------------------------------
@pytest.mark.parametrize("bits", [2, 4, 8])
@pytest.mark.parametrize("symmetric", [True, False])
@pytest.mark.parametrize("axis", [None, 0])
def test_uniform_minmax_error_is_at_most_half_a_step(bits, symmetric, axis):
    x = torch.randn(6, 50, generator=torch.Generator().manual_seed(bits)) * torch.arange(1, 7.0)[:, None]
    q = UniformQuantizer(bits, symmetric, axis, 6 if axis == 0 else 1).fit(x)
    scale, _ = q.grid(x)
    err = (q(x) - x).abs()
    assert bool((err <= scale / 2 * (1 + 1e-5)).all())
    assert q(x).unique().numel() <= 2**bits * (6 if axis == 0 else 1)
    if axis == 0:  # each row uses its own range: rows of small values get small steps
        assert scale.flatten()[0] < scale.flatten()[-1]


def test_fitted_range_ends_lie_on_the_grid_and_keep_their_gradient():
    """On a symmetric grid the largest magnitude of a channel maps to +-qmax exactly (not qmax plus float
    rounding, where clipping would cut its straight-through gradient), for thousands of random channels."""
    rows = torch.randn(4000, 3, generator=torch.Generator().manual_seed(0))
    q = LSQQuantizer(4, True, 0, rows.shape[0]).fit(rows)
    weights = rows.clone().requires_grad_()
    q(weights).sum().backward()
    scale, _ = q.grid(rows)
    assert bool(((rows / scale).abs() <= q.qmax).all())
    ends = rows.abs() == rows.abs().amax(1, keepdim=True)
    assert bool((weights.grad[ends] == 1).all())


@pytest.mark.parametrize("bits, optimal_step", [(2, 1.224), (3, 0.6508)])
def test_mse_scale_finds_the_optimal_uniform_step_for_a_gaussian(bits, optimal_step):
    """Max (1960): the MSE-optimal uniform quantiser of N(0, 1) with 3 levels has step 1.224, with 7 levels 0.6508;
    min-max (the sample's extremes) is far coarser."""
    x = torch.randn(1, 20000, generator=torch.Generator().manual_seed(0))
    minmax = UniformQuantizer(bits, True, 0, 1).fit(x, "minmax")
    mse = UniformQuantizer(bits, True, 0, 1).fit(x, "mse")
    assert float(mse.scale) == pytest.approx(optimal_step, rel=0.03)
    assert (mse(x) - x).square().mean() < 0.5 * (minmax(x) - x).square().mean()
    inside = x.abs() <= mse.scale * mse.qmax  # values inside the clipping range still round to nearest
    assert bool(((mse(x) - x).abs()[inside] <= mse.scale / 2 * (1 + 1e-5)).all())


def test_zero_and_constant_tensors_quantise_exactly():
    for value in (torch.zeros(3, 4), torch.ones(3, 4), torch.full((3, 4), -0.7)):
        for symmetric in (True, False):
            q = UniformQuantizer(4, symmetric, 0, 3).fit(value)
            assert torch.allclose(q(value), value, atol=1e-7), (value[0, 0], symmetric)


@pytest.mark.parametrize("bits", [3, 8])
@pytest.mark.parametrize("spread", [0.3, 1.0])
def test_periodic_error_is_at_most_half_a_step_on_the_circle(bits, spread):
    period = torch.tensor([2 * math.pi, math.pi])  # two slots with different periods
    gen = torch.Generator().manual_seed(1)
    angles = (torch.rand(5, 40, 2, generator=gen) * spread + torch.randint(-3, 4, (5, 40, 2), generator=gen)) * period
    q = PeriodicQuantizer(bits, period, axis=0, channels=5).fit(angles)
    turns_err = circular_distance(q(angles).double() / period, angles.double() / period)
    step = q.step[:, None, None]
    assert bool((turns_err <= step / 2 + 1e-9).all())
    if spread < 1:  # a narrow arc gets a finer grid than the full circle
        assert bool((q.step < 1.0 / 2**bits).all())


def test_lsq_and_dsq_forward_equal_the_fixed_grid_at_init():
    x = torch.randn(4, 30, generator=torch.Generator().manual_seed(2))
    fixed = UniformQuantizer(4, False, 0, 4).fit(x)
    for cls in (LSQQuantizer, DSQQuantizer):
        learned = cls(4, False, 0, 4).fit(x)
        assert torch.equal(learned(x), fixed(x)), cls.__name__


# ----- angle periods -----------------------------------------------------------------------
def _single_edge_output(circuit: Circuit, theta_value: torch.Tensor) -> torch.Tensor:
    layer = QKANLayer(1, 1, ansatz=circuit, ba_trainable=False, dtype=torch.float64)
    with torch.no_grad():
        layer.theta.copy_(theta_value.reshape(layer.theta.shape))
    return layer(torch.linspace(-1, 1, 11, dtype=torch.float64)[:, None])


def test_periods_follow_the_angle_coefficients_and_are_true_periods():
    circuit = (
        Circuit(1)
        .h(0)
        .rz(0, theta(0))
        .ry(0, 2 * theta(1))
        .rx(0, theta(2) / 2)
        .rz(0, data(0))
        .ry(0, 0.5 * theta(3) + theta(1))
        .measure("amp")
    )
    periods = theta_periods(circuit)
    # theta(1) enters with coefficients 2 and 1: periods pi and 2 pi -> least common 2 pi
    assert torch.allclose(
        periods, torch.tensor([2 * math.pi, 2 * math.pi, 4 * math.pi, 4 * math.pi], dtype=torch.float64)
    )
    base = torch.tensor([0.3, -1.1, 0.7, 2.0], dtype=torch.float64)
    f = _single_edge_output(circuit, base)
    for k in range(4):
        shift = torch.zeros(4, dtype=torch.float64)
        shift[k] = periods[k]
        assert torch.allclose(_single_edge_output(circuit, base + shift), f, atol=1e-12)
        shift[k] = periods[k] / 2  # half the period is not a period: the bound is tight
        assert not torch.allclose(_single_edge_output(circuit, base + shift), f, atol=1e-6)
    assert gate_function_period(Circuit(1).rz(0, 0.0).ops[0].spec) == 2 * math.pi
    with pytest.raises(ValueError, match="controlled rotation"):
        gate_function_period(GateSpec("crz", 2, generator="z"))


def test_angle_period_is_2pi_in_an_entangled_circuit():
    """The half-angle -1 of a rotation on one qubit of a larger state is still a global phase."""
    circuit = (
        Circuit(2)
        .h(0)
        .h(1)
        .rz(0, theta(0))
        .ry(0, data(0))
        .cnot(0, 1)
        .ry(1, theta(1))
        .rx(1, data(0))
        .cz(0, 1)
        .ry(1, theta(2))
        .measure("amp", 1)
    )
    assert torch.allclose(theta_periods(circuit), torch.full((3,), 2 * math.pi, dtype=torch.float64))
    base = torch.tensor([0.4, -0.9, 1.3], dtype=torch.float64)
    f = _single_edge_output(circuit, base)
    for k in range(3):
        shift = torch.zeros(3, dtype=torch.float64)
        shift[k] = 2 * math.pi
        assert torch.allclose(_single_edge_output(circuit, base + shift), f, atol=1e-12)
        shift[k] = math.pi
        assert not torch.allclose(_single_edge_output(circuit, base + shift), f, atol=1e-6)


@pytest.mark.parametrize("ansatz", ["pz", "rpz", "real", "mix"])
def test_theta_and_theta_plus_period_quantise_to_the_same_circuit_function(ansatz):
    layer = QKANLayer(3, 2, reps=2, ansatz=ansatz, seed=3)
    with torch.no_grad():
        layer.theta.mul_(3.0)
    spec = QuantSpec({"theta": QuantizerConfig(5, "channel")})
    x = torch.rand(16, 3) * 2 - 1
    quantized = quantize(layer, spec)
    shifted = QKANLayer(3, 2, reps=2, ansatz=ansatz, seed=3)
    with torch.no_grad():
        turns = torch.randint(-2, 3, layer.theta.shape, generator=torch.Generator().manual_seed(0))
        shifted.theta.copy_(layer.theta + turns * theta_periods(layer.circuit).float())
    quantized_shifted = quantize(shifted, spec)
    codes = export_quantized(quantized)["theta"].codes
    assert torch.equal(codes, export_quantized(quantized_shifted)["theta"].codes)
    with torch.no_grad():
        assert torch.allclose(quantized(x), quantized_shifted(x), atol=1e-5)
