"""Runs the published ``qkan`` package (0.2.1) for tests/test_published_parity.py.

It shares our import name, so it runs in its own process with the unpacked wheel first on
PYTHONPATH. Usage: ``python published_worker.py CASES RESULTS`` (both torch.save files).
For every case it builds the published layer or model, and records outputs and gradients with
its own initial state_dict and with ours loaded into it (strictly). The test imports
``outputs_and_grads`` from here, so both sides measure the same way.
"""

import sys

import torch

import qkan

PUBLISHED_VERSION = "0.2.1"


def outputs_and_grads(model: torch.nn.Module, x: torch.Tensor, upstream: torch.Tensor) -> dict:
    """y, and dL/dx and dL/d(every parameter) for L = sum(y * upstream); all parameters are
    differentiated, trainable or not, so each one's role in the function is compared."""
    x = x.clone().requires_grad_(True)
    params = dict(model.named_parameters())
    for p in params.values():
        p.requires_grad_(True)
    y = model(x)
    grads = torch.autograd.grad((y * upstream).sum(), [x, *params.values()], allow_unused=True, materialize_grads=True)
    return {"y": y.detach(), "x": grads[0].detach(), **{n: g.detach() for n, g in zip(params, grads[1:])}}


def build(case: dict) -> torch.nn.Module:
    """The published layer or model; ``published_compute`` overrides its layers' c_dtype (it forces
    bfloat16 for the real ansatz)."""
    cls = qkan.QKAN if case["kind"] == "model" else qkan.QKANLayer
    model = cls(*case["args"], **case["kwargs"])
    if case["published_compute"]:
        for layer in model.modules():
            if isinstance(layer, qkan.QKANLayer):
                layer.c_dtype = getattr(torch, case["published_compute"])
    return model


def run_case(case: dict) -> dict:
    model = build(case)
    trainable = sorted(n for n, p in model.named_parameters() if p.requires_grad)
    own_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    on_own = outputs_and_grads(model, case["x"], case["upstream"])
    model = build(case)
    model.load_state_dict(case["state_dict"], strict=True)
    on_ours = outputs_and_grads(model, case["x"], case["upstream"])
    return {"trainable": trainable, "state_dict": own_state, "on_own": on_own, "on_ours": on_ours}


def main(cases_path: str, results_path: str) -> None:
    if qkan.__version__ != PUBLISHED_VERSION or not hasattr(qkan, "DARUAN"):
        raise SystemExit(f"expected the published qkan {PUBLISHED_VERSION}, imported {qkan.__file__}")
    cases = torch.load(cases_path)
    torch.save({name: run_case(case) for name, case in cases.items()}, results_path)


if __name__ == "__main__":
    main(*sys.argv[1:])
