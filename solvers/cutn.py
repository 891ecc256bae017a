"""The cutn solver: each layer is one tensor network (solvers/cutn_network.py) contracted along its
path (circuit order, or edge side and data side apart and then joined), by opt_einsum on CPU and by
cuTensorNet on CUDA (planned once per shapes, workspace under ``memory_limit``); gradients by
torch.autograd.Functions whose backward is itself a contraction.

Memory: the batch mode ``b`` is sliced into chunks whose largest tensor stays a fraction of
``memory_limit`` (the ``amp`` readout's |.| is outside the network, solvers/cutn_readout.py, and
cuTensorNet's own backward needs unsliced networks, so the slicing is done here); a layer is one
autograd node over its chunks (:class:`ChunkedLayer`) that keeps nothing of size B x O x I across the
step, contracting each chunk again in backward but the last. Operands per (o, i, b) (data gates with
pre-activations) are as large as the layer: then each chunk builds its own under torch checkpoint.

Measured (H100, fp32, pz reps 3, Adam; CUDA events, torch peak, one device session for each pair):
circuit order -> split path: QKAN([100,100]) b1000 step 15.5 -> 8.0 ms, peak 2369 -> 1255 MiB (amp
readout), 27.4 -> 7.3 ms, 2650 -> 341 MiB (z readout); QKAN([256,256]) b4096 under memory_limit=2 GiB
565 -> 85 ms a step. H200, 2026-12-01: the step is bound by host time per torch op and cuTensorNet call
(kernels 2.2 ms of a 9 ms wide step); batched operands (solvers/cutn_operands.py) and the chunked node
took the wide step from 9.0 to 4.4-6.0 ms (default limit) and, under memory_limit=300 MiB, from 35 ms
(checkpointed chunks) to 12-16 ms at 241 MiB (four chunks). H200, 2026-12-02: cuTensorNet took the whole
workspace share as scratch (900-1060 MiB per network of the wide step at the default limit, against a
least need of 192-352); with each network at its need, chunk results freed before the next chunk and only
the kept chunk contracted with gradient flags, the wide step under 300 MiB runs in two chunks with
cuTensorNet's backward: 7.3-9.8 ms at 283-284 MiB on four machine instances; QKAN([256,256]) b4096 under 2 GiB
47 ms at 1906 MiB (8 chunks).
"""
from __future__ import annotations

import importlib.util
import warnings
from typing import Optional, Sequence, Union

import torch
from torch.utils.checkpoint import checkpoint as torch_checkpoint
import opt_einsum

from qkan.circuits import Circuit

from .base import LayerGeometry, LayerParams, Program, Solver
from .cutn_network import CircuitNetwork, broadcast_environment, environment_network
from .cutn_readout import amp_cotangent, amp_norms, amp_readout, amp_values
from .layer_math import bias_and_base, check_arccos_domain, edge_contributions
from .statevector import COMPLEX_OF

DEFAULT_MEMORY_FRACTION = 0.5  # of free GPU memory, when memory_limit is not given
WORKSPACE_SHARE = 0.7  # of memory_limit at most for cuTensorNet's workspace (scratch and gradient cache)
MIN_WORKSPACE = 1 << 20  # bytes: a network's workspace is its least need within the share, and at least this
# a chunk's largest tensor (its result) takes at most memory_limit / CHUNK_SHARE: with the readout's temporaries
# (3/4 of it) and cuTensorNet's gradient cache (about 1.8 times it, pz on the H200) a chunk peaks near 3.55 times it
CHUNK_SHARE = 3.6
BACKWARDS = ("cutensornet", "environments")
Path = list[tuple[int, ...]]


class EinsumEngine:
    """opt_einsum on torch tensors, along the given path, one compiled expression per (expression, shapes)."""

    def __init__(self) -> None:
        self._expressions: dict[tuple, opt_einsum.contract.ContractExpression] = {}

    def contract(self, expression: str, path: Path, operands: Sequence[torch.Tensor],
                 grads: Optional[tuple[bool, ...]] = None) -> torch.Tensor:
        key = (expression, tuple(tuple(o.shape) for o in operands))
        if key not in self._expressions:
            self._expressions[key] = opt_einsum.contract_expression(expression, *key[1], optimize=path)
        return self._expressions[key](*operands, backend="torch")

    def vjp(self, expression: str, path: Path, operands: Sequence[torch.Tensor], needed: Sequence[bool],
            grad_output: torch.Tensor) -> list[Optional[torch.Tensor]]:
        """Torch autograd's vector-Jacobian product through the contraction (contracted again here):
        on CPU one backward through the pairwise steps costs less than a contraction per operand."""
        if not any(needed):
            return [None] * len(operands)
        with torch.enable_grad():
            leaves = [o.detach().requires_grad_(need) for o, need in zip(operands, needed)]
            wanted = [leaf for leaf, need in zip(leaves, needed) if need]
            grads = iter(torch.autograd.grad(self.contract(expression, path, leaves), wanted, grad_output))
        return [next(grads) if need else None for need in needed]


class CutnEngine:
    """cuTensorNet ``Network``s planned once per (expression, shapes, dtype, gradient flags) along the
    given path, fed new operands with ``reset_operands``, run non-blocking on torch's current stream;
    workspace (drawn from torch's allocator) is bounded by ``workspace_limit`` and handed back after
    each call, so the many networks of a step do not each hold one.

    cuTensorNet's own backward runs only on unsliced networks without extent-1 modes whose gradient
    cache fits the limit; where it does not, the network is planned without gradient flags and
    ``native_gradients`` says so. A network gets the least workspace it needs; one whose backward fails
    with that is planned again with the whole limit, then, failing again, without gradient flags."""

    def __init__(self, workspace_limit: int):
        from cuquantum.bindings import cutensornet
        from cuquantum.tensornet import Network, NetworkOptions

        self._network_class, self._options_class = Network, NetworkOptions
        self._qualifiers_dtype = cutensornet.tensor_qualifiers_dtype
        self.workspace_limit = int(workspace_limit)
        self._networks: dict[tuple, object] = {}
        self._native: dict[tuple, bool] = {}
        self._whole_limit: set[tuple] = set()  # keys whose backward failed with their least workspace
        self._last: dict[tuple, tuple] = {}  # key -> operands of the network's latest contraction

    @staticmethod
    def _key(expression: str, operands: Sequence[torch.Tensor], grads: tuple[bool, ...]) -> tuple:
        return expression, tuple(tuple(o.shape) for o in operands), operands[0].dtype, grads

    def _network(self, key: tuple, expression: str, path: Path, operands: Sequence[torch.Tensor], stream):
        if key in self._networks:
            self._networks[key].reset_operands(*operands, stream=stream)
            return self._networks[key]
        grads = key[-1]
        network = None
        if any(grads) and self._native.get(key, True) and all(extent > 1 for o in operands for extent in o.shape):
            try:  # with gradient flags cuTensorNet keeps a cache for its backward; it must fit the limit unsliced
                network = self._plan(expression, path, operands, stream, grads, whole=key in self._whole_limit)
                if network.num_slices != 1:
                    network.free()
                    network = None
            except Exception as err:  # cuTensorNet refuses (e.g. cache over memory_limit): environments backward
                warnings.warn(f"cuTensorNet gradients do not fit this network ({type(err).__name__}: {err}); "
                              "the backward contracts environments instead", RuntimeWarning)
        self._native[key] = network is not None
        self._networks[key] = network or self._plan(expression, path, operands, stream, (False,) * len(operands))
        return self._networks[key]

    def _plan(self, expression: str, path: Path, operands: Sequence[torch.Tensor], stream, grads: tuple[bool, ...],
              whole: bool = False):
        """The network along ``path`` with the least workspace it needs (where that is within the limit), or
        the ``whole`` limit: cuTensorNet otherwise takes all of it as scratch, memory the chunks could use."""
        limit = self.workspace_limit
        if not whole:
            need = self._workspace_need(expression, path, operands, stream, grads)
            limit = min(limit, max(need, MIN_WORKSPACE))  # a need over the limit fails as before
        return self._prepared(expression, path, operands, stream, grads, limit)

    def _prepared(self, expression: str, path: Path, operands: Sequence[torch.Tensor], stream,
                  grads: tuple[bool, ...], limit: int):
        import numpy as np

        qualifiers = np.zeros(len(operands), dtype=self._qualifiers_dtype)
        qualifiers["requires_gradient"] = grads
        network = self._network_class(expression, *operands, qualifiers=qualifiers, stream=stream,
                                      options=self._options_class(memory_limit=limit, blocking="auto"))
        try:
            network.contract_path(optimize={"path": path})
        except BaseException:
            network.free()
            raise
        return network

    def _workspace_need(self, expression: str, path: Path, operands: Sequence[torch.Tensor], stream,
                        grads: tuple[bool, ...]) -> int:
        """The least workspace (scratch, and the gradient cache with gradient flags) cuTensorNet needs for
        this network: planned under a one-byte limit, its refusal says how much."""
        from cuquantum.memory import MemoryLimitExceeded

        try:
            self._prepared(expression, path, operands, stream, grads, 1).free()
        except MemoryLimitExceeded as err:
            return int(err.requirement)
        return 0

    def contract(self, expression: str, path: Path, operands: Sequence[torch.Tensor],
                 grads: Optional[tuple[bool, ...]] = None) -> torch.Tensor:
        key = self._key(expression, operands, grads or (False,) * len(operands))
        stream = torch.cuda.current_stream(operands[0].device)
        out = self._network(key, expression, path, operands, stream).contract(stream=stream, release_workspace=True)
        self._last[key] = _identity(operands)
        return out

    def native_gradients(self, expression: str, operands: Sequence[torch.Tensor], grads: tuple[bool, ...]) -> bool:
        """Whether cuTensorNet's backward applies to this (already contracted) network."""
        return self._native.get(self._key(expression, operands, grads), False)

    def gradients(self, expression: str, path: Path, operands: Sequence[torch.Tensor], grads: tuple[bool, ...],
                  grad_output: torch.Tensor) -> Optional[tuple[Optional[torch.Tensor], ...]]:
        """cuTensorNet's backward (None if it fails: the caller contracts environments); it needs the
        forward contraction's cache, so the network is contracted again unless its latest contraction
        was with these very operands."""
        key = self._key(expression, operands, grads)
        while True:
            if self._last.get(key) != _identity(operands):
                self.contract(expression, path, operands, grads)
            if not self._native[key]:  # planned again without gradient flags
                return None
            stream = torch.cuda.current_stream(operands[0].device)
            self._last.pop(key)  # gradients hands the cache back: the next backward needs a new contraction
            try:
                with warnings.catch_warnings():
                    warnings.filterwarnings("ignore", message="Network.gradients")  # "experimental", on every call
                    return tuple(self._networks[key].gradients(grad_output.contiguous(), stream=stream,
                                                               release_workspace=True))
            except Exception as err:  # a network whose call failed is not reused
                self._networks.pop(key).free()
                if key not in self._whole_limit:  # it had its least workspace: again with the whole limit
                    self._whole_limit.add(key)
                    continue
                warnings.warn(f"cuTensorNet gradients failed ({type(err).__name__}: {err}); the backward "
                              "contracts environments instead", RuntimeWarning)
                self._native[key] = False
                return None


def _identity(operands: Sequence[torch.Tensor]) -> tuple:
    """Which tensors (storage and version) a contraction used: a cached result is valid only for them."""
    return tuple((o.data_ptr(), o._version) for o in operands)


class ContractNetwork(torch.autograd.Function):
    """A network contraction as one autograd node: the backward is itself a contraction, either
    cuTensorNet's gradients (where they apply) or, per operand, the network with that operand
    replaced by the output cotangent (its environment)."""

    @staticmethod
    def forward(ctx, engine, network: CircuitNetwork, backward: str, *operands: torch.Tensor) -> torch.Tensor:
        grads = tuple(bool(g) for g in ctx.needs_input_grad[3:])
        ctx.engine, ctx.network, ctx.backward, ctx.grads = engine, network, backward, grads
        ctx.save_for_backward(*operands)
        return engine.contract(network.expression, network.path, operands,
                               grads if backward == "cutensornet" else None)

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor):
        grads = operand_gradients(ctx.engine, ctx.network, ctx.saved_tensors, ctx.grads, ctx.backward == "cutensornet",
                                  grad_output)
        return (None, None, None, *grads)


def operand_gradients(engine, network: CircuitNetwork, operands: Sequence[torch.Tensor], needed: tuple[bool, ...],
                      native: bool, grad_output: torch.Tensor) -> list[Optional[torch.Tensor]]:
    """Gradients of a contraction's operands: torch autograd through opt_einsum on CPU; on CUDA cuTensorNet's
    (``native``, where they apply to the network as planned with these gradient flags), else environments."""
    if isinstance(engine, EinsumEngine):
        return engine.vjp(network.expression, network.path, operands, needed, grad_output)
    if native and engine.native_gradients(network.expression, operands, needed):
        grads = engine.gradients(network.expression, network.path, operands, needed, grad_output)
        if grads is not None:
            return list(grads)
    return environment_gradients(engine, network, operands, needed, grad_output)


def environment_gradients(engine, network: CircuitNetwork, operands: Sequence[torch.Tensor], needed: Sequence[bool],
                          grad_output: torch.Tensor) -> list[Optional[torch.Tensor]]:
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
        grads.append(broadcast_environment(env, expression.split("->")[1], network.tensors[k].labels,
                                           operands[k].shape))
    return grads


class ChunkedLayer(torch.autograd.Function):
    """The circuit part of a layer's output over chunks of the batch: for the ``amp`` readout the
    amplitudes network, the readout and the weighted sum over inputs, sum_i w[o,i] f[b,o,i], per chunk;
    for ``z`` the real part of the layer network (weight and sum inside it). Nothing of size B x O x I
    lives across the step: the backward walks the chunks in reverse and contracts each one again, but
    for the forward's last chunk, whose result (and cuTensorNet's cache of it) is kept with ``keep``
    (not under checkpoint, where it would outlive its chunk)."""

    @staticmethod
    def forward(ctx, program: "CutnProgram", network: CircuitNetwork, batch: int, chunk: int, keep: bool,
                weight: Optional[torch.Tensor], *operands: torch.Tensor) -> torch.Tensor:
        ctx.program, ctx.network, ctx.batch, ctx.chunk = program, network, batch, chunk
        ctx.needs = tuple(bool(g) for g in ctx.needs_input_grad[6:])
        outputs = []
        chunks = _chunks(batch, chunk)
        for start, size in chunks:
            raw = None  # the previous chunk's result, freed before this one's contraction
            chunk_operands = program.slice_operands(network, operands, start, size)
            kept = keep and start == chunks[-1][0]  # only its contraction is reused: others hold no gradient cache
            raw = program.engine.contract(network.expression, network.path, chunk_operands,
                                          program.gradient_flags(ctx.needs) if kept else None)
            outputs.append(program.chunk_output(network, raw, size, weight))
        ctx.kept = (chunk_operands, raw) if keep else (None, None)
        ctx.save_for_backward(weight, *operands)
        return torch.cat(outputs)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        program, network, needs = ctx.program, ctx.network, ctx.needs
        weight, *operands = ctx.saved_tensors
        batch_dims = network.batch_dims()
        grads = [None if not need else torch.empty_like(o) if d is not None else torch.zeros_like(o)
                 for need, o, d in zip(needs, operands, batch_dims)]
        grad_weight = torch.zeros_like(weight) if ctx.needs_input_grad[5] else None
        chunks = _chunks(ctx.batch, ctx.chunk)
        for start, size in reversed(chunks):
            chunk_operands = raw = cotangent = chunk_grads = None  # the previous chunk's, freed first
            if start == chunks[-1][0] and ctx.kept[1] is not None:
                chunk_operands, raw = ctx.kept
                ctx.kept = None, None  # its result is overwritten below: a second backward contracts again
            else:
                chunk_operands = program.slice_operands(network, operands, start, size)
            cotangent, chunk_grad_weight = program.chunk_cotangent(network, chunk_operands, raw, size, weight,
                                                                   grad_weight is not None, grad_y[start:start + size],
                                                                   needs)
            if grad_weight is not None:
                grad_weight += chunk_grad_weight
            chunk_grads = operand_gradients(program.engine, network, chunk_operands, needs,
                                            program.gradient_flags(needs) is not None, cotangent)
            for k, g in enumerate(chunk_grads):
                if g is None:
                    continue
                if batch_dims[k] is None:
                    grads[k] += g
                else:
                    grads[k].narrow(batch_dims[k], start, size).copy_(g)
        return (None, None, None, None, None, grad_weight, *grads)


def _chunks(batch: int, chunk: int) -> list[tuple[int, int]]:
    """(start, size) of each chunk of the batch."""
    return [(start, min(chunk, batch - start)) for start in range(0, batch, chunk)]


class CutnProgram(Program):
    """One network per readout mode, chunked over the batch under ``memory_limit`` (bytes, or a
    fraction of free memory; default half the free GPU memory, none on CPU). ``backward``:
    ``cutensornet`` (its own gradients where they apply, else environments) or ``environments``."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device,
                 memory_limit: Union[int, float, None] = None, backward: str = "cutensornet"):
        super().__init__(circuit, geometry, dtype, device)
        if backward not in BACKWARDS:
            raise ValueError(f"backward must be one of {BACKWARDS}, got {backward!r}")
        self.memory_limit = resolve_memory_limit(memory_limit, device)
        self.backward = backward
        self.complex_bytes = torch.empty((), dtype=COMPLEX_OF[dtype]).element_size()
        self.z_readout = circuit.readout.kind == "z"
        self.values_network = self._network("expectation" if self.z_readout else "amplitudes")
        self.layer_network = self._network("layer") if self.z_readout else None
        self.arccos_reps = sorted({s.rep for op in circuit.ops if op.angle for s in op.angle.data
                                   if s.encoding == "arccos"})
        self.engine = (CutnEngine(max(self.memory_limit * WORKSPACE_SHARE, MIN_WORKSPACE)) if device.type == "cuda"
                       else EinsumEngine())

    def _network(self, mode: str) -> CircuitNetwork:
        """The mode's network, along the split path unless its per-edge tensors (not sliced by chunking)
        would not fit a chunk's share of the memory limit: then in circuit order."""
        network = CircuitNetwork(self.circuit, self.geometry, mode)
        if network.split and self.memory_limit is not None and \
                network.largest_sample_free * self.complex_bytes > self.memory_limit / CHUNK_SHARE:
            return CircuitNetwork(self.circuit, self.geometry, mode, strategy="circuit")
        return network

    # ----- contraction ----------------------------------------------------------------
    def chunk_size(self, network: CircuitNetwork, batch: int) -> int:
        """Samples per chunk: the largest per-chunk tensor within a share of the memory limit, less the
        largest tensor that does not depend on the sample, the batch split evenly; the whole batch when no
        tensor carries the sample."""
        if self.memory_limit is None or not any(d is not None for d in network.batch_dims()):
            return batch
        per_sample = network.largest_per_sample * self.complex_bytes
        budget = self.memory_limit / CHUNK_SHARE - network.largest_sample_free * self.complex_bytes
        largest = max(1, min(batch, int(budget // max(per_sample, 1))))
        return -(-batch // -(-batch // largest))  # as even as chunks of at most `largest` get: one plan, mostly

    @staticmethod
    def slice_operands(network: CircuitNetwork, operands: Sequence[torch.Tensor], start: int,
                       size: int) -> list[torch.Tensor]:
        """The operands of one chunk of the batch (contiguous, as the networks are planned)."""
        return [o if d is None else o.narrow(d, start, size).contiguous()
                for o, d in zip(operands, network.batch_dims())]

    def gradient_flags(self, needs: tuple[bool, ...]) -> Optional[tuple[bool, ...]]:
        """The gradient flags a network is planned with: cuTensorNet's backward needs them."""
        native = isinstance(self.engine, CutnEngine) and self.backward == "cutensornet"
        return needs if native and any(needs) else None

    def contract(self, network: CircuitNetwork, operands: Sequence[torch.Tensor], batch: int) -> torch.Tensor:
        """The network's output for these operands, with autograd through it."""
        if isinstance(self.engine, EinsumEngine):
            out = self.engine.contract(network.expression, network.path, operands)
        else:
            out = ContractNetwork.apply(self.engine, network, self.backward, *operands)
        return network.shape_output(out, batch)

    def chunk_output(self, network: CircuitNetwork, raw: torch.Tensor, size: int,
                     weight: Optional[torch.Tensor]) -> torch.Tensor:
        """(chunk, O): a chunk's circuit part of the layer output from its contraction."""
        out = network.shape_output(raw, size)
        if self.z_readout:
            return out.real
        f = amp_values(amp_norms(out.reshape(*out.shape[:3], -1), self.circuit.readout.qubit, self.circuit.n_qubits))
        return torch.einsum("boi,oi->bo", f, weight)

    def chunk_cotangent(self, network: CircuitNetwork, operands: Sequence[torch.Tensor], raw: Optional[torch.Tensor],
                        size: int, weight: Optional[torch.Tensor], weight_grad: bool, grad: torch.Tensor,
                        needs: tuple[bool, ...]) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The cotangent of a chunk's contraction output for the cotangent ``grad`` (chunk, O) of its
        layer output (written over ``raw``, the chunk's contraction, contracted here if None), and (amp,
        ``weight_grad``) the chunk's part of the weight's gradient."""
        if self.z_readout:
            return network.reduce_cotangent(grad.to(COMPLEX_OF[grad.dtype])), None
        if raw is None:
            raw = self.engine.contract(network.expression, network.path, operands, self.gradient_flags(needs))
        out = network.shape_output(raw, size)
        amplitudes = out.reshape(*out.shape[:3], -1)
        qubit, n_qubits = self.circuit.readout.qubit, self.circuit.n_qubits
        norms = amp_norms(amplitudes, qubit, n_qubits)
        grad_weight = torch.einsum("bo,boi->oi", grad, amp_values(norms)) if weight_grad else None
        cotangent = amp_cotangent(amplitudes, norms, grad[:, :, None] * weight, qubit, n_qubits,
                                  in_place=out.is_contiguous())  # a view of raw: not when shape_output broadcast
        return network.reduce_cotangent(cotangent.reshape(out.shape)), grad_weight

    # ----- readouts -------------------------------------------------------------------
    def _check(self, x: torch.Tensor, params: LayerParams) -> None:
        if self.arccos_reps:
            check_arccos_domain(x, params, self.geometry, self.arccos_reps)

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        self._check(x, params)
        network = self.values_network
        values = []
        for chunk in x.split(self.chunk_size(network, x.shape[0])):
            out = self.contract(network, network.operands(chunk, params), chunk.shape[0])
            values.append(out.real if self.z_readout else amp_readout(
                out.reshape(*out.shape[:3], -1), self.circuit.readout.qubit, self.circuit.n_qubits))
        return torch.cat(values)

    def edge_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return edge_contributions(self.circuit_values(x, params), x, params, self.geometry)

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """y (B, O). Operands are built for the whole batch and the contraction chunked inside one node,
        unless some operand is per (o, i, b) (data gates with pre-activations): those are as large as the
        layer, so each chunk then builds its own, under torch checkpoint (rebuilt in backward)."""
        self._check(x, params)
        network = self.layer_network or self.values_network
        chunk = self.chunk_size(network, x.shape[0])
        if chunk >= x.shape[0] or not network.per_sample_edges:
            return self._layer(x, *params, network=network, chunk=chunk, keep=True)
        return torch.cat([torch_checkpoint(self._layer, part, *params, network=network, chunk=part.shape[0],
                                           keep=False, use_reentrant=False) for part in x.split(chunk)])

    def _layer(self, x: torch.Tensor, *tensors: torch.Tensor, network: CircuitNetwork, chunk: int,
               keep: bool) -> torch.Tensor:
        params = LayerParams(*tensors)
        weight = None if self.z_readout else params.mask * params.postact_weights
        circuit_part = ChunkedLayer.apply(self, network, x.shape[0], chunk, keep, weight, *network.operands(x, params))
        return circuit_part + bias_and_base(x, params, self.geometry)


def resolve_memory_limit(memory_limit: Union[int, float, None], device: torch.device) -> Optional[int]:
    """Bytes: an int as given, a float in (0, 1] as that fraction of free memory on ``device``;
    None means DEFAULT_MEMORY_FRACTION of free GPU memory, and no limit on CPU."""
    if memory_limit is None:
        if device.type != "cuda":
            return None
        memory_limit = DEFAULT_MEMORY_FRACTION
    if isinstance(memory_limit, bool) or not isinstance(memory_limit, (int, float)):
        raise TypeError(f"memory_limit must be bytes (int) or a fraction of free memory (float), "
                        f"got {type(memory_limit).__name__}")
    if isinstance(memory_limit, float):
        if not 0.0 < memory_limit <= 1.0:
            raise ValueError(f"a fractional memory_limit must be in (0, 1], got {memory_limit}")
        from .auto import free_memory

        return int(memory_limit * free_memory(device))
    if memory_limit <= 0:
        raise ValueError(f"memory_limit must be a positive number of bytes, got {memory_limit}")
    return memory_limit


class CutnSolver(Solver):
    """Tensor-network backend: any circuit, CPU (opt_einsum) or CUDA (cuTensorNet), fp32/fp64."""

    name = "cutn"
    options = {"memory_limit": None, "backward": "cutensornet"}
    auto_rank = {"cuda": 2, "cpu": 1}
    bounded_memory = True

    def unsupported_reason(self, circuit, geometry, dtype, device) -> Optional[str]:
        if dtype not in COMPLEX_OF:
            return f"cutn computes in float32 or float64, got {dtype}"
        if torch.device(device).type == "cuda" and importlib.util.find_spec("cuquantum") is None:
            return ("cuQuantum (cuTensorNet) is not installed: pip install cuquantum-python-cu13 "
                    "(or qkan-toolkit[gpu]), or use solver='exact'")
        return None

    def build(self, circuit, geometry, dtype, device, memory_limit: Union[int, float, None],
              backward: str) -> CutnProgram:
        return CutnProgram(circuit, geometry, dtype, torch.device(device), memory_limit=memory_limit,
                           backward=backward)

    def estimate_bytes(self, circuit, geometry, dtype, batch) -> int:
        """Planned under a memory limit; this is the unsliced amplitude tensor."""
        real = torch.finfo(dtype).bits // 8
        return batch * geometry.out_dim * geometry.in_dim * (2 ** circuit.n_qubits) * 2 * real * 2

