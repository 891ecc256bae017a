"""``solver="auto"``: per layer and per batch size, pick the solver from the device, what each
solver supports and its estimated memory against free memory; :func:`explain` says why.

The rule (docs/design.md, "Auto"; docs/guide/solvers.md says it too): the registered solvers whose
``auto_rank`` lists the device type, in rank order; the first that supports the circuit and whose
estimate fits in AUTO_MEMORY_FRACTION of free memory (or that bounds its own memory) wins. With
the built-ins: on CUDA flash, else exact when it fits, else cutn; on CPU exact when it fits, else
cutn. ``auto`` depends on the registry one way: the registry knows nothing of it, and
solvers/__init__.py registers :class:`AutoSolver` after the others.
"""

from __future__ import annotations

from numbers import Integral
from typing import Any, Mapping, Optional

import torch

from qkan.circuits import Circuit

from . import memory
from .base import LayerGeometry, LayerParams, Program, Solver
from .registry import check_options, get_solver, registered_solvers
from .registry import compile as compile_program

AUTO_MEMORY_FRACTION = 0.8


class _SolverDefault:
    """Marks an option whose solvers declare different defaults: each chosen solver keeps its own."""

    def __repr__(self) -> str:
        return "<the chosen solver's default>"


SOLVER_DEFAULT = _SolverDefault()


def candidates() -> list[Solver]:
    """Every registered solver ``auto`` may hand a layer to: all but ``auto`` itself."""
    return [s for s in registered_solvers() if not isinstance(s, AutoSolver)]


def ranked_solvers(device_type: str) -> list[Solver]:
    """The candidates ``auto`` tries on a device type, in the order of their ``auto_rank``."""
    ranked = [(s.auto_rank[device_type], s.name, s) for s in candidates() if device_type in s.auto_rank]
    return [s for _, _, s in sorted(ranked, key=lambda r: r[:2])]


def _decide(
    circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device, batch: int
) -> tuple[Solver, list[str]]:
    free = memory.free_memory(device)
    lines = [f"device {device}, batch {batch}, free memory {free / 2**20:.0f} MiB"]
    choice = None
    for solver in ranked_solvers(device.type):
        reason = solver.unsupported_reason(circuit, geometry, dtype, device)
        if reason:
            lines.append(f"- {solver.name}: cannot run ({reason})")
            continue
        need = solver.estimate_bytes(circuit, geometry, dtype, batch)
        fits = solver.bounded_memory or need <= AUTO_MEMORY_FRACTION * free
        lines.append(
            f"- {solver.name}: supported, estimated {need / 2**20:.1f} MiB per train step"
            + ("" if fits else f" > {AUTO_MEMORY_FRACTION:.0%} of free memory")
        )
        if choice is None and fits:
            choice = solver
    if choice is None:
        raise ValueError("no solver can run this layer here:\n" + "\n".join(lines))
    lines.append(f"chosen: {choice.name}")
    return choice, lines


def choose(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device, batch: int = 1) -> str:
    """The name of the solver ``auto`` runs for this layer at this batch size."""
    return _decide(circuit, geometry, dtype, torch.device(device), batch)[0].name


def explain(
    circuit: Circuit,
    geometry: LayerGeometry,
    dtype: torch.dtype,
    device,
    batch: int,
    solver: str = "auto",
    **options: Any,
) -> str:
    """A few lines saying which solvers can run the layer, their memory estimates and the choice; for a named
    ``solver`` (with its ``options``): whether it runs here, its estimate, and what it reports of itself
    (the hardware solvers: circuits and shots per forward and backward)."""
    if not isinstance(batch, Integral) or isinstance(batch, bool) or batch < 0:
        raise ValueError(f"batch must be a non-negative integer, got {batch!r}")
    if not isinstance(geometry, LayerGeometry):
        raise TypeError(f"geometry must be a LayerGeometry, got {type(geometry).__name__}")
    if not isinstance(circuit, Circuit):
        raise TypeError(f"circuit must be a Circuit, got {type(circuit).__name__}")
    device = torch.device(device)
    if solver == "auto":
        return "\n".join(_decide(circuit, geometry, dtype, device, batch)[1])
    check_options(solver, options)
    chosen = get_solver(solver)
    reason = chosen.unsupported_reason(circuit, geometry, dtype, device)
    if reason is not None:
        return f"{chosen.name}: cannot run ({reason})"
    need = chosen.estimate_bytes(circuit, geometry, dtype, batch)
    lines = [f"{chosen.name} on {device}, batch {batch}: estimated {need / 2**20:.1f} MiB per train step"]
    return "\n".join(lines + chosen.describe(circuit, geometry, batch, {**chosen.options, **options}))


class AutoProgram(Program):
    """Dispatches each call to the solver chosen for its batch size (each compiled once)."""

    def __init__(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        device: torch.device,
        options: Mapping[str, Any],
    ):
        super().__init__(circuit, geometry, dtype, device)
        self.options = dict(options)
        self.chosen: dict[int, str] = {}
        self._by_batch: dict[int, Program] = {}

    def program_for(self, batch: int) -> Program:
        """The chosen solver's Program for this batch size, given the options it declares."""
        if batch not in self._by_batch:
            solver, _ = _decide(self.circuit, self.geometry, self.dtype, self.device, batch)
            options = {k: v for k, v in self.options.items() if k in solver.options and v is not SOLVER_DEFAULT}
            self._by_batch[batch] = compile_program(
                solver.name, self.circuit, self.geometry, self.dtype, self.device, **options
            )
            self.chosen[batch] = solver.name
        return self._by_batch[batch]

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.program_for(x.shape[0]).layer_output(x, params)

    def edge_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.program_for(x.shape[0]).edge_values(x, params)

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.program_for(x.shape[0]).circuit_values(x, params)


class AutoSolver(Solver):
    """The registered ``auto``: runs whichever candidate :func:`choose` picks per batch size.

    ``options`` is read from the registry at each access: the union of the candidates' options,
    each with its declared default (:data:`SOLVER_DEFAULT` where they disagree); each chosen
    solver receives only the options it declares. ``auto_rank`` is empty: auto never picks itself.
    """

    name = "auto"

    @property
    def options(self) -> Mapping[str, Any]:
        defaults: dict[str, list[Any]] = {}
        for solver in candidates():
            for option, default in solver.options.items():
                defaults.setdefault(option, []).append(default)
        return {
            option: values[0] if all(v == values[0] for v in values) else SOLVER_DEFAULT
            for option, values in defaults.items()
        }

    def unsupported_reason(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device
    ) -> Optional[str]:
        device = torch.device(device)
        ranked = ranked_solvers(device.type)
        reasons = [
            f"{s.name}: {r}"
            for s in ranked
            if (r := s.unsupported_reason(circuit, geometry, dtype, device)) is not None
        ]
        if len(reasons) < len(ranked):
            return None
        return f"no solver auto tries on {device.type} can run it ({'; '.join(reasons) or 'none is ranked there'})"

    def build(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device, **options: Any
    ) -> AutoProgram:
        return AutoProgram(circuit, geometry, dtype, torch.device(device), options)

    def estimate_bytes(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        batch: int,
        device: Optional[torch.device] = None,
    ) -> int:
        """The estimate of the solver auto would choose on ``device`` (default: CUDA when available, else CPU)."""
        device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        solver, _ = _decide(circuit, geometry, dtype, device, batch)
        return solver.estimate_bytes(circuit, geometry, dtype, batch)
