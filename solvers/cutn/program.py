"""The cutn Program: the batch mode ``b`` sliced into chunks whose largest tensor stays a share of
``memory_limit``, and a layer as one autograd node over its chunks (:class:`ChunkedLayer`) that keeps
nothing of size B x O x I across the step (docs/design.md, "Cutn"; figures in docs/notes/cutn.md)."""

from __future__ import annotations

from typing import Optional, Sequence

import torch
from torch.utils.checkpoint import checkpoint as torch_checkpoint

from qkan.circuits import Circuit

from ..base import LayerGeometry, LayerParams, Program
from ..layer_math import bias_and_base
from ..statevector import COMPLEX_OF
from .budget import MemoryLimitTooSmall, chunk_budget, sample_free_fits, smallest_limit
from .engines import CutnEngine, EinsumEngine, Engine
from .gradients import ContractNetwork, operand_gradients
from .network import CircuitNetwork
from .readout import amp_cotangent, amp_norms, amp_readout, amp_values


class ChunkedLayer(torch.autograd.Function):
    """The circuit part of a layer's output over chunks of the batch: for the ``amp`` readout the
    amplitudes network, the readout and the weighted sum over inputs, sum_i w[o,i] f[b,o,i], per chunk;
    for ``z`` the real part of the layer network (weight and sum inside it). Nothing of size B x O x I
    lives across the step: the backward walks the chunks in reverse and contracts each one again, but
    for the forward's last chunk, whose result (and cuTensorNet's cache of it) is kept with ``keep``
    (not under checkpoint, where it would outlive its chunk)."""

    @staticmethod
    def forward(
        ctx,
        program: "CutnProgram",
        network: CircuitNetwork,
        batch: int,
        chunk: int,
        keep: bool,
        weight: Optional[torch.Tensor],
        *operands: torch.Tensor,
    ) -> torch.Tensor:
        ctx.program, ctx.network, ctx.batch, ctx.chunk = program, network, batch, chunk
        ctx.needs = tuple(bool(g) for g in ctx.needs_input_grad[6:])
        outputs = []
        chunks = _chunks(batch, chunk)
        for start, size in chunks:
            raw = None  # the previous chunk's result, freed before this one's contraction
            chunk_operands = program.slice_operands(network, operands, start, size)
            kept = keep and start == chunks[-1][0]  # only its contraction is reused: others hold no gradient cache
            raw = program.engine.contract(
                network.expression, network.path, chunk_operands, program.gradient_flags(ctx.needs) if kept else None
            )
            outputs.append(program.chunk_output(network, raw, size, weight))
        ctx.kept = (chunk_operands, raw) if keep else (None, None)
        ctx.save_for_backward(weight, *operands)
        return torch.cat(outputs)

    @staticmethod
    def backward(ctx, grad_y: torch.Tensor):
        program, network, needs = ctx.program, ctx.network, ctx.needs
        weight, *operands = ctx.saved_tensors
        batch_dims = network.batch_dims()
        grads = [
            None if not need else torch.empty_like(o) if d is not None else torch.zeros_like(o)
            for need, o, d in zip(needs, operands, batch_dims)
        ]
        grad_weight = torch.zeros_like(weight) if ctx.needs_input_grad[5] else None
        chunks = _chunks(ctx.batch, ctx.chunk)
        for start, size in reversed(chunks):
            chunk_operands = raw = cotangent = chunk_grads = None  # the previous chunk's, freed first
            if start == chunks[-1][0] and ctx.kept[1] is not None:
                chunk_operands, raw = ctx.kept
                ctx.kept = None, None  # its result is overwritten below: a second backward contracts again
            else:
                chunk_operands = program.slice_operands(network, operands, start, size)
            cotangent, chunk_grad_weight = program.chunk_cotangent(
                network, chunk_operands, raw, size, weight, grad_weight is not None, grad_y[start : start + size], needs
            )
            if grad_weight is not None:
                grad_weight += chunk_grad_weight
            chunk_grads = operand_gradients(
                program.engine, network, chunk_operands, needs, program.gradient_flags(needs) is not None, cotangent
            )
            for k, g in enumerate(chunk_grads):
                if g is None:
                    continue
                target, dim = grads[k], batch_dims[k]
                assert target is not None, "a gradient arrives only for an operand that needs one"
                if dim is None:
                    target += g
                else:
                    target.narrow(dim, start, size).copy_(g)
        return (None, None, None, None, None, grad_weight, *grads)


def _chunks(batch: int, chunk: int) -> list[tuple[int, int]]:
    """(start, size) of each chunk of the batch; an empty batch is one empty chunk (its contraction gives the
    empty output and zero gradients of the right shapes)."""
    if batch == 0:
        return [(0, 0)]
    return [(start, min(chunk, batch - start)) for start in range(0, batch, chunk)]


class CutnProgram(Program):
    """One network per readout mode, chunked over the batch under ``memory_limit`` (bytes; None: one
    chunk). ``backward``: ``cutensornet`` (its own gradients where they apply, else environments) or
    ``environments``. Both options arrive resolved and checked by ``CutnSolver.build``. Not traceable (path
    finding and library calls on concrete tensors): compiled models call it as one opaque op."""

    traceable = False

    def __init__(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        device: torch.device,
        memory_limit: Optional[int],
        backward: str,
    ):
        super().__init__(circuit, geometry, dtype, device)
        self.memory_limit = memory_limit
        self.backward = backward
        self.complex_bytes = torch.empty((), dtype=COMPLEX_OF[dtype]).element_size()
        self.z_readout = circuit.measured.kind == "z"
        self.values_network = self._network("expectation" if self.z_readout else "amplitudes")
        self.layer_network = self._network("layer") if self.z_readout else None
        self.engine: Engine
        if device.type == "cuda":
            assert memory_limit is not None, "CutnSolver.build resolves the limit on CUDA"
            self.engine = CutnEngine(memory_limit)
        else:
            self.engine = EinsumEngine()

    def _network(self, mode: str) -> CircuitNetwork:
        """The mode's network, along the split path unless its per-edge tensors (not sliced by chunking)
        would not fit a chunk's share of the memory limit: then in circuit order."""
        network = CircuitNetwork(self.circuit, self.geometry, mode)
        if (
            network.split
            and self.memory_limit is not None
            and not sample_free_fits(network, self.memory_limit, self.complex_bytes)
        ):
            return CircuitNetwork(self.circuit, self.geometry, mode, strategy="circuit")
        return network

    # ----- contraction ----------------------------------------------------------------
    def chunk_size(self, network: CircuitNetwork, batch: int, batch_grads: bool = True) -> int:
        """Samples per chunk: the most whose call keeps under the memory limit (budget.py; ``batch_grads``:
        whether the operands carrying the sample get gradients), the batch split evenly; the whole batch when
        no tensor carries the sample. A limit too small for one sample per chunk is refused
        (:class:`MemoryLimitTooSmall`, naming the smallest that works) before anything is computed."""
        if batch == 0 or self.memory_limit is None or not any(d is not None for d in network.batch_dims()):
            return batch
        budget = chunk_budget(network, batch, self.complex_bytes, batch_grads, self.device.type == "cuda")
        largest = min(batch, budget.largest_chunk(self.memory_limit))
        if largest >= 1:
            chunk = -(-batch // -(-batch // largest))  # as even as chunks of at most `largest` get: one plan, mostly
            if isinstance(self.engine, CutnEngine):  # cuTensorNet's workspace gets what the torch tensors leave
                self.engine.workspace_limit = budget.workspace_room(self.memory_limit, chunk)
            return chunk
        smallest = smallest_limit(
            self.circuit,
            self.geometry,
            network.mode,
            batch,
            self.complex_bytes,
            batch_grads,
            self.device.type == "cuda",
        )
        raise MemoryLimitTooSmall(
            f"cutn: memory_limit={self.memory_limit} bytes cannot hold a {self.geometry.in_dim}->"
            f"{self.geometry.out_dim} layer of {self.circuit.name!r} at batch {batch}; the smallest limit that "
            f"works is {smallest} bytes ({smallest / 2**20:.1f} MiB), or pass a smaller batch"
        )

    @staticmethod
    def slice_operands(
        network: CircuitNetwork, operands: Sequence[torch.Tensor], start: int, size: int
    ) -> list[torch.Tensor]:
        """The operands of one chunk of the batch (contiguous, as the networks are planned)."""
        return [
            o if d is None else o.narrow(d, start, size).contiguous() for o, d in zip(operands, network.batch_dims())
        ]

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

    def _amplitudes(self, out: torch.Tensor) -> torch.Tensor:
        """(b, o, i, 2^n) amplitudes from the ``amplitudes`` network's (b, o, i, 2, ..., 2) output (the last
        extent written out: -1 is ambiguous for an empty batch)."""
        return out.reshape(*out.shape[:3], 2**self.circuit.n_qubits)

    def chunk_output(
        self, network: CircuitNetwork, raw: torch.Tensor, size: int, weight: Optional[torch.Tensor]
    ) -> torch.Tensor:
        """(chunk, O): a chunk's circuit part of the layer output from its contraction."""
        out = network.shape_output(raw, size)
        if self.z_readout:
            return out.real
        f = amp_values(amp_norms(self._amplitudes(out), self.circuit.measured.qubit, self.circuit.n_qubits))
        return torch.einsum("boi,oi->bo", f, weight)

    def chunk_cotangent(
        self,
        network: CircuitNetwork,
        operands: Sequence[torch.Tensor],
        raw: Optional[torch.Tensor],
        size: int,
        weight: Optional[torch.Tensor],
        weight_grad: bool,
        grad: torch.Tensor,
        needs: tuple[bool, ...],
    ) -> tuple[torch.Tensor, Optional[torch.Tensor]]:
        """The cotangent of a chunk's contraction output for the cotangent ``grad`` (chunk, O) of its
        layer output (written over ``raw``, the chunk's contraction, contracted here if None), and (amp,
        ``weight_grad``) the chunk's part of the weight's gradient."""
        if self.z_readout:
            return network.reduce_cotangent(grad.to(COMPLEX_OF[grad.dtype])), None
        assert weight is not None, "the amp readout's layer sum has its weight"
        if raw is None:
            raw = self.engine.contract(network.expression, network.path, operands, self.gradient_flags(needs))
        out = network.shape_output(raw, size)
        amplitudes = self._amplitudes(out)
        qubit, n_qubits = self.circuit.measured.qubit, self.circuit.n_qubits
        norms = amp_norms(amplitudes, qubit, n_qubits)
        grad_weight = torch.einsum("bo,boi->oi", grad, amp_values(norms)) if weight_grad else None
        cotangent = amp_cotangent(
            amplitudes, norms, grad[:, :, None] * weight, qubit, n_qubits, in_place=out.is_contiguous()
        )  # a view of raw: not when shape_output broadcast
        return network.reduce_cotangent(cotangent.reshape(out.shape)), grad_weight

    # ----- readouts -------------------------------------------------------------------
    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        network = self.values_network
        values = []
        for chunk in x.split(self.chunk_size(network, x.shape[0], torch.is_grad_enabled())):
            out = self.contract(network, network.operands(chunk, params), chunk.shape[0])
            values.append(
                out.real
                if self.z_readout
                else amp_readout(self._amplitudes(out), self.circuit.measured.qubit, self.circuit.n_qubits)
            )
        return torch.cat(values)

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """y (B, O). Operands are built for the whole batch and the contraction chunked inside one node,
        unless some operand is per (o, i, b) (data gates with pre-activations): those are as large as the
        layer, so each chunk then builds its own, under torch checkpoint (rebuilt in backward)."""
        network = self.layer_network or self.values_network
        batch_grads = torch.is_grad_enabled() and (x.requires_grad or network.per_sample_edges)
        chunk = self.chunk_size(network, x.shape[0], batch_grads)
        if chunk >= x.shape[0] or not network.per_sample_edges:
            return self._layer(x, *params, network=network, chunk=chunk, keep=True)
        return torch.cat(
            [
                torch_checkpoint(
                    self._layer, part, *params, network=network, chunk=part.shape[0], keep=False, use_reentrant=False
                )
                for part in x.split(chunk)
            ]
        )

    def _layer(
        self, x: torch.Tensor, *tensors: torch.Tensor, network: CircuitNetwork, chunk: int, keep: bool
    ) -> torch.Tensor:
        params = LayerParams(*tensors)
        weight = None if self.z_readout else params.mask * params.postact_weights
        circuit_part = ChunkedLayer.apply(self, network, x.shape[0], chunk, keep, weight, *network.operands(x, params))
        return circuit_part + bias_and_base(x, params, self.geometry)
