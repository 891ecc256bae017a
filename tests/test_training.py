"""qkan.training: bundled tasks, the trainer (metrics, plot, checkpoints, exact resume), DDP under torchrun
with gloo, and the `qkan train` parser."""

import argparse
import csv
import json
import os
import subprocess
import sys

import pytest
import torch

from qkan.training import trainer as trainer_module
from qkan.training.cli import config_from_args, configure_parser
from qkan.training.cli import main as train_main
from qkan.training.tasks import VOCAB, decode, digits_tensors, encode, make_task, rank_share, stdlib_text
from qkan.training.trainer import TrainConfig, train


def quiet(**kwargs):
    return TrainConfig(progress=False, **kwargs)


# ----- tasks -------------------------------------------------------------------------------------
def test_digits_split_is_fixed_and_complete():
    (x, y), (xt, yt) = digits_tensors("train"), digits_tensors("test")
    assert x.shape == (1437, 1, 8, 8) and xt.shape == (360, 1, 8, 8) and y.shape == (1437,)
    assert sorted(set(y.tolist())) == list(range(10))
    assert x.dtype == torch.float32 and float(x.min()) == 0.0 and float(x.max()) == 1.0
    assert sorted(torch.bincount(yt).tolist())[0] >= 35  # stratified: every class in the test split
    assert torch.equal(digits_tensors("test")[0], xt)
    with pytest.raises(ValueError, match="'train' or 'test'"):
        digits_tensors("val")


def test_stdlib_corpus_and_vocabulary():
    text, paths = stdlib_text()
    assert len(paths) >= 10 and all(p.endswith(".py") for p in paths) and len(text) > 300_000
    assert stdlib_text()[0] == text
    assert len(VOCAB) == 96
    sample = "def f(x):\n\treturn x + 1  # é"
    assert decode(encode(sample)) == "def f(x):\n return x + 1  # ?"


def test_batches_depend_on_seed_and_step_and_split_over_ranks():
    for task in (make_task("digits"), make_task("stdlib", block_size=16, max_chars=20_000)):
        x, y = task.batch(seed=3, step=30, batch_size=8)
        x2, y2 = task.batch(seed=3, step=30, batch_size=8)
        assert torch.equal(x, x2) and torch.equal(y, y2)
        assert not torch.equal(x, task.batch(seed=3, step=31, batch_size=8)[0])
        shares = [task.batch(seed=3, step=30, batch_size=8, rank=r, world=2)[0] for r in range(2)]
        assert torch.equal(torch.stack(shares, dim=1).flatten(0, 1), x)
    lm = make_task("stdlib", block_size=16, max_chars=20_000)
    x, y = lm.batch(0, 0, 4)
    assert x.shape == y.shape == (4, 16) and torch.equal(x[:, 1:], y[:, :-1])
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        rank_share(torch.arange(5), 0, 2)


def test_cifar_absent_names_the_expected_folder(tmp_path):
    with pytest.raises(FileNotFoundError, match=str(tmp_path / "cifar-10-batches-py")):
        make_task("cifar10", data_dir=str(tmp_path))
    with pytest.raises(FileNotFoundError, match="cifar-100-python"):
        make_task("cifar100", data_dir=str(tmp_path))
    with pytest.raises(ValueError, match="unknown task 'mnist'"):
        make_task("mnist")


# ----- training ----------------------------------------------------------------------------------
def test_digits_training_learns_and_writes_metrics(tmp_path):
    summary = train(quiet(task="digits", model="hqkan", epochs=5, out=str(tmp_path)))
    assert summary["eval_accuracy"] > 0.85
    assert summary["steps"] == 5 * (1437 // 64) and len(summary["evals"]) == 5
    record = json.loads((tmp_path / "metrics.json").read_text())
    assert record["eval_accuracy"] == summary["eval_accuracy"] and len(record["history"]) == summary["steps"]
    rows = list(csv.DictReader((tmp_path / "metrics.csv").open()))
    assert len(rows) == summary["steps"] and rows[-1]["eval_accuracy"] != "" and rows[0]["eval_accuracy"] == ""
    assert (tmp_path / "metrics.png").stat().st_size > 10_000 and (tmp_path / "checkpoint.pt").is_file()


@pytest.mark.parametrize("model", ["hqkan", "mlp"])
def test_char_lm_training_lowers_the_loss(tmp_path, model):
    summary = train(
        quiet(
            task="stdlib",
            model=model,
            steps=40,
            batch_size=16,
            block_size=32,
            n_embd=32,
            eval_every=20,
            max_chars=100_000,
            lr=3e-3,
            out=str(tmp_path),
        )
    )
    first = summary["history"][0]["train_loss"]
    assert abs(first - torch.log(torch.tensor(96.0)).item()) < 0.5  # starts near uniform over 96 symbols
    assert summary["eval_loss"] < first - 1.0 and summary["eval_accuracy"] is None


def test_resume_after_interruption_continues_the_same_curve(tmp_path, monkeypatch):
    config = dict(task="digits", model="hqkan", steps=8, eval_every=4, batch_size=32, reps=1, dropout=0.0)
    straight = train(quiet(out=str(tmp_path / "straight"), **config))

    real_evaluate = trainer_module.evaluate
    calls = []

    def evaluate_then_crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt  # killed between the step-4 checkpoint and the step-8 one
        return real_evaluate(*args, **kwargs)

    monkeypatch.setattr(trainer_module, "evaluate", evaluate_then_crash)
    with pytest.raises(KeyboardInterrupt):
        train(quiet(out=str(tmp_path / "resumed"), **config))
    monkeypatch.setattr(trainer_module, "evaluate", real_evaluate)
    torch.manual_seed(1234)  # the resumed run must restore the RNG itself
    resumed = train(quiet(out=str(tmp_path / "resumed"), resume=True, **config))

    assert [h["train_loss"] for h in resumed["history"]] == [h["train_loss"] for h in straight["history"]]
    assert resumed["evals"] == straight["evals"]
    a = torch.load(tmp_path / "straight" / "checkpoint.pt", weights_only=True)["model"]
    b = torch.load(tmp_path / "resumed" / "checkpoint.pt", weights_only=True)["model"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="--model 'mlp' differs from the checkpoint's 'hqkan'"):
        train(quiet(out=str(tmp_path / "resumed"), resume=True, **{**config, "model": "mlp"}))


def test_ddp_two_cpu_processes_match_one_process(tmp_path):
    """`torchrun --nproc_per_node 2` of the training command (gloo on CPU): each rank takes half of every
    global batch and DDP averages gradients, so the curve equals the single-process one up to rounding."""
    args = [
        "--task",
        "digits",
        "--steps",
        "4",
        "--batch-size",
        "32",
        "--eval-every",
        "2",
        "--device",
        "cpu",
        "--no-progress",
        "--no-plot",
        "--reps",
        "1",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--standalone",
            "--nproc_per_node",
            "2",
            "-m",
            "qkan.training.cli",
            *args,
            "--out",
            str(tmp_path / "ddp"),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        env=env,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = json.loads((tmp_path / "ddp" / "metrics.json").read_text())
    single = train(
        config_from_args(
            configure_parser(argparse.ArgumentParser()).parse_args([*args, "--out", str(tmp_path / "single")])
        )
    )
    assert ddp["world_size"] == 2 and single["world_size"] == 1
    torch.testing.assert_close(
        [h["train_loss"] for h in ddp["history"]], [h["train_loss"] for h in single["history"]], rtol=1e-5, atol=1e-6
    )
    torch.testing.assert_close(
        [e["eval_loss"] for e in ddp["evals"]], [e["eval_loss"] for e in single["evals"]], rtol=1e-5, atol=1e-6
    )
    assert [e["eval_accuracy"] for e in ddp["evals"]] == [e["eval_accuracy"] for e in single["evals"]]
    assert ddp["history"][-1]["train_loss"] != ddp["history"][0]["train_loss"]


def test_parser_defaults_and_errors(tmp_path):
    parser = configure_parser(argparse.ArgumentParser())
    config = config_from_args(parser.parse_args([]))
    assert config == TrainConfig()
    config = config_from_args(
        parser.parse_args(
            [
                "--task",
                "stdlib",
                "--model",
                "fastkan",
                "--n-layer",
                "3",
                "--model-kwargs",
                '{"num_grids": 4}',
                "--resume",
            ]
        )
    )
    assert (config.task, config.model, config.n_layer, config.model_kwargs, config.resume) == (
        "stdlib",
        "fastkan",
        3,
        {"num_grids": 4},
        True,
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["--model", "transformer"])
    with pytest.raises(ValueError, match="unknown optimizer 'rmsprop'"):
        train(quiet(optimizer="rmsprop"))
    with pytest.raises(ValueError, match="batch size 2000 exceeds"):
        train(quiet(batch_size=2000, out=str(tmp_path)))


# ----- speed options: --compile, --amp, --graphed -----------------------------------------------------
def test_speed_flags_reach_the_config():
    parser = configure_parser(argparse.ArgumentParser())
    config = config_from_args(parser.parse_args(["--compile", "--compile-mode", "reduce-overhead", "--amp", "bf16"]))
    assert (config.compile, config.compile_mode, config.amp, config.graphed) == (True, "reduce-overhead", "bf16", False)
    assert config_from_args(parser.parse_args(["--graphed"])).graphed
    with pytest.raises(SystemExit):
        parser.parse_args(["--amp", "fp8"])


@pytest.mark.parametrize(
    "options, message",
    [
        ({"graphed": True, "compile": True}, "--graphed with --compile is not supported"),
        ({"graphed": True, "amp": "fp16"}, "--graphed with --amp fp16 is not supported"),
        ({"graphed": True, "optimizer": "sgd"}, "--graphed with --optimizer sgd and --schedule cosine"),
        ({"compile_mode": "max-autotune"}, "--compile-mode max-autotune needs --compile"),
        ({"amp": "fp8"}, "unknown amp 'fp8'"),
    ],
)
def test_unsupported_combinations_are_refused(options, message):
    with pytest.raises(ValueError, match=message):
        quiet(**options).check()


@pytest.mark.parametrize(
    "flags, message",
    [
        (["--graphed"], "--graphed needs a CUDA device (CUDA graphs), got cpu"),
        (["--amp", "fp16"], "--amp fp16 needs a CUDA device (GradScaler), got cpu; use --amp bf16"),
        (["--graphed", "--compile"], "--graphed with --compile is not supported"),
    ],
)
def test_cli_prints_one_line_for_what_this_device_cannot_do(tmp_path, capsys, flags, message):
    assert train_main(["--device", "cpu", "--no-progress", "--out", str(tmp_path), *flags]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"qkan train: error: {message}"), err


def test_a_failing_first_step_names_the_options_model_and_solver(tmp_path, capsys, monkeypatch):
    def broken(model, x, y):
        raise RuntimeError("kernel exploded\nsecond line")

    monkeypatch.setattr(trainer_module.ClassificationTask, "loss", staticmethod(broken))
    assert (
        train_main(["--device", "cpu", "--no-progress", "--steps", "1", "--amp", "bf16", "--out", str(tmp_path)]) == 1
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [
        "qkan train: error: --amp bf16 failed on the first step of model hqkan (solver exact): kernel exploded "
        "(--debug shows the traceback)"
    ]


@pytest.mark.parametrize(
    "model, options",
    [("mlp", {"compile": True}), ("hqkan", {"amp": "bf16"}), ("mlp", {"amp": "bf16", "compile": True})],
)
def test_compile_and_bf16_train_tiny_digits_runs(tmp_path, model, options):
    summary = train(
        quiet(
            task="digits", model=model, steps=4, batch_size=32, eval_every=4, plot=False, out=str(tmp_path), **options
        )
    )
    losses = [h["train_loss"] for h in summary["history"]]
    assert len(losses) == 4 and all(l == l and l < 5 for l in losses) and summary["eval_loss"] < 5
    assert summary["config"]["amp"] == options.get("amp") and isinstance(summary["history"][0]["lr"], float)


@pytest.mark.gpu
@pytest.mark.parametrize(
    "options",
    [
        {"graphed": True},
        {"graphed": True, "amp": "bf16", "grad_clip": 1.0},
        {"amp": "fp16"},
        {"amp": "bf16", "compile": True},
    ],
)
def test_digits_speed_options_on_gpu_learn(tmp_path, options):
    summary = train(
        quiet(
            task="digits",
            model="hqkan",
            solver="flash",
            epochs=5,
            device="cuda",
            out=str(tmp_path),
            plot=False,
            **options,
        )
    )
    assert summary["eval_accuracy"] > 0.85, options


@pytest.mark.gpu
def test_graphed_char_lm_follows_the_eager_curve(tmp_path):
    config = dict(
        task="stdlib",
        model="hqkan",
        solver="flash",
        steps=30,
        batch_size=8,
        block_size=32,
        n_embd=32,
        eval_every=30,
        max_chars=50_000,
        device="cuda",
        plot=False,
    )
    eager = train(quiet(out=str(tmp_path / "eager"), **config))
    graphed = train(quiet(out=str(tmp_path / "graphed"), graphed=True, **config))
    first = [h["train_loss"] for h in eager["history"]][:5]
    torch.testing.assert_close([h["train_loss"] for h in graphed["history"]][:5], first, rtol=1e-3, atol=1e-3)
    assert graphed["eval_loss"] == pytest.approx(eager["eval_loss"], rel=0.05)
    longer = {**config, "steps": 35}  # a longer run: --steps differs, so it is an override; eager (not graphed)
    resumed = train(quiet(out=str(tmp_path / "graphed"), resume=True, override_config=True, **longer))
    assert resumed["steps"] == 35


@pytest.mark.gpu
def test_digits_training_on_gpu_learns(tmp_path):
    summary = train(quiet(task="digits", model="hqkan", epochs=5, device="cuda", out=str(tmp_path)))
    assert summary["device"].startswith("cuda") and summary["eval_accuracy"] > 0.85
