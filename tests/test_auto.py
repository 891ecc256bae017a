"""solver="auto": the choice by device, circuit support and estimated memory (mocked free memory)."""
import pytest
import torch

from qkan import QKAN
from qkan.circuits import Circuit, builtin, data, theta
from qkan.solvers import LayerGeometry, explain, get_solver, solver_names, supported_solvers
from qkan.solvers import auto

PZ = builtin("pz", 3)
ENTANGLED = Circuit(2).h(0).ry(1, theta(0)).rz(0, data(0)).cnot(0, 1).measure("z")
GEOM = LayerGeometry(100, 100)


def test_auto_picks_exact_on_cpu_and_matches_it():
    model = QKAN([3, 2], solver="auto", seed=0, dtype=torch.float64)
    exact = QKAN([3, 2], solver="exact", seed=0, dtype=torch.float64)
    x = torch.rand(7, 3, dtype=torch.float64)
    assert torch.equal(model(x), exact(x))
    assert model.layers[0].program(x.device, x.dtype).chosen == {7: "exact"}


def test_auto_hands_each_solver_only_its_own_options():
    """flash's fourier option reaches flash alone: on the CPU auto runs exact, which does not take it."""
    model = QKAN([3, 2], solver="auto", seed=0, dtype=torch.float64, solver_kwargs={"fourier": False})
    exact = QKAN([3, 2], solver="exact", seed=0, dtype=torch.float64)
    x = torch.rand(5, 3, dtype=torch.float64)
    assert torch.equal(model(x), exact(x))
    with pytest.raises(TypeError, match="unknown option"):
        QKAN([3, 2], solver="auto", solver_kwargs={"no_such_option": 1})


def test_auto_falls_back_to_cutn_when_exact_would_not_fit(monkeypatch):
    if "cutn" not in solver_names():
        pytest.skip("cutn solver not registered")
    monkeypatch.setattr(auto, "free_memory", lambda device: 64 * 2**20)
    assert auto.choose(PZ, GEOM, torch.float32, torch.device("cpu"), batch=1000) == "cutn"
    assert auto.choose(PZ, GEOM, torch.float32, torch.device("cpu"), batch=1) == "exact"


def test_auto_raises_when_nothing_fits(monkeypatch):
    monkeypatch.setattr(auto, "free_memory", lambda device: 0)
    monkeypatch.setattr(get_solver("cutn"), "auto_rank", {})  # exact alone is tried
    with pytest.raises(ValueError, match="no solver can run"):
        auto.choose(PZ, GEOM, torch.float32, torch.device("cpu"), batch=1000)


def test_explain_lists_estimates_and_the_choice():
    text = explain(PZ, GEOM, torch.float32, "cpu", 1000)
    assert "exact: supported, estimated" in text and "chosen: exact" in text


def test_exact_memory_estimate_grows_with_batch_and_qubits():
    exact = get_solver("exact")
    small = exact.estimate_bytes(PZ, GEOM, torch.float32, 10)
    assert exact.estimate_bytes(PZ, GEOM, torch.float32, 1000) == pytest.approx(100 * small, rel=1e-9)
    assert exact.estimate_bytes(ENTANGLED, GEOM, torch.float32, 10) > small / 4


@pytest.mark.gpu
def test_auto_on_gpu_prefers_flash_for_one_qubit_and_cutn_when_memory_is_short(monkeypatch):
    cuda = torch.device("cuda")
    if "flash" in supported_solvers(PZ, GEOM, torch.float32, cuda):  # CuPy present
        assert auto.choose(PZ, GEOM, torch.float32, cuda, batch=1000) == "flash"
    assert auto.choose(ENTANGLED, GEOM, torch.float32, cuda, batch=10) == "exact"
    if "cutn" in supported_solvers(ENTANGLED, GEOM, torch.float32, cuda):  # cuQuantum present
        monkeypatch.setattr(auto, "free_memory", lambda device: 64 * 2**20)
        assert auto.choose(ENTANGLED, GEOM, torch.float32, cuda, batch=1000) == "cutn"
