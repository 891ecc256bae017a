"""The ``qkan`` command: bad invocations end in one line on stderr naming the problem, with exit status 2
(usage) or 1 (a failure while running); --debug adds the traceback; --version; --help shows the defaults;
bench reports only the files it wrote. The whole table runs in this process through ``qkan.cli.main``, and a
row per subcommand, the other entry points and flags through the installed command: each such call starts a
Python process (about 3 s of CPU), so they run side by side, started once for the whole file."""

from __future__ import annotations

import os
import subprocess
import sys
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Iterator

import pytest

import qkan
from qkan.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = Path(sys.executable).parent / "qkan"  # the console script installed beside this interpreter
COMMAND = [str(SCRIPT)] if SCRIPT.is_file() else [sys.executable, "-m", "qkan"]
TRAIN_MODULE = [sys.executable, "-m", "qkan.training.cli"]  # torchrun's entry
CIFAR_MISSING = [
    "train",
    "--task",
    "cifar10",
    "--data-dir",
    "{tmp}/none",
    "--out",
    "{tmp}/run",
    "--steps",
    "1",
    "--device",
    "cpu",
]

# name -> (command line, exit status, words its one stderr line must contain)
BAD = {
    "no command": ([], 2, ["qkan: error:", "required"]),
    "unknown command": (["frobnicate"], 2, ["qkan: error:", "frobnicate", "fit", "quant"]),
    "repeats 0": (["bench", "--repeats", "0"], 2, ["qkan bench: error:", "--repeats", ">= 1", "got 0"]),
    "loss steps": (["bench", "--loss-steps", "-2"], 2, ["qkan bench: error:", "--loss-steps", ">= 1"]),
    "case typo": (["bench", "--cases", "fit1d,typo"], 2, ["qkan bench: error:", "'typo'", "fit1d", "wide", "gpt"]),
    "solver typo": (["bench", "--solvers", "exact,flsh"], 2, ["--solvers", "'flsh'", "exact", "flash", "cutn"]),
    "ansatz typo": (["bench", "--ansatz", "pzz"], 2, ["--ansatz", "'pzz'", "rpz", "path.py:NAME"]),
    "baseline typo": (["bench", "--baselines", "mlp,lstm"], 2, ["--baselines", "'lstm'", "fastkan"]),
    "mode typo": (["bench", "--gpt-modes", "--modes", "fp8"], 2, ["--modes", "'fp8'", "compile+bf16"]),
    "bench graphed on cpu": (
        ["bench", "--graphed", "--device", "cpu", "--cases", "fit1d", "--tiny"],
        2,
        ["qkan bench: error:", "CUDA"],
    ),
    "steps 0": (["fit", "--steps", "0"], 2, ["qkan fit: error:", "--steps", ">= 1"]),
    "fit lr": (["fit", "--lr", "-0.001"], 2, ["qkan fit: error:", "--lr", "> 0"]),
    "fit device": (["fit", "--device", "gpu"], 2, ["qkan fit: error:", "--device", "'gpu'"]),
    "fit px": (["fit", "--ansatz", "px"], 2, ["qkan fit: error:", "px", "arccos", "[-1, 1]", "pz"]),
    "train px": (["train", "--ansatz", "px"], 2, ["qkan train: error:", "px", "arccos", "rpz"]),
    "train lr": (["train", "--lr", "0"], 2, ["qkan train: error:", "--lr", "> 0"]),
    "eval every": (["train", "--eval-every", "-5"], 2, ["qkan train: error:", "--eval-every", ">= 1"]),
    "grad clip": (["train", "--grad-clip", "-1"], 2, ["qkan train: error:", "--grad-clip", "> 0"]),
    "model kwargs": (["train", "--model-kwargs", "[1]"], 2, ["qkan train: error:", "JSON object"]),
    "train graphed on cpu": (
        ["train", "--graphed", "--device", "cpu", "--no-progress", "--out", "{tmp}/graphed"],
        2,
        ["qkan train: error:", "--graphed needs a CUDA device"],
    ),
    "quant bits": (["quant", "--sensitivity-bits", "4,1"], 2, ["qkan quant: error:", "--sensitivity-bits", ">= 2"]),
    "quant head": (["quant", "--heads", "qkan,cnn"], 2, ["qkan quant: error:", "'cnn'", "spline"]),
    "missing data": (CIFAR_MISSING, 1, ["qkan train: error:", "cifar10 files not found", "--debug"]),
}
INSTALLED = ("no command", "case typo", "fit px", "train lr", "quant bits", "missing data")  # through the script
CALLS = {
    **{name: COMMAND + BAD[name][0] for name in INSTALLED},
    "torchrun entry": [*TRAIN_MODULE, "--lr", "0"],
    "version": [*COMMAND, "--version"],
    "debug first": [*COMMAND, "--debug", *CIFAR_MISSING],
    "debug last": [*TRAIN_MODULE, *CIFAR_MISSING[1:], "--debug"],
    "help": [*COMMAND, "train", "--help"],
    "bench nothing measured": [
        *COMMAND,
        *("bench", "--tiny", "--cases", "fit1d", "--solvers", "flash", "--device", "cpu", "--repeats", "1"),
        *("--loss-steps", "1", "--out", "{tmp}/bench"),
    ],
}


def _run(argv: list[str], tmp: Path) -> subprocess.CompletedProcess:
    """One call in ``tmp``, with this checkout first on the path (as the editable install has it)."""
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}
    args = [a.replace("{tmp}", str(tmp)) for a in argv]
    return subprocess.run(args, capture_output=True, text=True, cwd=tmp, env=env, timeout=120)


@pytest.fixture(scope="module")
def done(tmp_path_factory) -> Iterator[dict[str, Future]]:
    """Every call of CALLS, started side by side (one per core), by name."""
    tmp = tmp_path_factory.mktemp("cli")
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as pool:
        futures = {name: pool.submit(_run, argv, tmp) for name, argv in CALLS.items()}
        yield futures


def _result(done: dict[str, Future], name: str) -> subprocess.CompletedProcess:
    return done[name].result()


def _check(name: str, status: int, stderr: str) -> None:
    """The row's exit status, and one stderr line holding the row's words."""
    lines = stderr.strip().splitlines()
    assert status == BAD[name][1] and len(lines) == 1, (status, stderr[-2000:])
    assert all(w in lines[0] for w in BAD[name][2]), lines[0]


@pytest.mark.parametrize("name", list(BAD))
def test_bad_invocation_prints_one_line_and_its_status(tmp_path, capsys, name):
    try:
        status = main([a.replace("{tmp}", str(tmp_path)) for a in BAD[name][0]])
    except SystemExit as stop:  # argparse's refusals
        status = stop.code
    _check(name, status, capsys.readouterr().err)


@pytest.mark.parametrize("name", INSTALLED)
def test_installed_command_prints_the_same(done, name):
    result = _result(done, name)
    _check(name, result.returncode, result.stderr)


def test_torchrun_entry_reports_the_same_way(done):
    result = _result(done, "torchrun entry")
    assert result.returncode == 2 and result.stderr.startswith("qkan train: error: argument --lr: must be > 0")
    assert len(result.stderr.strip().splitlines()) == 1


def test_version(done):
    result = _result(done, "version")
    assert result.returncode == 0 and result.stdout.strip() == f"qkan {qkan.__version__}"


@pytest.mark.parametrize("name", ["debug first", "debug last"])
def test_debug_shows_the_traceback_then_the_line(done, name):
    result = _result(done, name)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and "Traceback (most recent call last)" in result.stderr
    assert "FileNotFoundError" in result.stderr and lines[-1].startswith("qkan train: error: cifar10 files not found")
    assert "--debug" not in lines[-1]


def test_help_shows_the_defaults(done):
    result = _result(done, "help")
    text = " ".join(result.stdout.split())  # argparse wraps lines
    assert result.returncode == 0
    for shown in ("(default: 0.003)", "(default: adamw)", "(default: once per epoch)", "(default: runs/train)"):
        assert shown in text
    assert "px is refused" in text and "--debug" in text


def test_every_option_of_every_subcommand_shows_its_default():
    parser = build_parser()
    subcommands = next(a for a in parser._actions if a.dest == "command").choices
    assert set(subcommands) == {"fit", "bench", "train", "quant"}
    for name, sub in subcommands.items():
        for action in sub._actions:
            if action.nargs != 0:  # flags (--help, --tiny, ...) are off unless given
                shown = sub.formatter_class(name)._get_help_string(action)
                assert "default" in shown, (name, action.dest)  # a None default: the help says what it means


def test_bench_names_only_the_files_it_wrote(done):
    result = _result(done, "bench nothing measured")
    assert result.returncode == 0, result.stderr[-2000:]
    wrote = next(line for line in result.stdout.splitlines() if line.startswith("wrote "))
    assert "bench.md" in wrote and "bench.png" not in wrote
    assert "not written:" in result.stdout and "bench.png" in result.stdout.splitlines()[-1]
    assert "skipped: solver 'flash'" in result.stdout
