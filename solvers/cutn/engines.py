"""Contraction backends: :class:`EinsumEngine` (opt_einsum on torch tensors, CPU) and :class:`CutnEngine`
(cuTensorNet networks planned once per shapes, CUDA); both contract an einsum expression along a given
path, and compute gradients (docs/design.md, "Cutn")."""

from __future__ import annotations

import warnings
from typing import Any, Optional, Sequence, Union

import numpy as np
import opt_einsum
import torch

from .budget import MIN_WORKSPACE, MemoryLimitTooSmall
from .paths import Path


class EinsumEngine:
    """opt_einsum on torch tensors, along the given path, one compiled expression per (expression, shapes)."""

    def __init__(self) -> None:
        self._expressions: dict[tuple, opt_einsum.contract.ContractExpression] = {}

    def contract(
        self, expression: str, path: Path, operands: Sequence[torch.Tensor], grads: Optional[tuple[bool, ...]] = None
    ) -> torch.Tensor:
        """The contraction; ``grads`` (gradient flags, the engines' common signature) is not needed here."""
        key = (expression, tuple(tuple(o.shape) for o in operands))
        if key not in self._expressions:
            self._expressions[key] = opt_einsum.contract_expression(expression, *key[1], optimize=path)
        return self._expressions[key](*operands, backend="torch")

    def vjp(
        self,
        expression: str,
        path: Path,
        operands: Sequence[torch.Tensor],
        needed: Sequence[bool],
        grad_output: torch.Tensor,
    ) -> list[Optional[torch.Tensor]]:
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
    workspace (drawn from torch's allocator) is bounded by ``workspace_limit`` (what the chunk's torch
    tensors leave of ``memory_limit``, set by the program per call; budget.py) and handed
    back after each call, so the many networks of a step do not each hold one.

    cuTensorNet's own backward runs only on unsliced networks without extent-1 modes whose gradient
    cache fits the limit; where it does not, the network is planned without gradient flags and
    ``native_gradients`` says so. A network gets the least workspace it needs; one whose backward fails
    with that is planned again with the whole limit, then, failing again, without gradient flags."""

    def __init__(self, memory_limit: int):
        from cuquantum.bindings import cutensornet
        from cuquantum.tensornet import Network, NetworkOptions

        self._network_class, self._options_class = Network, NetworkOptions
        self._qualifiers_dtype = cutensornet.tensor_qualifiers_dtype
        self.workspace_limit = max(memory_limit, MIN_WORKSPACE)  # narrowed per call by the program (budget.py)
        self._workspace: dict[tuple, int] = {}  # key -> the workspace its network was planned with
        self._networks: dict[tuple, Any] = {}  # cuTensorNet Networks
        self._native: dict[tuple, bool] = {}
        self._whole_limit: set[tuple] = set()  # keys whose backward failed with their least workspace
        self._last: dict[tuple, tuple] = {}  # key -> operands of the network's latest contraction

    @staticmethod
    def _key(expression: str, operands: Sequence[torch.Tensor], grads: tuple[bool, ...]) -> tuple:
        return expression, tuple(tuple(o.shape) for o in operands), operands[0].dtype, grads

    def _network(self, key: tuple, expression: str, path: Path, operands: Sequence[torch.Tensor], stream):
        if key in self._networks and self._workspace[key] > self.workspace_limit:  # planned under a wider cap
            self._networks.pop(key).free()
        if key in self._networks:
            self._networks[key].reset_operands(*operands, stream=stream)
            return self._networks[key]
        grads = key[-1]
        network = None
        if any(grads) and self._native.get(key, True) and all(extent > 1 for o in operands for extent in o.shape):
            try:  # with gradient flags cuTensorNet keeps a cache for its backward; it must fit the limit unsliced
                network, workspace = self._plan(
                    expression, path, operands, stream, grads, whole=key in self._whole_limit
                )
                if network.num_slices != 1:
                    network.free()
                    network = None
            except Exception as err:  # cuTensorNet refuses (e.g. cache over memory_limit): environments backward
                warnings.warn(
                    f"cuTensorNet gradients do not fit this network ({type(err).__name__}: {err}); "
                    "the backward contracts environments instead",
                    RuntimeWarning,
                    stacklevel=2,
                )
        self._native[key] = network is not None
        if network is None:
            network, workspace = self._plan(expression, path, operands, stream, (False,) * len(operands))
        self._networks[key], self._workspace[key] = network, workspace
        return network

    def _plan(
        self,
        expression: str,
        path: Path,
        operands: Sequence[torch.Tensor],
        stream,
        grads: tuple[bool, ...],
        whole: bool = False,
    ):
        """The network along ``path`` with the least workspace it needs (where that is within the limit), or
        the ``whole`` limit: cuTensorNet otherwise takes all of it as scratch, memory the chunks could use;
        and that workspace."""
        limit = self.workspace_limit
        if not whole:
            need = self._workspace_need(expression, path, operands, stream, grads)
            if need > limit and not any(grads):  # with gradient flags the caller falls back to environments
                raise MemoryLimitTooSmall(
                    f"cutn: cuTensorNet needs {need} bytes of workspace for a contraction, {need - limit} more "
                    "than memory_limit leaves it beside the chunk's tensors: raise memory_limit by at least that"
                )
            limit = min(limit, max(need, MIN_WORKSPACE))
        return self._prepared(expression, path, operands, stream, grads, limit), limit

    def _prepared(
        self, expression: str, path: Path, operands: Sequence[torch.Tensor], stream, grads: tuple[bool, ...], limit: int
    ):
        qualifiers = np.zeros(len(operands), dtype=self._qualifiers_dtype)
        qualifiers["requires_gradient"] = grads
        network = self._network_class(
            expression,
            *operands,
            qualifiers=qualifiers,
            stream=stream,
            options=self._options_class(memory_limit=limit, blocking="auto"),
        )
        try:
            network.contract_path(optimize={"path": path})
        except BaseException:
            network.free()
            raise
        return network

    def _workspace_need(
        self, expression: str, path: Path, operands: Sequence[torch.Tensor], stream, grads: tuple[bool, ...]
    ) -> int:
        """The least workspace (scratch, and the gradient cache with gradient flags) cuTensorNet needs for
        this network: planned under a one-byte limit, its refusal says how much."""
        from cuquantum.memory import MemoryLimitExceeded

        try:
            self._prepared(expression, path, operands, stream, grads, 1).free()
        except MemoryLimitExceeded as err:
            return int(err.requirement)
        return 0

    def contract(
        self, expression: str, path: Path, operands: Sequence[torch.Tensor], grads: Optional[tuple[bool, ...]] = None
    ) -> torch.Tensor:
        key = self._key(expression, operands, grads or (False,) * len(operands))
        stream = torch.cuda.current_stream(operands[0].device)
        out = self._network(key, expression, path, operands, stream).contract(stream=stream, release_workspace=True)
        self._last[key] = _identity(operands)
        return out

    def native_gradients(self, expression: str, operands: Sequence[torch.Tensor], grads: tuple[bool, ...]) -> bool:
        """Whether cuTensorNet's backward applies to this (already contracted) network."""
        return self._native.get(self._key(expression, operands, grads), False)

    def gradients(
        self,
        expression: str,
        path: Path,
        operands: Sequence[torch.Tensor],
        grads: tuple[bool, ...],
        grad_output: torch.Tensor,
    ) -> Optional[tuple[Optional[torch.Tensor], ...]]:
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
                    return tuple(
                        self._networks[key].gradients(grad_output.contiguous(), stream=stream, release_workspace=True)
                    )
            except Exception as err:  # a network whose call failed is not reused
                self._networks.pop(key).free()
                if key not in self._whole_limit:  # it had its least workspace: again with the whole limit
                    self._whole_limit.add(key)
                    continue
                warnings.warn(
                    f"cuTensorNet gradients failed ({type(err).__name__}: {err}); the backward "
                    "contracts environments instead",
                    RuntimeWarning,
                    stacklevel=2,
                )
                self._native[key] = False
                return None


def _identity(operands: Sequence[torch.Tensor]) -> tuple:
    """Which tensors (storage and version) a contraction used: a cached result is valid only for them."""
    return tuple((o.data_ptr(), o._version) for o in operands)


Engine = Union[EinsumEngine, CutnEngine]
