"""The published ``qkan.solver`` paths (issue 23): ``qkan.solver.layout`` / ``qkan.solver.packing`` name the
``qkan.hardware`` objects, the registry calls keep their published meaning on our registry (and refuse
published-style solvers with a TypeError saying what to use), and ``prune_node(mode="manual",
active_neurons_id=...)`` keeps the nodes the published package keeps, with the same outputs; each published
script runs unchanged on both packages (subprocesses)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import qkan
import qkan.hardware
from qkan.solver import QKANSolver, get_registry, get_solver, register
from qkan.solvers import registry, solver_names
from qkan.solvers.exact import ExactSolver

from .published import run_published

OURS = Path(qkan.__file__).resolve().parents[1]


def test_published_module_paths_name_the_hardware_objects():
    from qkan.solver import layout, packing

    for module in (layout, packing, qkan.solver):
        for name in module.__all__:
            if hasattr(qkan.hardware, name):
                assert getattr(module, name) is getattr(qkan.hardware, name), (module.__name__, name)
    assert set(layout.__all__) | set(packing.__all__) <= set(qkan.hardware.__all__)


def test_registry_lookups_keep_the_published_meaning():
    assert set(get_registry()) == set(solver_names())
    assert get_solver("exact") is get_registry()["exact"] is registry.get_solver("exact")
    assert isinstance(get_solver("exact"), QKANSolver)
    with pytest.raises(KeyError, match="unknown solver 'no-such'"):
        get_solver("no-such")
    with pytest.raises(TypeError):
        get_registry()["x"] = get_solver("exact")  # type: ignore[index]


class RenamedExact(ExactSolver):
    name = "compat-exact"
    auto_rank = {}


def test_register_replaces_a_name_as_published(monkeypatch):
    monkeypatch.setattr(registry, "_SOLVERS", dict(registry._SOLVERS))  # the registration ends with the test
    first, second = RenamedExact(), RenamedExact()
    assert register(first) is first and get_solver("compat-exact") is first
    assert register(second) is second and get_registry()["compat-exact"] is second
    layer = qkan.QKANLayer(2, 3, reps=1, solver="compat-exact", seed=0)
    reference = qkan.QKANLayer(2, 3, reps=1, solver="exact", seed=0)
    x = torch.rand(5, 2)
    torch.testing.assert_close(layer(x), reference(x))


def test_published_style_solvers_are_refused_with_what_to_use():
    with pytest.raises(TypeError, match=r"qkan\.circuits\.Circuit.*qkan\.solvers\.base\.Solver"):

        class Postacts(QKANSolver):  # noqa: F841
            name = "postacts"

    with pytest.raises(TypeError, match="solver must be a qkan.solvers.base.Solver, got function"):
        register(lambda x: x)  # type: ignore[arg-type]
    assert "postacts" not in get_registry()


def run_on(target: Path, script: str) -> object:
    """The JSON that ``script`` prints with the qkan in ``target`` importable."""
    env = {**os.environ, "PYTHONPATH": str(target), "QKAN_SKIP_CUDA_BUILD": "TRUE", "OMP_NUM_THREADS": "1"}
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600, env=env)
    assert run.returncode == 0, run.stderr[-2000:]
    return json.loads(run.stdout.strip().splitlines()[-1])


REGISTRY_SCRIPT = """
import json
from qkan.solver import QKANSolver, get_registry, get_solver
try:
    get_solver("no-such")
    missing = "no error"
except KeyError:
    missing = "KeyError"
print(json.dumps(["exact" in get_registry(), isinstance(get_solver("exact"), QKANSolver), missing]))
"""


def test_the_published_registry_script_runs_unchanged_here():
    from .test_packing import published_023

    assert run_on(OURS, REGISTRY_SCRIPT) == run_on(published_023(), REGISTRY_SCRIPT) == [True, True, "KeyError"]


def test_the_published_layout_script_gives_the_published_layouts_here():
    pytest.importorskip("qiskit")
    from .test_packing import PARITY_CASES, PUBLISHED_SCRIPT, published_023

    script = PUBLISHED_SCRIPT.replace("cases = json.loads(sys.argv[1])", f"cases = {PARITY_CASES!r}")
    assert run_on(OURS, script) == run_on(published_023(), script)


WIDTH = [3, 4, 3, 2]
KEEP = [[0, 1, 2], [3, 0], [1], [0, 1]]


def test_manual_prune_node_keeps_the_published_nodes_and_outputs():
    x = torch.rand(16, 3) * 2 - 1
    code = """
    model = qkan.QKAN(inputs["width"], reps=2, seed=0, save_act=True)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    with torch.no_grad():
        model(inputs["x"])
    pruned = model.prune_node(mode="manual", active_neurons_id=inputs["keep"])
    with torch.no_grad():
        outputs.update(state=state, width=pruned.width, y=pruned(inputs["x"]))
    """
    published = run_published(code, {"width": WIDTH, "x": x, "keep": KEEP})
    model = qkan.QKAN(WIDTH, reps=2, seed=3, save_act=True)
    model.load_state_dict(published["state"])
    before = {k: v.clone() for k, v in model.state_dict().items()}
    pruned = model.prune_node(mode="manual", active_neurons_id=KEEP)
    assert pruned.width == published["width"] == [3, 2, 1, 2]
    with torch.no_grad():
        torch.testing.assert_close(pruned(x), published["y"], atol=1e-5, rtol=0)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


@pytest.mark.parametrize(
    "ids, match",
    [
        ([[0, 1, 2]], "needs an entry for each layer"),
        ([[0], [4], [0]], r"active_neurons_id\[1\] must be a non-empty list of node ids in \[0, 4\), got \[4\]"),
        ([[0], [1], []], r"active_neurons_id\[2\] must be a non-empty list"),
        ("12", "must be a list of node-id lists"),
    ],
)
def test_manual_prune_node_refuses_bad_ids_and_leaves_the_model(ids, match):
    model = qkan.QKAN(WIDTH, reps=1, seed=0)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    with pytest.raises(ValueError, match=match):
        model.prune_node(mode="manual", active_neurons_id=ids)
    for key, value in model.state_dict().items():
        assert torch.equal(value, before[key]), key


def test_prune_node_mode_is_checked_and_manual_without_ids_warns():
    model = qkan.QKAN([2, 3, 1], reps=1, seed=0)
    x = torch.rand(8, 2)
    with pytest.raises(ValueError, match="mode must be 'auto' or 'manual', got 'semi'"):
        model.prune_node(mode="semi", x=x)
    with pytest.raises(ValueError, match="got a Tensor \\(pass x by keyword"):
        model.prune_node(0.1, x)  # type: ignore[arg-type]
    with pytest.warns(RuntimeWarning, match="pruning in 'auto' mode"):
        manual = model.prune_node(0.0, mode="manual", x=x)
    assert manual.width == model.prune_node(0.0, x=x).width
