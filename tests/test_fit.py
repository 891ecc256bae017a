"""create_dataset, the fit loop (Adam and LBFGS), plots and the `qkan fit` command."""

import json

import pytest
import torch

from qkan import QKAN, create_dataset
from qkan.cli import main


def test_create_dataset_shapes_ranges_and_seed():
    data = create_dataset(
        lambda x: x[:, :1] * x[:, 1:], n_var=2, ranges=[(0, 1), (-2, -1)], train_num=50, test_num=20, seed=3
    )
    assert data["train_input"].shape == (50, 2) and data["train_label"].shape == (50, 1)
    assert data["test_input"].shape == (20, 2)
    assert bool((data["train_input"][:, 0] >= 0).all() and (data["train_input"][:, 1] <= -1).all())
    again = create_dataset(
        lambda x: x[:, :1] * x[:, 1:], n_var=2, ranges=[(0, 1), (-2, -1)], train_num=50, test_num=20, seed=3
    )
    assert torch.equal(data["train_input"], again["train_input"])


@pytest.mark.parametrize("ranges", [(1, 0), [(0, 1)], "x"])
def test_create_dataset_rejects_bad_ranges(ranges):
    with pytest.raises((ValueError, TypeError)):
        create_dataset(lambda x: x, n_var=2, ranges=ranges)


@pytest.mark.parametrize("optimizer,lr", [("Adam", 5e-2), ("LBFGS", 1.0)])
def test_fit_lowers_the_loss(optimizer, lr):
    data = create_dataset(lambda x: torch.sin(2 * x), n_var=1, train_num=64, test_num=32, seed=0)
    model = QKAN([1, 1], reps=2, seed=0, postact_weight_trainable=True)
    history = model.fit(data, optimizer=optimizer, steps=15, lr=lr, verbose=False)
    assert len(history["train_loss"]) == 15 and len(history["test_loss"]) == 15
    assert history["train_loss"][-1] < 0.7 * history["train_loss"][0]


def test_fit_rejects_unknown_optimizer_and_incomplete_dataset():
    model = QKAN([1, 1], reps=1)
    data = create_dataset(lambda x: x, n_var=1, train_num=8, test_num=8)
    with pytest.raises(ValueError, match="unknown optimizer"):
        model.fit(data, optimizer="sgd-ish", steps=1, verbose=False)
    with pytest.raises(ValueError, match="missing"):
        model.fit({"train_input": data["train_input"]}, steps=1, verbose=False)


def test_qkan_fit_command_writes_plot_and_history(tmp_path, capsys):
    assert main(["fit", "--steps", "3", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    summary = json.loads(printed[printed.index("{") :])
    history = json.loads((tmp_path / "history.json").read_text())
    assert len(history["history"]["test_loss"]) == 3 and history["final_test_loss"] > 0
    assert (tmp_path / "fit.png").stat().st_size > 10_000
    assert summary["final_test_loss"] == history["final_test_loss"] and summary["steps"] == 3
