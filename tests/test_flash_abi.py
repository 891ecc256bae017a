"""The flash kernels' ABI on the CPU: each kernel's parameters and flags, declared once in
solvers/flash/abi.py, agree with the generated source (signatures, explicit instantiations, name
expressions), ``pack`` refuses a wrong argument set, and the launch code packs every declared argument
of a compiled variant (the launches recorded instead of run)."""

from __future__ import annotations

import importlib
import re

import pytest
import torch

from qkan.circuits import builtin
from qkan.solvers import LayerGeometry
from qkan.solvers.flash import FlashKernels, make_codegen
from qkan.solvers.flash import kernels as kernel_text
from qkan.solvers.flash.abi import BACKWARD, EDGE_TABLE, FORWARD, KERNELS, PRECISIONS, KernelSpec, name_expressions
from qkan.solvers.flash.ops import flash_apply, register_kernels

launch_module = importlib.import_module("qkan.solvers.flash.launch")


def test_pack_orders_arguments_and_refuses_missing_or_unknown_ones():
    values = dict(x="x", tab="t", out="o", B=1, O=2, I=3)
    assert FORWARD.pack(**values) == ("x", "t", "o", 1, 2, 3)
    with pytest.raises(TypeError, match=r"qkan_forward.pack\(\) missing .*'I'"):
        FORWARD.pack(**{k: v for k, v in values.items() if k != "I"})
    with pytest.raises(TypeError, match=r"qkan_forward.pack\(\) got an unexpected keyword argument 'J'"):
        FORWARD.pack(**values, J=4)
    with pytest.raises(TypeError):
        FORWARD.pack(*values.values())  # by name only
    with pytest.raises(ValueError, match="distinct identifiers"):
        KernelSpec("k", "const real* x, long long x")


def test_instances_are_compiled_variants_only():
    assert (
        BACKWARD.instance("float", "float", EDGE=False, SUMS=True, GX=False, FLAT=True)
        == "qkan_backward<float, float, false, true, false, true>"
    )
    assert FORWARD.instance("float", "qbf16", EDGE=True) == "qkan_forward<float, qbf16, true>"
    assert EDGE_TABLE.instance("double", "double") == "qkan_edge_table<double>"  # no I/O type: per-edge only
    with pytest.raises(ValueError, match="no compiled variant"):
        BACKWARD.instance("float", "float", EDGE=True, SUMS=True, GX=False, FLAT=False)  # sums belong to y mode
    with pytest.raises(ValueError, match="no compiled variant"):
        FORWARD.instance("half", "half", EDGE=True)
    with pytest.raises(ValueError, match="no compiled variant"):
        FORWARD.instance("double", "qbf16", EDGE=True)  # reduced I/O computes in float only
    with pytest.raises(ValueError, match="no compiled variant"):
        EDGE_TABLE.instance("float", "qbf16")  # the per-edge kernels read the parameters' dtype
    with pytest.raises(TypeError, match="missing"):
        FORWARD.instance("float", "float")


def _definitions(source: str) -> dict[str, tuple[list[str], list[tuple[str, str]]]]:
    """Each kernel template in the source: its template parameters and (type, name) parameters."""
    found = {}
    for m in re.finditer(r"template <([^>]*)>\n__global__ void (\w+)\(([^)]*)\)", source):
        params = [p.replace("__restrict__", "").split() for p in m.group(3).split(",")]
        found[m.group(2)] = ([t.strip() for t in m.group(1).split(",")], [(" ".join(p[:-1]), p[-1]) for p in params])
    return found


@pytest.mark.parametrize("fourier", [None, False])
def test_generated_signatures_match_the_declared_parameters(fourier):
    source = make_codegen(builtin("pz", 2), LayerGeometry(4, 3), fourier).source
    definitions = _definitions(source)
    assert sorted(definitions) == sorted(spec.name for spec in KERNELS)
    for spec in KERNELS:
        flags, params = definitions[spec.name]
        types = ["typename real", "typename io"] if spec.has_io else ["typename real"]
        assert flags == types + [f"bool {f.name}" for f in spec.flags]
        assert params == [(p.ctype, p.name) for p in spec.params]


@pytest.mark.parametrize("precision", sorted(PRECISIONS))
def test_instantiations_cover_every_name_expression(precision):
    source = kernel_text.source(make_codegen(builtin("rpz", 2), LayerGeometry(4, 3), None), precision)
    instantiated = re.findall(r"^template __global__ void (\w+<[^>]*>)\(([^)]*)\);$", source, re.M)
    names = name_expressions(precision)
    assert [name for name, _ in instantiated] == list(names)
    assert len(set(names)) == len(names)
    specs = {spec.name: spec for spec in KERNELS}
    for name, types in instantiated:
        spec, *template = specs[name.split("<")[0]], *name.split("<")[1].rstrip(">").split(", ")
        real, io = template[0], template[1] if spec.has_io else template[0]
        expected = [re.sub(r"\bio\b", io, p.ctype.replace("real", real)) for p in spec.params]
        assert types.split(", ") == expected
    reduced = {name.split("<")[0] for name in names if "qbf16" in name or "qhalf" in name}
    assert reduced == ({"qkan_forward", "qkan_backward"} if precision == "reduced" else set())


class _Recorder:
    """Stands in for cuda_runtime.launch: records each launch and checks it against the ABI."""

    def __init__(self):
        self.names: list[str] = []
        self.specs = {spec.name: spec for spec in KERNELS}

    def __call__(self, module, name, grid, block, args, shared_mem=0):
        assert name in name_expressions("full") + name_expressions("reduced"), name
        assert len(args) == len(self.specs[name.split("<")[0]].params)
        assert all(isinstance(a, (torch.Tensor, int)) for a in args)
        self.names.append(name)


@pytest.mark.parametrize("fourier", [None, False])
def test_launches_pack_every_declared_argument(monkeypatch, fourier):
    """The whole eager path on CPU tensors with the launches recorded: forward, then a backward that asks for
    theta alone (no grad_x: the FLAT variant for O = 40) and one that asks for everything."""
    recorder = _Recorder()
    monkeypatch.setattr(launch_module, "launch", recorder)
    monkeypatch.setattr(launch_module, "load_module", lambda source, names: None)
    circuit, geometry = builtin("pz", 2), LayerGeometry(3, 40)
    kernels = FlashKernels(make_codegen(circuit, geometry, fourier))
    key = register_kernels(f"abi-test-{fourier}", kernels)
    x = torch.zeros(5, 3)
    params = [
        torch.zeros(40, 3, *circuit.parameter_shape),
        torch.zeros(40, 3, 2),
        torch.zeros(40, 3, 2),
        torch.zeros(40, 3),
        torch.zeros(40, 3),
        torch.zeros(40, 3),
        torch.ones(40, 3),
    ]
    params[0].requires_grad_()
    flash_apply(key, False, x, *params).sum().backward()
    assert recorder.names == [
        "qkan_edge_table<float>",
        "qkan_forward<float, float, false>",
        "qkan_backward<float, float, false, false, false, true>",
        "qkan_param_grads<float, false>",
    ]
    assert params[0].grad.shape == params[0].shape
    x.requires_grad_()
    for t in params[1:6]:
        t.requires_grad_()
    flash_apply(key, False, x, *params).sum().backward()
    assert recorder.names[-2:] == [
        "qkan_backward<float, float, false, true, true, false>",
        "qkan_param_grads<float, true>",
    ]
    assert x.grad.shape == x.shape and all(t.grad.shape == t.shape for t in params[:6])
    flash_apply(key, False, x, *params)
    assert kernels._forward_launch.cache_info().hits == 2  # the launch geometry of a call signature is kept
    x16 = torch.zeros(5, 3, dtype=torch.bfloat16, requires_grad=True)
    y16 = flash_apply(key, False, x16, *params)
    y16.sum().backward()
    assert recorder.names[-4:] == [
        "qkan_edge_table<float>",
        "qkan_forward<float, qbf16, false>",
        "qkan_backward<float, qbf16, false, true, true, false>",
        "qkan_param_grads<float, true>",
    ]  # bf16 x, y and grad_x; the table and parameter gradients stay float
    assert y16.dtype == x16.grad.dtype == torch.bfloat16 and params[0].grad.dtype == torch.float32
