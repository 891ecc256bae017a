"""`qkan train` run folders are safe: a used --out is refused unless --resume or --overwrite (and a refused
call changes no byte there), --resume needs a checkpoint, a resumed run refuses changed options unless
--override-config (which records them), metrics and checkpoint are replaced atomically at every
evaluation, and the progress bar shows an ETA unless --no-progress."""

import json
from pathlib import Path

import pytest

from qkan.training import runs as runs_module
from qkan.training import trainer as trainer_module
from qkan.training.cli import main as train_main

TINY = ["--task", "digits", "--reps", "1", "--batch-size", "32", "--device", "cpu", "--no-plot", "--no-progress"]


def tiny(out: Path, *flags: str) -> int:
    """`qkan train` on a tiny digits run (2 steps, one evaluation each, constant rate unless flags say)."""
    return train_main([*TINY, "--steps", "2", "--eval-every", "1", "--schedule", "constant", "--out", str(out), *flags])


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def error_line(capsys) -> str:
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    """A finished 2-step run at --lr 0.01, copied by the tests that change it."""
    out = tmp_path_factory.mktemp("runs") / "done"
    assert tiny(out, "--lr", "0.01") == 0
    return out


def copy_of(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    target.mkdir()
    for name, data in snapshot(run).items():
        (target / name).write_bytes(data)
    return target


def test_a_used_folder_is_refused_and_left_byte_identical(finished, tmp_path, capsys):
    run = copy_of(finished, tmp_path)
    before = snapshot(run)
    assert tiny(run) == 2
    line = error_line(capsys)
    assert line.startswith("qkan train: error: --out") and "--resume" in line and "--overwrite" in line
    assert snapshot(run) == before


def test_overwrite_starts_over_and_keeps_unknown_files(finished, tmp_path, capsys):
    run = copy_of(finished, tmp_path)
    (run / "notes.txt").write_text("mine")
    assert tiny(run, "--overwrite", "--steps", "1") == 0
    assert (run / "notes.txt").read_text() == "mine"
    record = json.loads((run / "metrics.json").read_text())
    assert record["steps"] == 1 and len(record["history"]) == 1 and record["config"]["lr"] == 0.003
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("mine")
    assert tiny(other) == 2 and "--overwrite" in error_line(capsys)
    assert tiny(run, "--resume", "--overwrite") == 2 and "exclude each other" in error_line(capsys)


@pytest.mark.parametrize("make", [False, True])
def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys, make):
    run = tmp_path / "run"
    if make:
        run.mkdir()
        (run / "metrics.json").write_text("{}")
    assert tiny(run, "--resume") == 2
    assert error_line(capsys).startswith(f"qkan train: error: --resume: no checkpoint.pt in {run}")
    if make:
        assert snapshot(run) == {"metrics.json": b"{}"}
    else:
        assert not run.exists()


def test_changed_options_on_resume_are_refused_unless_overridden(finished, tmp_path, capsys):
    run = copy_of(finished, tmp_path)
    before = snapshot(run)
    assert tiny(run, "--resume", "--lr", "0.02") == 2
    line = error_line(capsys)
    assert "--lr 0.02 differs from the checkpoint's 0.01" in line and "--override-config" in line
    assert tiny(run, "--resume", "--model", "mlp", "--override-config") == 2
    assert "--model 'mlp' differs from the checkpoint's 'hqkan'" in (line := error_line(capsys))
    assert "--overwrite" in line
    assert snapshot(run) == before

    # options not given keep the checkpoint's values (lr 0.01, not the default 0.003)
    assert train_main(["--out", str(run), "--resume", "--steps", "3", "--override-config", *TINY]) == 0
    assert (
        train_main(["--out", str(run), "--resume", "--steps", "4", "--lr", "0.02", "--override-config", *TINY[-2:]])
        == 0
    )
    record = json.loads((run / "metrics.json").read_text())
    assert [h["lr"] for h in record["history"]] == [0.01, 0.01, 0.01, 0.02]
    assert record["config"]["lr"] == 0.02 and record["steps"] == 4 and record["complete"]
    assert record["overrides"] == [
        {"option": "--steps", "checkpoint": 2, "value": 3, "step": 2},
        {"option": "--lr", "checkpoint": 0.01, "value": 0.02, "step": 3},
        {"option": "--steps", "checkpoint": 3, "value": 4, "step": 3},
    ]


def test_metrics_and_checkpoint_are_replaced_atomically_at_every_evaluation(tmp_path, monkeypatch):
    replaced, seen = [], []
    real_replace, real_write = runs_module.os.replace, trainer_module.write_metrics

    def replace(src, dst):
        replaced.append((Path(src), Path(dst)))
        real_replace(src, dst)

    def write_then_read(out, *args):
        paths = real_write(out, *args)
        seen.append(json.loads(paths["json"].read_text()))
        return paths

    monkeypatch.setattr(runs_module.os, "replace", replace)
    monkeypatch.setattr(trainer_module, "write_metrics", write_then_read)
    assert tiny(tmp_path / "run") == 0
    assert [(r["steps"], r["complete"], len(r["evals"])) for r in seen[:2]] == [(1, False, 1), (2, True, 2)]
    assert {dst.name for _, dst in replaced} == {"checkpoint.pt", "metrics.json", "metrics.csv"}
    assert all(src.parent == dst.parent and src.name == dst.name + ".tmp" for src, dst in replaced)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["checkpoint.pt", "metrics.csv", "metrics.json"]


def test_progress_bar_shows_an_eta_unless_turned_off(tmp_path, capsys):
    flags = [f for f in TINY if f != "--no-progress"]
    assert train_main([*flags, "--steps", "2", "--out", str(tmp_path / "bar")]) == 0
    err = capsys.readouterr().err
    assert "2/2" in err and "<00:00" in err  # tqdm: elapsed<remaining
    assert tiny(tmp_path / "quiet") == 0
    assert capsys.readouterr().err == ""
