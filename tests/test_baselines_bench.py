"""``qkan bench --cases baselines`` at tiny sizes on CPU: every row measured (or saying why), parity
within 1e-5 of the references, the Markdown table and the JSON file, and the command line."""

import json

import pytest

from qkan.bench.baselines import COLUMNS, baselines_markdown, run_baselines, write_baselines
from qkan.cli import main


def test_tiny_baselines_rows(tmp_path):
    import torch

    rows = run_baselines(torch.device("cpu"), repeats=1, tiny=True, progress=False)
    layers = [r.layer for r in rows]
    assert layers.count("SplineKAN") == 2 and "BSplineKAN" in layers and "FastKAN (expit)" in layers
    assert "RationalKAN unit" in layers
    assert any(r.layer.startswith("MLP") for r in rows)
    for r in rows:
        assert r.fwd_ms > 0 and r.step_ms > 0, r
        assert r.f64_y <= 1e-5 and r.f64_dx <= 1e-5, r  # ours against our layer in float64
        if r.parity_y is not None:
            assert r.parity_y <= 1e-5 and r.parity_dx <= 1e-5, r
            assert r.fwd_speedup == pytest.approx(r.ref_fwd_ms / r.fwd_ms)
    compared = {r.layer for r in rows if r.parity_y is not None}
    assert {"BSplineKAN", "FastKAN (gaussian)"} <= compared
    table = baselines_markdown(rows).splitlines()
    assert table[0] == "| " + " | ".join(COLUMNS) + " |" and len(table) == 2 + len(rows)
    payload = json.loads(open(write_baselines(rows, tmp_path, "cpu")).read())
    assert len(payload["rows"]) == len(rows) and payload["machine"]["device"] == "cpu"


def test_bench_cli_baselines_case(tmp_path, capsys):
    args = ["bench", "--cases", "baselines", "--tiny", "--repeats", "1", "--device", "cpu", "--out", str(tmp_path)]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "| SplineKAN |" in out and "| FastKAN (expit) |" in out and (tmp_path / "baselines.md").is_file()


def test_flashkat_reference_compiles():
    from qkan.solvers.cuda_runtime import nvcc_available, ptxas_report

    if not nvcc_available():
        pytest.skip("needs nvcc")
    from qkan.bench.flashkat_reference import SOURCE

    (info,) = ptxas_report(SOURCE, arch="sm_90").values()
    assert info["spill_stores"] == 0
