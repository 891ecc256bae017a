"""The solver registry and solver="auto": duplicate names, declared options, auto as a registered
solver, and its choice by device, circuit support and estimated memory (mocked free memory)."""

from typing import Optional

import pytest
import torch

from qkan import QKAN
from qkan.circuits import Circuit, builtin, data, theta
from qkan.solvers import (
    AutoSolver,
    LayerGeometry,
    Solver,
    UnsupportedCircuit,
    auto,
    check_options,
    compile,
    explain,
    get_solver,
    memory,
    register_solver,
    registered_solvers,
    registry,
    solver_names,
    supported_solvers,
)
from qkan.solvers.exact import ExactProgram, ExactSolver

PZ = builtin("pz", 3)
ENTANGLED = Circuit(2).h(0).ry(1, theta(0)).rz(0, data(0)).cnot(0, 1).measure("z")
WIDE = Circuit(6).h(0).ry(5, theta(0)).rz(0, data(0)).cnot(0, 5).measure("z")  # above flash's qubit limit
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
    monkeypatch.setattr(memory, "free_memory", lambda device: 64 * 2**20)
    assert auto.choose(PZ, GEOM, torch.float32, torch.device("cpu"), batch=1000) == "cutn"
    assert auto.choose(PZ, GEOM, torch.float32, torch.device("cpu"), batch=1) == "exact"


def test_auto_raises_when_nothing_fits(monkeypatch):
    monkeypatch.setattr(memory, "free_memory", lambda device: 0)
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
def test_auto_on_gpu_prefers_flash_up_to_five_qubits_and_cutn_when_memory_is_short(monkeypatch):
    cuda = torch.device("cuda")
    if "flash" in supported_solvers(PZ, GEOM, torch.float32, cuda):  # CuPy present
        assert auto.choose(PZ, GEOM, torch.float32, cuda, batch=1000) == "flash"
        assert auto.choose(ENTANGLED, GEOM, torch.float32, cuda, batch=10) == "flash"
    assert auto.choose(WIDE, GEOM, torch.float32, cuda, batch=10) == "exact"
    assert "at most 5 qubits" in auto.explain(WIDE, GEOM, torch.float32, cuda, batch=10)
    if "cutn" in supported_solvers(WIDE, GEOM, torch.float32, cuda):  # cuQuantum present
        monkeypatch.setattr(memory, "free_memory", lambda device: 64 * 2**20)
        assert auto.choose(WIDE, GEOM, torch.float32, cuda, batch=1000) == "cutn"


# ----- the registry ----------------------------------------------------------------------------
@pytest.fixture
def scratch_registry(monkeypatch):
    """A copy of the solver registry (and an empty Program cache) that the test may change."""
    monkeypatch.setattr(registry, "_SOLVERS", dict(registry._SOLVERS))
    monkeypatch.setattr(registry, "_PROGRAMS", {})


class Toy(Solver):
    """A user solver that declares nothing but its name: exact's math, no options, never tried by auto."""

    name = "toy"

    def unsupported_reason(self, circuit, geometry, dtype, device) -> Optional[str]:
        return None

    def build(self, circuit, geometry, dtype, device, **options) -> ExactProgram:
        return ExactProgram(circuit, geometry, dtype, device, checkpoint=False)

    def estimate_bytes(self, circuit, geometry, dtype, batch) -> int:
        return 0


def test_a_taken_name_is_refused_and_the_registry_is_unchanged(scratch_registry):
    before = registered_solvers()
    with pytest.raises(ValueError, match=r"solver 'exact' is already registered; pass replace=True"):
        register_solver(ExactSolver())
    with pytest.raises(ValueError, match=r"solver 'auto' is already registered"):
        register_solver(AutoSolver())
    with pytest.raises(TypeError, match=r"solver must be a Solver instance, got str"):
        register_solver("exact")
    assert registered_solvers() == before


def test_replace_true_replaces_a_solver_and_empties_the_program_cache(scratch_registry):
    program = compile("exact", PZ, LayerGeometry(2, 2), torch.float64, "cpu")
    mine = register_solver(ExactSolver(), replace=True)
    assert get_solver("exact") is mine and solver_names().count("exact") == 1
    assert compile("exact", PZ, LayerGeometry(2, 2), torch.float64, "cpu") is not program


def test_a_solver_without_options_takes_none(scratch_registry):
    register_solver(Toy())
    assert compile("toy", PZ, LayerGeometry(2, 2), torch.float64, "cpu").circuit == PZ
    with pytest.raises(TypeError, match=r"solver 'toy' got unknown option\(s\) \['fourier'\]; it accepts none"):
        compile("toy", PZ, LayerGeometry(2, 2), torch.float64, "cpu", fourier=False)
    with pytest.raises(
        TypeError, match=r"solver 'exact' got unknown option\(s\) \['depth'\]; it accepts \['checkpoint'\]"
    ):
        check_options("exact", {"depth": 1})
    assert "toy" not in [s.name for s in auto.ranked_solvers("cpu")]  # no auto_rank: auto never tries it


# ----- auto as a registered solver -------------------------------------------------------------
def test_auto_is_registered_once_and_never_picks_itself():
    assert solver_names().count("auto") == 1 and isinstance(get_solver("auto"), AutoSolver)
    assert get_solver("auto").auto_rank == {}
    for device_type in ("cpu", "cuda"):
        assert all(not isinstance(s, AutoSolver) for s in auto.ranked_solvers(device_type))
    assert "auto" not in [s.name for s in auto.candidates()]


def test_auto_options_are_the_union_of_the_others(scratch_registry):
    others = [s for s in registered_solvers() if s.name != "auto"]
    expected = {k: v for s in others for k, v in s.options.items()}
    assert dict(get_solver("auto").options) == expected
    assert {"checkpoint", "fourier", "memory_limit", "backward"} <= set(expected)

    class Verbose(Toy):
        name = "verbose"
        options = {"checkpoint": True, "verbosity": 1}

    register_solver(Verbose())  # read from the registry: a new solver's options join at once
    assert get_solver("auto").options["verbosity"] == 1
    assert get_solver("auto").options["checkpoint"] is auto.SOLVER_DEFAULT  # exact says False, verbose True
    with pytest.raises(
        TypeError, match=r"solver 'auto' got unknown option\(s\) \['nope'\]; it accepts \[.*'verbosity'"
    ):
        check_options("auto", {"nope": 1})


def test_compiling_auto_on_cpu_picks_exact_then_cutn_when_memory_is_short(scratch_registry, monkeypatch):
    program = compile("auto", PZ, GEOM, torch.float32, "cpu")
    assert isinstance(program, auto.AutoProgram)
    assert isinstance(program.program_for(1), ExactProgram) and program.chosen == {1: "exact"}
    assert program.options == {**get_solver("auto").options}
    if "cutn" not in solver_names():
        pytest.skip("cutn solver not registered")
    monkeypatch.setattr(memory, "free_memory", lambda device: 64 * 2**20)
    assert type(program.program_for(1000)).__name__ == "CutnProgram" and program.chosen[1000] == "cutn"


def test_auto_hands_a_disputed_option_on_only_when_given(scratch_registry):
    class Loud(Toy):
        name = "loud"
        options = {"checkpoint": True}

    register_solver(Loud())
    program = compile("auto", PZ, LayerGeometry(2, 2), torch.float64, "cpu")
    assert program.program_for(3).checkpoint is False  # exact's own default, not loud's
    program = compile("auto", PZ, LayerGeometry(2, 2), torch.float64, "cpu", checkpoint=True)
    assert program.program_for(3).checkpoint is True


def test_auto_support_and_estimate_follow_the_solver_it_would_choose():
    solver = get_solver("auto")
    cpu = torch.device("cpu")
    assert solver.unsupported_reason(PZ, GEOM, torch.float32, cpu) is None
    reason = solver.unsupported_reason(PZ, GEOM, torch.float16, cpu)
    assert reason.startswith("no solver auto tries on cpu can run it") and "exact:" in reason
    assert "auto" in supported_solvers(PZ, GEOM, torch.float32, cpu)
    with pytest.raises(UnsupportedCircuit, match=r"solver 'auto' cannot run circuit 'pz'"):
        compile("auto", PZ, GEOM, torch.float16, cpu)
    assert solver.estimate_bytes(PZ, GEOM, torch.float32, 10, cpu) == get_solver("exact").estimate_bytes(
        PZ, GEOM, torch.float32, 10
    )
