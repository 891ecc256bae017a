"""Plots write exactly the path they are given (one figure, a panel per layer) and return the Figure; the
command line's thread default leaves an explicit OMP_NUM_THREADS alone."""

import torch
from matplotlib.figure import Figure

from qkan import QKAN
from qkan.cli import apply_threads


def test_model_plot_writes_exactly_the_path_given_as_one_figure(tmp_path):
    model = QKAN([2, 3, 1], reps=1, seed=0)
    fig = model.plot(str(tmp_path / "edges.png"), x=torch.rand(16, 2), n_points=20)
    assert isinstance(fig, Figure) and len(fig.subfigs) == 2
    assert [len(panel.axes) for panel in fig.subfigs] == [6, 3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["edges.png"]


def test_layer_plot_writes_exactly_the_path_given(tmp_path):
    layer = QKAN([3, 2], reps=2, seed=0).layers[0]
    fig = layer.plot(str(tmp_path / "layer.svg"), n_points=20)
    assert isinstance(fig, Figure) and len(fig.axes) == 6
    assert sorted(p.name for p in tmp_path.iterdir()) == ["layer.svg"]


def test_plots_without_a_path_write_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert isinstance(QKAN([1, 1], reps=1, seed=0).plot(n_points=10), Figure)
    assert list(tmp_path.iterdir()) == []


def test_thread_default_follows_omp_num_threads_and_an_explicit_count_wins(monkeypatch):
    before = torch.get_num_threads()
    try:
        monkeypatch.setenv("OMP_NUM_THREADS", "3")
        assert apply_threads(None) == before and torch.get_num_threads() == before
        assert apply_threads(1) == 1 and torch.get_num_threads() == 1
        monkeypatch.delenv("OMP_NUM_THREADS")
        assert 1 <= apply_threads(None) == torch.get_num_threads() <= 16
    finally:
        torch.set_num_threads(before)
