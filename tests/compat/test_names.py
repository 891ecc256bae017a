"""Every public name of the published qkan 0.2.3 that this package provides exists under the same import
path, with the same keyword names and defaults (read from the published package itself)."""

from __future__ import annotations

import importlib
import inspect

import pytest

from .published import run_published

# (published module, name) -> our module where it lives; the whole published __all__ except the names listed
# in NOT_PROVIDED (docs/migrating.md says why and what replaces them)
PROVIDED = {
    ("qkan", "QKAN"): "qkan",
    ("qkan", "QKANLayer"): "qkan",
    ("qkan.qkan", "QKAN"): "qkan.qkan",
    ("qkan.qkan", "QKANLayer"): "qkan.qkan",
    ("qkan", "FourierKAN"): "qkan",
    ("qkan", "KAN"): "qkan",
    ("qkan.kan", "KAN"): "qkan.kan",
    ("qkan.fourier_kan", "FourierKAN"): "qkan.fourier_kan",
    ("qkan", "create_dataset"): "qkan",
    ("qkan", "CompiledInference"): "qkan",
    ("qkan", "compile_inference"): "qkan",
    ("qkan", "graph_submodules"): "qkan",
    ("qkan", "make_graphed_inference"): "qkan",
    ("qkan", "make_graphed_train_step"): "qkan",
    ("qkan.inference", "compile_inference"): "qkan.inference",
    ("qkan.inference", "make_graphed_train_step"): "qkan.inference",
    **{
        (module, name): module
        for module in ("qkan", "qkan.optim")
        for name in (
            "AdaBelief",
            "LBFGSFinisher",
            "QKANAdamMini",
            "QKANBeliefMini",
            "QKANMuon",
            "QKANSpectralMini",
            "TritonAdaBelief",
            "adam_then_lbfgs",
            "reshape_optimizer_state",
        )
    },
    **{("qkan.solver", name): "qkan.solver" for name in ("QKANSolver", "get_registry", "get_solver", "register")},
    **{
        (module, name): module
        for module, names in (
            ("qkan.solver.layout", ("DeviceProfile", "rank_qubits", "score_layout", "tile_disjoint")),
            ("qkan.solver.packing", ("PackedCircuit", "interaction_of", "pack_circuit")),
        )
        for name in names
    },
}
NOT_PROVIDED = {
    "DARUAN": "qkan.circuits (a Circuit and its solvers)",
    "StateVector": "qkan.circuits / the exact solver",
    "TorchGates": "qkan.circuits.gates",
    "SYMBOLIC_LIB": "no symbolic regression here",
    "dataset_range": "no Feynman datasets here",
    "get_feynman_dataset": "no Feynman datasets here",
    "print0": "no banner helpers",
    "print_banner": "no banner helpers",
    "print_version": "qkan.__version__",
    "DeviceProfile": "qkan.hardware",
    "PackedCircuit": "qkan.hardware",
    "pack_circuit": "qkan.hardware",
    "tile_disjoint": "qkan.hardware",
}
# Methods whose published signature is part of the API
METHODS = {
    ("qkan", "QKAN"): ("train_", "plot", "prune", "prune_node", "initialize_from_another_model", "refine"),
    ("qkan", "QKANLayer"): ("set_fused_epilogue",),
    ("qkan", "KAN"): ("forward", "initialize_from_qkan", "regularization_loss"),
    ("qkan", "FourierKAN"): ("forward", "initialize_from_qkan", "regularization_loss"),
    ("qkan.optim", "LBFGSFinisher"): ("step", "zero_grad", "state_dict", "load_state_dict"),
    ("qkan.optim", "QKANSpectralMini"): ("describe_layout",),
    ("qkan.optim", "QKANMuon"): ("describe_layout", "is_muon_param"),
}
# Published keywords the hardware functions lack (docs/migrating.md, "Names": CUDA-Q kernel arguments, since
# kernels are not packed here; score_layout's per-gate weights)
NOT_TAKEN = {
    ("qkan.solver.packing", "pack_circuit"): {"block_args", "block_args_batch"},
    ("qkan.solver.layout", "score_layout"): {"gate_counts"},
}
# Published keywords we take without their parameter (they go through **published: docs/migrating.md)
ABSORBED = {"device", "qml_device", "theta_size", "is_batchnorm", "is_map", "hidden", "c_dtype", "p_dtype"}


def _keywords(obj) -> dict[str, str]:
    """name -> repr(default) for the keyword parameters of obj's signature (no *args/**kwargs, no self)."""
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    params = inspect.signature(obj).parameters.values()
    return {p.name: repr(p.default) for p in params if p.kind not in skip and p.name != "self"}


@pytest.fixture(scope="module")
def published_signatures() -> dict:
    code = """
    import importlib, inspect
    skip = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
    def keywords(obj):
        params = inspect.signature(obj).parameters.values()
        return {p.name: repr(p.default) for p in params if p.kind not in skip and p.name != "self"}
    outputs["all"] = list(qkan.__all__)
    for (module, name), methods in inputs["targets"].items():
        obj = getattr(importlib.import_module(module), name)
        outputs[(module, name)] = keywords(obj)
        for method in methods:
            outputs[(module, name, method)] = keywords(getattr(obj, method))
    """
    targets = {key: METHODS.get(key, ()) for key in PROVIDED}
    return run_published(code, {"targets": targets})


def test_published_all_is_covered(published_signatures):
    provided = {name for module, name in PROVIDED if module == "qkan"}
    assert set(published_signatures["all"]) == provided | set(NOT_PROVIDED)


@pytest.mark.parametrize("key", sorted(PROVIDED), ids=lambda k: f"{k[0]}.{k[1]}")
def test_name_exists_with_published_keywords(key, published_signatures):
    module, name = key
    ours = getattr(importlib.import_module(PROVIDED[key]), name)
    theirs = published_signatures[key]
    mine = _keywords(ours)
    if name == "make_graphed_train_step":  # both call forms through one signature: parse_call takes its names
        from qkan.graphs import PUBLISHED_ARGS

        assert list(theirs)[1:] == list(PUBLISHED_ARGS)
        return
    for keyword, default in theirs.items():
        if keyword in ABSORBED and keyword not in mine or keyword in NOT_TAKEN.get(key, ()):
            continue
        assert keyword in mine, f"{module}.{name} lacks the published keyword {keyword!r}"
        if key[1] in ("QKAN", "QKANLayer") and keyword in ("reps", "fast_measure", "ansatz", "device"):
            continue  # same meaning, our spelling of the default: docs/migrating.md
        assert mine[keyword] == default or _same_default(mine[keyword], default), (module, name, keyword)
    for method in METHODS.get(key, ()):
        theirs_m, mine_m = published_signatures[(*key, method)], _keywords(getattr(ours, method))
        for keyword, default in theirs_m.items():
            assert keyword in mine_m, f"{name}.{method} lacks the published keyword {keyword!r}"
            assert mine_m[keyword] == default or _same_default(mine_m[keyword], default), (name, method, keyword)


def _same_default(mine: str, theirs: str) -> bool:
    """Defaults equal up to spelling: a list written as a tuple, an int written as a float."""
    try:
        a, b = eval(mine), eval(theirs)  # reprs of plain literals
    except Exception:
        return False
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return list(a) == list(b)
    return bool(a == b)
