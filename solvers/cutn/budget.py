"""cutn's ``memory_limit`` as a promise: what a chunked layer call holds at its peak (forward and backward),
the largest chunk of the batch that keeps it under the limit, and the refusal, naming the smallest limit that
would work, where even one sample per chunk does not fit (docs/design.md, "Cutn"; figures in docs/notes/cutn.md).

Two parts share the limit. The torch tensors: the whole-batch operands saved for the backward and their
gradients, the layer's input, output and their cotangents (``resident``), and per chunk its sliced operands
(and their gradients), its contraction result and the readout's temporaries, and the largest tensor that does
not depend on the sample. cuTensorNet's workspace (scratch and gradient cache) gets what they leave: the engine
plans each network within that (engines.py), so the two together stay under the limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from qkan.circuits import Circuit

from ..geometry import LayerGeometry
from .labels import BATCH, IN, OUT
from .network import CircuitNetwork

MIN_WORKSPACE = 1 << 20  # bytes: cuTensorNet gets at least this
RESULT_TEMPORARIES = 1.75  # a chunk's result and the readout's temporaries (3/4 of it), in units of the result
WORKSPACE_PER_RESULT = 2.3  # cuTensorNet's scratch and gradient cache, in units of the chunk's result (the most
# measured: 352 MiB for a 153 MiB result, docs/notes/cutn.md)
LAYER_VECTORS = 3  # (B, I) and (B, O) tensors alive at the peak: input and output, and their cotangents
SAMPLE_FREE_SHARE = 0.25  # of memory_limit at most for the largest sample-free tensor of the split path


class MemoryLimitTooSmall(ValueError):
    """cutn cannot keep a layer call under ``memory_limit``; the message names the smallest limit that works."""


@dataclass(frozen=True)
class ChunkBudget:
    """Bytes a chunked layer call holds: ``resident`` whatever the chunk size, ``per_sample`` more torch
    tensors for each sample of a chunk, ``sample_free`` once per chunk, and ``workspace_per_sample`` of
    cuTensorNet's workspace (on CPU: opt_einsum's intermediates) for each sample of a chunk, at least
    ``min_workspace`` in all."""

    resident: int
    per_sample: int
    sample_free: int
    workspace_per_sample: int
    min_workspace: int

    def torch_bytes(self, chunk: int) -> int:
        """The torch tensors' peak with chunks of ``chunk`` samples."""
        return self.resident + chunk * self.per_sample + self.sample_free

    def peak_bytes(self, chunk: int) -> int:
        """The call's peak with chunks of ``chunk`` samples: torch tensors and cuTensorNet's workspace."""
        return self.torch_bytes(chunk) + max(chunk * self.workspace_per_sample, self.min_workspace)

    def largest_chunk(self, memory_limit: int) -> int:
        """The most samples per chunk whose peak fits ``memory_limit``; 0 where not even one does."""
        room = memory_limit - self.resident - self.sample_free
        at_least_min = (room - self.min_workspace) // max(self.per_sample, 1)
        by_share = room // max(self.per_sample + self.workspace_per_sample, 1)
        return max(0, int(min(at_least_min, by_share)))

    def workspace_room(self, memory_limit: int, chunk: int) -> int:
        """What the torch tensors leave of ``memory_limit`` with chunks of ``chunk`` samples: cuTensorNet's cap."""
        return max(memory_limit - self.torch_bytes(chunk), self.min_workspace)

    def smallest_limit(self) -> int:
        """The least ``memory_limit`` (bytes) with which chunks of one sample fit."""
        return self.peak_bytes(1)


def chunk_budget(network: CircuitNetwork, batch: int, complex_bytes: int, batch_grads: bool, cuda: bool) -> ChunkBudget:
    """The budget of ``network``'s chunked layer call at ``batch``; ``batch_grads``: whether the operands that
    carry the sample get gradients (the input needs one, or they hold pre-activations); ``cuda``: whether
    cuTensorNet contracts (its workspace is at least MIN_WORKSPACE). Operands per
    (o, i, b) are built per chunk (under checkpoint, program.py), the others once for the whole batch."""
    geometry: LayerGeometry = network.geometry
    extents = {OUT: geometry.out_dim, IN: geometry.in_dim, BATCH: 1}
    elements = [math.prod(extents.get(c, 2) for c in t.labels) for t in network.tensors]
    sample = sum(n for n, t in zip(elements, network.tensors) if BATCH in t.labels)
    free = sum(n for n, t in zip(elements, network.tensors) if BATCH not in t.labels)
    operand_copies = 2 if batch_grads else 1  # the operand and its gradient
    whole_batch = 0 if network.per_sample_edges else batch * sample * operand_copies
    vectors = LAYER_VECTORS * batch * (geometry.in_dim + geometry.out_dim) * complex_bytes // 2
    return ChunkBudget(
        resident=(2 * free + whole_batch) * complex_bytes + vectors,
        per_sample=math.ceil(
            (RESULT_TEMPORARIES * network.largest_per_sample + sample * (operand_copies + 1)) * complex_bytes
        ),
        sample_free=network.largest_sample_free * complex_bytes,
        workspace_per_sample=math.ceil(WORKSPACE_PER_RESULT * network.largest_per_sample * complex_bytes),
        min_workspace=MIN_WORKSPACE if cuda else 0,
    )


def sample_free_fits(network: CircuitNetwork, memory_limit: int, complex_bytes: int) -> bool:
    """Whether ``network``'s largest sample-free tensor (not sliced by chunking) takes at most SAMPLE_FREE_SHARE
    of ``memory_limit``: where it does not, program.py contracts in circuit order instead."""
    return network.largest_sample_free * complex_bytes <= memory_limit * SAMPLE_FREE_SHARE


def smallest_limit(
    circuit: Circuit, geometry: LayerGeometry, mode: str, batch: int, complex_bytes: int, batch_grads: bool, cuda: bool
) -> int:
    """The least ``memory_limit`` under which the ``mode`` network a program builds at that limit (the split path
    where its sample-free tensor fits, else circuit order: program.py) runs at ``batch``."""
    split = CircuitNetwork(circuit, geometry, mode)

    def least(network: CircuitNetwork) -> int:
        return chunk_budget(network, batch, complex_bytes, batch_grads, cuda).smallest_limit()

    if not split.split:
        return least(split)
    candidates = [max(least(split), math.ceil(split.largest_sample_free * complex_bytes / SAMPLE_FREE_SHARE))]
    in_order = least(CircuitNetwork(circuit, geometry, mode, strategy="circuit"))
    if not sample_free_fits(split, in_order, complex_bytes):  # at that limit the program keeps circuit order
        candidates.append(in_order)
    return min(candidates)
