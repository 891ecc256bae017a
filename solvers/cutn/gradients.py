"""Backward contractions: a network contraction as one autograd node, whose backward is cuTensorNet's
gradients where they apply, else per operand the environment network (the network with that operand
replaced by the output cotangent); on CPU, torch autograd through opt_einsum."""

from __future__ import annotations

import functools
from typing import Optional, Sequence

import torch

from .engines import EinsumEngine, Engine
from .labels import BATCH
from .network import CircuitNetwork
from .paths import Path, chain_path


class ContractNetwork(torch.autograd.Function):
    """A network contraction as one autograd node: the backward is itself a contraction, either
    cuTensorNet's gradients (where they apply) or, per operand, the network with that operand
    replaced by the output cotangent (its environment)."""

    @staticmethod
    def forward(ctx, engine: Engine, network: CircuitNetwork, backward: str, *operands: torch.Tensor) -> torch.Tensor:
        grads = tuple(bool(g) for g in ctx.needs_input_grad[3:])
        ctx.engine, ctx.network, ctx.backward, ctx.grads = engine, network, backward, grads
        ctx.save_for_backward(*operands)
        return engine.contract(network.expression, network.path, operands, grads if backward == "cutensornet" else None)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grads = operand_gradients(
            ctx.engine, ctx.network, ctx.saved_tensors, ctx.grads, ctx.backward == "cutensornet", grad_output
        )
        return (None, None, None, *grads)


def operand_gradients(
    engine: Engine,
    network: CircuitNetwork,
    operands: Sequence[torch.Tensor],
    needed: tuple[bool, ...],
    native: bool,
    grad_output: torch.Tensor,
) -> list[Optional[torch.Tensor]]:
    """Gradients of a contraction's operands: torch autograd through opt_einsum on CPU; on CUDA cuTensorNet's
    (``native``, where they apply to the network as planned with these gradient flags), else environments."""
    if isinstance(engine, EinsumEngine):
        return engine.vjp(network.expression, network.path, operands, needed, grad_output)
    if native and engine.native_gradients(network.expression, operands, needed):
        grads = engine.gradients(network.expression, network.path, operands, needed, grad_output)
        if grads is not None:
            return list(grads)
    return environment_gradients(engine, network, operands, needed, grad_output)


def environment_gradients(
    engine: Engine,
    network: CircuitNetwork,
    operands: Sequence[torch.Tensor],
    needed: Sequence[bool],
    grad_output: torch.Tensor,
) -> list[Optional[torch.Tensor]]:
    """Torch's vector-Jacobian product of a multilinear contraction: for operand k, the conjugate
    of the network with operand k removed and conj(grad_output) in place of the output, which equals
    that network over the conjugated operands and grad_output itself: whichever side is smaller is
    conjugated (the cotangent of an amplitudes network is as large as the layer's B x O x I)."""
    conjugate_operands = grad_output.numel() > sum(o.numel() for o in operands)
    if conjugate_operands:
        operands = [o.conj().resolve_conj() for o in operands]
        cotangent = grad_output.contiguous()
    else:
        cotangent = grad_output.conj().resolve_conj().contiguous()
    grads: list[Optional[torch.Tensor]] = []
    for k in range(len(operands)):
        if not needed[k]:
            grads.append(None)
            continue
        expression, path = environment_network(network.expression, network.order, k, network.split)
        tensors = [o for j, o in enumerate(operands) if j != k] + [cotangent]
        env = engine.contract(expression, path, tensors)
        env = env if conjugate_operands else env.conj()
        grads.append(
            broadcast_environment(env, expression.split("->")[1], network.tensors[k].labels, operands[k].shape)
        )
    return grads


@functools.lru_cache(maxsize=None)
def environment_network(expression: str, order: tuple[int, ...], k: int, split: bool) -> tuple[str, Path]:
    """The network of d(output)/d(tensor k): tensor k removed, the output cotangent added (last),
    output labels those of tensor k that occur elsewhere (one that occurs only in k was summed out: the
    gradient is constant along it, see :func:`broadcast_environment`). Its path joins the state before k
    (in ``order``) with the cotangent propagated back from the end; for a ``split`` network, the other
    side's tensors are contracted with the cotangent first (summing out b, or o and the output wire),
    then k's side."""
    inputs, output = expression.split("->")
    labels = inputs.split(",")
    others = [j for j in range(len(labels)) if j != k]
    position = {j: p for p, j in enumerate(others)}
    cotangent = len(others)
    present = set("".join(labels[j] for j in others) + output)
    env = ",".join([labels[j] for j in others] + [output]) + "->" + "".join(c for c in labels[k] if c in present)
    if split:
        edge = [position[j] for j in order if j != k and BATCH not in labels[j]]
        batch = [position[j] for j in order if j != k and BATCH in labels[j]]
        chain = edge + [cotangent] + batch if BATCH in labels[k] else batch + [cotangent] + edge
        return env, chain_path(len(others) + 1, [chain])
    where = order.index(k)
    before = [position[j] for j in order[:where]]
    after = [cotangent] + [position[j] for j in reversed(order[where + 1 :])]
    return env, chain_path(len(others) + 1, [before, after])


def broadcast_environment(env: torch.Tensor, env_labels: str, labels: str, shape: torch.Size) -> torch.Tensor:
    """An environment over ``env_labels`` expanded to its tensor's ``labels`` and ``shape``."""
    for position, label in enumerate(labels):
        if label not in env_labels:
            env = env.unsqueeze(position)
    return env.expand(shape)
