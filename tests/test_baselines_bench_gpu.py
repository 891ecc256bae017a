"""``qkan bench --cases baselines`` at tiny sizes on a GPU: every row measured with its peak memory, and every
reference present (FlashKAT re-implementation; KANditioned when installed) within 1e-5 of ours."""

import pytest
import torch

from qkan.bench.baselines import run_baselines
from qkan.solvers.cuda_runtime import cupy_available

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not cupy_available(), reason="needs CuPy and a CUDA GPU")]


def test_tiny_baselines_on_cuda():
    rows = run_baselines(torch.device("cuda"), repeats=2, tiny=True, progress=False)
    for r in rows:
        assert r.fwd_ms > 0 and r.peak_mib is not None, r
        assert r.f64_y <= 1e-5 and r.f64_dx <= 1e-5, r
        if r.parity_y is not None:
            assert r.parity_y <= 1e-5 and r.parity_dx <= 1e-5, r
    assert any(r.layer == "RationalKAN unit" and r.parity_y is not None for r in rows)
