"""qkan bench: interleaved clocks; every case at tiny sizes on CPU gives well-formed Markdown, JSON and a
plot; host/GPU µs per call; the GPT mode table (tiny) with its failed cells; the bench command line."""

import json

import pytest
import torch

from qkan.bench import (
    CASE_NAMES,
    host_and_gpu_us,
    run_bench,
    run_gpt_modes,
    time_interleaved_ms,
    to_markdown,
    write_outputs,
)
from qkan.bench.cli import main as bench_main
from qkan.bench.gpt_modes import MODE_COLUMNS, TINY, build_variant, gpt_modes_markdown
from qkan.cli import main


def test_interleaved_timing_takes_turns_within_each_repeat():
    calls = []
    medians = time_interleaved_ms([lambda: calls.append("a"), lambda: calls.append("b")], torch.device("cpu"), 3, 2)
    assert calls == ["a", "a", "b", "b"] + ["a", "b"] * 3
    assert len(medians) == 2 and all(m >= 0 for m in medians)


def test_tiny_bench_every_case_is_measured_or_says_why(tmp_path):
    records = run_bench(
        cases=list(CASE_NAMES),
        solvers=["exact", "no-such-solver"],
        ansatzes=["pz"],
        baselines=["mlp"],
        device="cpu",
        repeats=1,
        loss_steps=1,
        tiny=True,
        progress=False,
    )
    exact = [r for r in records if r.solver == "exact"]
    assert {r.case for r in exact} == set(CASE_NAMES)
    for r in exact:
        assert r.note == "" or r.note.startswith("skipped"), r.note
    measured = [r for r in exact if not r.note]
    assert {r.case for r in measured} == set(CASE_NAMES)
    for r in measured:
        assert r.forward_ms > 0 and r.step_ms > 0 and r.params > 0 and r.loss == r.loss
        assert r.fwd_vs_exact == pytest.approx(1.0)
        assert r.host_us > 0 and r.gpu_us is None  # no GPU clock on the CPU
    bogus = [r for r in records if r.solver == "no-such-solver"]
    assert bogus and all(r.note.startswith("skipped: unknown solver") for r in bogus)
    table = to_markdown(records).splitlines()
    assert len(table) == 2 + len(records) and all(line.count("|") == table[0].count("|") for line in table)
    paths = write_outputs(records, tmp_path, "cpu")
    payload = json.loads((tmp_path / "bench.json").read_text())
    assert len(payload["records"]) == len(records) and payload["machine"]["device"] == "cpu"
    assert (tmp_path / "bench.png").stat().st_size > 0 and paths["markdown"].endswith("bench.md")


def test_bench_cli_tiny_run_with_threads_records_the_count(tmp_path, capsys):
    before = torch.get_num_threads()
    args = ["--threads", "1", "bench", "--tiny", "--cases", "fit1d", "--solvers", "exact", "--repeats", "1"]
    try:
        assert main([*args, "--loss-steps", "1", "--out", str(tmp_path), "--device", "cpu"]) == 0
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    out = capsys.readouterr().out
    assert "| fit1d | qkan | exact | pz |" in out and "device: cpu, torch threads: 1" in out
    assert json.loads((tmp_path / "bench.json").read_text())["machine"]["threads"] == 1


def test_unknown_case_is_rejected():
    with pytest.raises(ValueError, match="unknown bench case"):
        run_bench(cases=["nope"], device="cpu", progress=False)


def test_graphed_steps_need_cuda():
    with pytest.raises(ValueError, match="need a CUDA device"):
        run_bench(cases=["fit1d"], solvers=["exact"], device="cpu", graphed=True, tiny=True, progress=False)


def test_host_time_per_call_on_cpu():
    calls = []
    host, gpu = host_and_gpu_us(lambda: calls.append(1), torch.device("cpu"), calls=7)
    assert len(calls) == 8 and host > 0 and gpu is None  # one untimed call first


def test_floor_and_mlp_variants_have_the_asked_feed_forwards():
    floor = build_variant("floor", TINY, torch.device("cpu"))
    ff = floor.blocks[0].mlp
    assert (ff.fc.in_features, ff.fc.out_features, ff.proj.out_features) == (32, TINY.bottleneck, 32)
    assert build_variant("mlp", TINY, torch.device("cpu")).blocks[0].mlp.fc.out_features == 4 * 32
    qkan_ff = build_variant("qkan-exact", TINY, torch.device("cpu")).blocks[0].mlp
    assert qkan_ff.e == TINY.bottleneck and qkan_ff.qkan.layers[0].reps == 1
    with pytest.raises(ValueError, match="unknown GPT variant 'moe'"):
        build_variant("moe", TINY, torch.device("cpu"))


def test_gpt_mode_table_tiny_on_cpu_records_failures_in_their_cells():
    records = run_gpt_modes(
        ["floor", "qkan-exact", "qkan-flash"],
        ["eager", "bf16", "compile"],
        device="cpu",
        tiny=True,
        repeats=1,
        warmup=1,
        progress=False,
    )
    cell = {(r.variant, r.mode): r for r in records}
    assert len(records) == 9
    for mode in ("eager", "bf16", "compile"):
        floor = cell["floor", mode]
        assert floor.ms_per_step > 0 and floor.tokens_per_s > 0 and floor.vs_floor == 1.0 and not floor.note
        assert cell["qkan-flash", mode].note.startswith("failed: solver 'flash'")  # flash needs CUDA
        assert cell["qkan-flash", mode].ms_per_step is None
    assert cell["floor", "compile"].graph_breaks == 0 and cell["floor", "eager"].graph_breaks is None
    assert cell["qkan-exact", "eager"].vs_floor > 0
    table = gpt_modes_markdown(records).splitlines()
    assert table[0] == "| " + " | ".join(MODE_COLUMNS) + " |" and len(table) == 2 + len(records)
    with pytest.raises(ValueError, match="unknown mode 'fp8'"):
        run_gpt_modes(["floor"], ["fp8"], device="cpu", tiny=True, progress=False)


def test_bench_cli_gpt_modes_and_errors(tmp_path, capsys):
    assert (
        bench_main(
            [
                "--gpt-modes",
                "--tiny",
                "--variants",
                "floor",
                "--modes",
                "eager",
                "--repeats",
                "1",
                "--device",
                "cpu",
                "--out",
                str(tmp_path),
            ]
        )
        == 0
    )
    assert "| floor | eager |" in capsys.readouterr().out
    payload = json.loads((tmp_path / "gpt_modes.json").read_text())
    assert payload["gpt"]["n_embd"] == 32 and payload["records"][0]["variant"] == "floor"
    with pytest.raises(SystemExit) as stop:  # refused by the parser, before anything runs
        bench_main(["--cases", "nope", "--device", "cpu", "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip().splitlines()
    assert stop.value.code == 2 and len(err) == 1
    assert err[0].startswith("qkan bench: error: argument --cases: unknown case 'nope'; expected a comma list of fit1d")


@pytest.mark.gpu
def test_gpu_time_per_call_is_measured_behind_the_host():
    x = torch.randn(256, 256, device="cuda")
    host, gpu = host_and_gpu_us(lambda: x @ x, torch.device("cuda"), calls=20)
    assert host > 0 and gpu is not None and 0 < gpu < 10_000


@pytest.mark.gpu
def test_gpt_mode_table_tiny_on_gpu_runs_every_mode():
    records = run_gpt_modes(["floor", "qkan-flash"], device="cuda", tiny=True, repeats=2, warmup=2, progress=False)
    for r in records:
        assert r.ms_per_step and r.peak_mib and not r.note, (r.variant, r.mode, r.note)


@pytest.mark.gpu
def test_graphed_steps_are_timed_next_to_exact():
    records = run_bench(
        cases=["fit1d", "wide"],
        solvers=["exact", "flash"],
        device="cuda",
        tiny=True,
        repeats=2,
        loss_steps=2,
        graphed=True,
        progress=False,
    )
    assert all(r.graphed_ms and r.graphed_ms > 0 for r in records), [(r.solver, r.note) for r in records]
    flash = [r for r in records if r.solver == "flash"]
    assert flash and all(r.graphed_vs_exact and r.graphed_vs_exact > 0 for r in flash)
    assert "graphed_ms" in to_markdown(records).splitlines()[0]
