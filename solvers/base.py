"""The solver contract (docs/design.md, "Solver contract"): what a layer hands a solver and what it gets back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar, Mapping, Optional

import torch

from qkan.circuits import Circuit

from .geometry import LayerGeometry, LayerParams, UnsupportedCircuit
from .layer_math import edge_contributions

__all__ = ["LayerGeometry", "LayerParams", "Program", "Solver", "UnsupportedCircuit"]


class Program(ABC):
    """A circuit compiled for one (geometry, dtype, device); differentiable in x and all params.

    ``traceable``: torch.compile can trace its calls; a Program that cannot (library calls, data-dependent
    planning) runs as one opaque op there (solvers/opaque.py), reached by ``opaque_key``."""

    traceable: ClassVar[bool] = True
    opaque_key: Optional[str] = None

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device):
        self.circuit = circuit
        self.geometry = geometry
        self.dtype = dtype
        self.device = device

    @abstractmethod
    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """y (B, O): the fused sum over inputs of every edge's contribution."""

    def edge_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """(B, O, I): each edge's contribution mask*(pw*(f+pb) + bw*sigma(x)); sums to y over I."""
        return edge_contributions(self.circuit_values(x, params), x, params, self.geometry)

    @abstractmethod
    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """(B, O, I): the raw circuit readout f of every edge."""

    def accepts_input(self, dtype: torch.dtype) -> bool:
        """Whether x may come in ``dtype`` (the output then comes in it too); the Program's own dtype always
        may. Under autocast the layer hands a Program that accepts the autocast dtype its input in it."""
        return dtype == self.dtype


class Solver(ABC):
    """A backend: checks whether it can run a circuit here, estimates its memory, and compiles Programs.

    ``options`` is the one place a solver's keyword options and their defaults are written: the
    registry refuses other names and hands ``build`` every option, defaults filled in. ``auto_rank``
    orders the solvers ``auto`` tries per device type (lower first; a device type not listed: not
    tried). ``bounded_memory``: the solver bounds its own memory (auto takes it whatever the estimate).
    """

    name: ClassVar[str] = ""
    auto_rank: ClassVar[Mapping[str, int]] = {}
    bounded_memory: ClassVar[bool] = False

    @property
    def options(self) -> Mapping[str, Any]:
        """The keyword options and their defaults (a subclass sets a class attribute, or computes them)."""
        return {}

    def check_option_values(self, options: Mapping[str, Any]) -> None:
        """ValueError/TypeError naming a bad option value (``options``: every declared option, defaults filled
        in). Runs when a layer is built, whether or not the backend is installed here; none by default."""
        return None

    @abstractmethod
    def unsupported_reason(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device
    ) -> Optional[str]:
        """None if this solver can run the circuit here, else a sentence saying why not."""

    @abstractmethod
    def build(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device, **options: Any
    ) -> Program:
        """Compile a Program (called once per key; the registry caches it). ``options`` holds every name of
        ``self.options``, defaults filled in by the registry: a solver writes no default of its own."""

    @abstractmethod
    def estimate_bytes(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, batch: int) -> int:
        """Rough peak extra bytes of one training step (forward + backward) at this batch size."""

    def describe(self, circuit: Circuit, geometry: LayerGeometry, batch: int, options: Mapping[str, Any]) -> list[str]:
        """Lines :func:`qkan.solvers.explain` adds for this solver at this batch (e.g. circuits sent to a device)."""
        return []
