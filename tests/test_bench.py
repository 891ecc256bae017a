"""qkan bench: every case at tiny sizes on CPU gives well-formed Markdown, JSON and a plot."""
import json

import pytest

from qkan.bench import CASE_NAMES, run_bench, to_markdown, write_outputs
from qkan.cli import main


def test_tiny_bench_every_case_is_measured_or_says_why(tmp_path):
    records = run_bench(cases=list(CASE_NAMES), solvers=["exact", "no-such-solver"], ansatzes=["pz"],
                        baselines=["mlp"], device="cpu", repeats=1, loss_steps=1, tiny=True, progress=False)
    exact = [r for r in records if r.solver == "exact"]
    assert {r.case for r in exact} == set(CASE_NAMES)
    for r in exact:
        assert r.note == "" or r.note.startswith("skipped"), r.note
    measured = [r for r in exact if not r.note]
    assert {r.case for r in measured} == set(CASE_NAMES)
    for r in measured:
        assert r.forward_ms > 0 and r.step_ms > 0 and r.params > 0 and r.loss == r.loss
        assert r.fwd_vs_exact == pytest.approx(1.0)
    bogus = [r for r in records if r.solver == "no-such-solver"]
    assert bogus and all(r.note.startswith("skipped: unknown solver") for r in bogus)
    table = to_markdown(records).splitlines()
    assert len(table) == 2 + len(records) and all(line.count("|") == table[0].count("|") for line in table)
    paths = write_outputs(records, tmp_path, "cpu")
    payload = json.loads((tmp_path / "bench.json").read_text())
    assert len(payload["records"]) == len(records) and payload["machine"]["device"] == "cpu"
    assert (tmp_path / "bench.png").stat().st_size > 0 and paths["markdown"].endswith("bench.md")


def test_bench_cli_tiny_run(tmp_path, capsys):
    assert main(["bench", "--tiny", "--cases", "fit1d", "--solvers", "exact", "--repeats", "1",
                 "--loss-steps", "1", "--out", str(tmp_path), "--device", "cpu"]) == 0
    assert "| fit1d | qkan | exact | pz |" in capsys.readouterr().out


def test_unknown_case_is_rejected():
    with pytest.raises(ValueError, match="unknown bench case"):
        run_bench(cases=["nope"], device="cpu", progress=False)


def test_graphed_steps_need_cuda():
    with pytest.raises(ValueError, match="need a CUDA device"):
        run_bench(cases=["fit1d"], solvers=["exact"], device="cpu", graphed=True, tiny=True, progress=False)


@pytest.mark.gpu
def test_graphed_steps_are_timed_next_to_exact():
    records = run_bench(cases=["fit1d", "wide"], solvers=["exact", "flash"], device="cuda", tiny=True, repeats=2,
                        loss_steps=2, graphed=True, progress=False)
    assert all(r.graphed_ms and r.graphed_ms > 0 for r in records), [(r.solver, r.note) for r in records]
    flash = [r for r in records if r.solver == "flash"]
    assert flash and all(r.graphed_vs_exact and r.graphed_vs_exact > 0 for r in flash)
    assert "graphed_ms" in to_markdown(records).splitlines()[0]
