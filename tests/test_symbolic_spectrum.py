"""Spectrum tools (qkan.spectrum): energy by order (Parseval), suggested reps, and lower_reps's cheaper model
staying within its stated bound on fresh inputs; refusals of bad arguments."""

from __future__ import annotations

import math

import pytest
import torch

import qkan
from qkan import QKAN, QKANLayer, lower_reps, suggest_reps
from qkan.circuits import pz
from qkan.spectrum import energy_by_order, report


def _inputs(n: int, width: int, seed: int) -> torch.Tensor:
    return torch.rand(n, width, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 2 - 1


def test_energy_is_parseval_of_z():
    layer = QKANLayer(2, 2, reps=3, fast_measure=False, dtype=torch.float64, seed=0)
    orders, energy = energy_by_order(layer)
    assert orders.tolist() == [0.0, 1.0, 2.0, 3.0]
    grid = torch.linspace(0, 2 * math.pi, 4097, dtype=torch.float64)[:-1]
    z = layer.circuit_values(grid[:, None].expand(-1, 2).contiguous())
    assert torch.allclose(z.square().mean(0), energy.sum(-1), atol=1e-12)


def test_refined_model_lowers_back_exactly():
    model = QKAN([2, 3, 1], reps=3, seed=0, dtype=torch.float64).refine(6)
    assert suggest_reps(model, keep=1.0) == [3, 3]
    x, fresh = _inputs(200, 2, 1), _inputs(1000, 2, 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    lowered = lower_reps(model, keep=0.999, x=x)
    assert lowered.reps == [3, 3] and [layer.reps for layer in lowered.model.layers] == [3, 3]
    assert lowered.max_deviation < 1e-12
    assert (lowered.model(fresh) - model(fresh)).abs().max() < 1e-12
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_lowered_model_stays_within_its_stated_bound():
    model = QKAN([2, 2, 1], reps=3, seed=0, dtype=torch.float64).refine(5)
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for layer in model.layers:  # a little energy at orders 4 and 5
            layer.theta[..., 4:, :] += 0.01 * torch.randn(layer.theta[..., 4:, :].shape, generator=gen).double()
    x = _inputs(300, 2, 3)
    lowered = lower_reps(model, keep=0.99, x=x, steps=100)
    assert max(lowered.reps) < 5
    fresh = _inputs(5000, 2, 4).clamp(x.amin(0), x.amax(0))
    deviation = (lowered.model(fresh) - model(fresh)).abs().max().item()
    assert deviation <= lowered.max_deviation < 0.05


def test_report_lists_every_edge():
    model = QKAN([2, 3, 1], reps=2, seed=0)
    table = report(model)
    assert table.count("| 0 | (") == 6 and table.count("| 1 | (") == 3 and "order 2" in table
    assert qkan.spectrum.suggest_reps is suggest_reps


@pytest.mark.parametrize("keep", [0, -0.5, 1.5, "0.9", True])
def test_bad_keep_is_refused(keep):
    with pytest.raises(ValueError, match="keep"):
        suggest_reps(QKAN([1, 1]), keep=keep)


def test_lower_reps_refusals():
    with pytest.raises(TypeError, match="QKAN"):
        lower_reps(QKANLayer(1, 1), x=torch.zeros(4, 1))
    with pytest.raises(ValueError, match="x must be"):
        lower_reps(QKAN([2, 1]), x=torch.zeros(4, 3))
    with pytest.raises(ValueError, match="built-in"):
        lower_reps(QKAN([1, 1], ansatz=pz(2).named("mine")), x=torch.zeros(4, 1))
