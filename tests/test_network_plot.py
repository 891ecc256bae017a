"""qkan.plot_network: one figure of the whole network (an inset per edge), saved to exactly the given file, on
QKAN models and layers and on the spline/FastKAN baselines; importance from activations or the spectrum."""

from __future__ import annotations

import pytest
import torch
from matplotlib.figure import Figure

from qkan import QKAN, QKANLayer, plot_network
from qkan.baselines import MLP, FastKAN, SplineKAN


def _insets(fig: Figure) -> int:
    return len(fig.axes[0].child_axes)


@pytest.mark.parametrize("importance", ["activation", "spectrum", "none"])
def test_qkan_network_has_an_inset_per_edge_and_saves_the_file(tmp_path, importance):
    model = QKAN([2, 3, 1], reps=2, seed=0)
    path = tmp_path / "net.png"
    fig = plot_network(model, torch.rand(50, 2), str(path), importance=importance, in_vars=["a", "b"], title="t")
    assert isinstance(fig, Figure) and path.exists() and list(tmp_path.iterdir()) == [path]
    assert _insets(fig) == 2 * 3 + 3 * 1
    texts = {t.get_text() for t in fig.axes[0].texts}
    assert {"a", "b", "$y_{1}$"} <= texts


def test_faded_edges_follow_importance():
    layer = QKANLayer(2, 1, reps=2, seed=0)
    with torch.no_grad():
        layer.postact_weights[0, 1] = 1e-4
        layer.base_weight.zero_()
    fig = plot_network(layer, torch.rand(64, 2))
    alphas = [inset.lines[0].get_alpha() for inset in fig.axes[0].child_axes]
    assert alphas[0] == pytest.approx(1.0) and alphas[1] < 0.05


@pytest.mark.parametrize("model", [SplineKAN(2, 3), FastKAN(2, 3), torch.nn.Sequential(SplineKAN(2, 2), FastKAN(2, 1))])
def test_baselines_are_drawn(model):
    fig = plot_network(model, torch.rand(32, 2))
    widths = [m.in_dim * m.out_dim for m in (model if isinstance(model, torch.nn.Sequential) else [model])]
    assert _insets(fig) == sum(widths)


def test_refusals():
    with pytest.raises(TypeError, match="per-edge"):
        plot_network(MLP(2, 1))
    with pytest.raises(ValueError, match="spectrum"):
        plot_network(SplineKAN(2, 1), importance="spectrum")
    with pytest.raises(ValueError, match="importance"):
        plot_network(QKAN([1, 1]), importance="energy")
    with pytest.raises(ValueError, match="in_vars"):
        plot_network(QKAN([2, 1]), in_vars=["a"])
    with pytest.raises(ValueError, match="beta"):
        plot_network(QKAN([2, 1]), beta=0)
