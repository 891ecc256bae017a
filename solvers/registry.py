"""The solver registry: names to solvers, compilation with a per-key Program cache, and ``auto``."""
from __future__ import annotations

from typing import Any, Union

import torch

from qkan.circuits import Circuit

from .base import LayerGeometry, Program, Solver, UnsupportedCircuit

_SOLVERS: dict[str, Solver] = {}
_PROGRAMS: dict[tuple, Program] = {}


def register_solver(solver: Solver) -> Solver:
    """Make ``solver`` available under ``solver.name``."""
    _SOLVERS[solver.name] = solver
    return solver


def solver_names() -> list[str]:
    return sorted(_SOLVERS) + ["auto"]


def get_solver(name: Union[str, Solver]) -> Solver:
    """A solver by registry name (or the instance itself), with a message listing the known names."""
    if isinstance(name, Solver):
        return name
    if name not in _SOLVERS:
        raise ValueError(f"unknown solver {name!r}; expected one of {solver_names()}")
    return _SOLVERS[name]


def supported_solvers(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype,
                      device: torch.device) -> list[str]:
    """Names of the solvers that can run this circuit here."""
    return [n for n, s in sorted(_SOLVERS.items()) if s.unsupported_reason(circuit, geometry, dtype, device) is None]


def resolve(name: Union[str, Solver], circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype,
            device: torch.device) -> Solver:
    """A named solver, checked: raises :class:`UnsupportedCircuit` naming the alternatives."""
    solver = get_solver(name)
    reason = solver.unsupported_reason(circuit, geometry, dtype, device)
    if reason is not None:
        others = [n for n in supported_solvers(circuit, geometry, dtype, device) if n != solver.name]
        raise UnsupportedCircuit(f"solver {solver.name!r} cannot run circuit {circuit.name!r} on {device}: {reason}. "
                                 f"Solvers that can: {others or 'none'}")
    return solver


def compile(name: Union[str, Solver], circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype,
            device: Union[str, torch.device], **options: Any) -> Program:
    """A Program for (circuit, geometry, dtype, device, options), built once and reused."""
    device = torch.device(device)
    circuit.validate()
    key = (name if isinstance(name, str) else name.name, circuit, geometry, dtype, str(device),
           tuple(sorted(options.items())))
    if key not in _PROGRAMS:
        if name == "auto":
            from .auto import AutoProgram

            _PROGRAMS[key] = AutoProgram(circuit, geometry, dtype, device, **options)
        else:
            _PROGRAMS[key] = resolve(name, circuit, geometry, dtype, device).build(circuit, geometry, dtype, device,
                                                                                   **options)
    return _PROGRAMS[key]
