"""The solver contract (DESIGN.md §4): what a layer hands a solver and what it gets back."""
from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Callable, NamedTuple, Optional, Union

import torch

from qkan.circuits import Circuit

BaseActivation = Union[str, Callable[[torch.Tensor], torch.Tensor], None]


class UnsupportedCircuit(ValueError):
    """A solver cannot run this circuit or size here; the message names what it cannot take
    and the solvers that can."""


@dataclass(frozen=True)
class LayerGeometry:
    """The layer around the circuit: sizes, grouping, whether ``auto`` data slots are affine,
    and the base activation (a registered name or a callable)."""

    in_dim: int
    out_dim: int
    groups: Optional[int] = None
    preacts: bool = False
    base_activation: BaseActivation = "silu"

    @property
    def edge_shape(self) -> tuple[int, ...]:
        """Leading shape of theta and pre-activation tensors: (O, I) or (g,)."""
        return (self.out_dim, self.in_dim) if self.groups is None else (self.groups,)


class LayerParams(NamedTuple):
    """The layer's tensors, with the published names and shapes (spec §4)."""

    theta: torch.Tensor
    preacts_weight: torch.Tensor
    preacts_bias: torch.Tensor
    postact_weights: torch.Tensor
    postact_bias: torch.Tensor
    base_weight: torch.Tensor
    mask: torch.Tensor


class Program(ABC):
    """A circuit compiled for one (geometry, dtype, device); differentiable in x and all params."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device):
        self.circuit = circuit
        self.geometry = geometry
        self.dtype = dtype
        self.device = device

    @abstractmethod
    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """y (B, O): the fused sum over inputs of every edge's contribution."""

    @abstractmethod
    def edge_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """(B, O, I): each edge's contribution mask*(pw*(f+pb) + bw*sigma(x)); sums to y over I."""

    @abstractmethod
    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        """(B, O, I): the raw circuit readout f of every edge."""


class Solver(ABC):
    """A backend: checks whether it can run a circuit here, and compiles Programs."""

    name: str = ""

    @abstractmethod
    def unsupported_reason(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype,
                           device: torch.device) -> Optional[str]:
        """None if this solver can run the circuit here, else a sentence saying why not."""

    @abstractmethod
    def build(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device) -> Program:
        """Compile a Program (called once per key; the registry caches it)."""
