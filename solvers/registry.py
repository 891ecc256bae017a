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


def ranked_solvers(device_type: str) -> list[str]:
    """The registered solvers ``auto`` tries on a device type, in the order of their ``auto_rank``."""
    ranked = [(s.auto_rank[device_type], n) for n, s in _SOLVERS.items() if device_type in s.auto_rank]
    return [n for _, n in sorted(ranked)]


def get_solver(name: Union[str, Solver]) -> Solver:
    """A solver by registry name (or the instance itself), with a message listing the known names."""
    if isinstance(name, Solver):
        return name
    if name not in _SOLVERS:
        raise ValueError(f"unknown solver {name!r}; expected one of {solver_names()}")
    return _SOLVERS[name]


def accepted_options(name: Union[str, Solver]) -> set[str]:
    """The ``solver_kwargs`` a solver takes (its declared ``options``); ``auto`` accepts any solver's."""
    solvers = list(_SOLVERS.values()) if name == "auto" else [get_solver(name)]
    return {option for solver in solvers for option in solver.options}


def check_options(name: Union[str, Solver], options: dict[str, Any]) -> None:
    """Raise ``TypeError`` naming any option the solver does not take."""
    accepted = accepted_options(name)
    unknown = sorted(set(options) - accepted)
    if unknown:
        label = name if isinstance(name, str) else name.name
        raise TypeError(f"solver {label!r} got unknown option(s) {unknown}; it accepts {sorted(accepted) or 'none'}")


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
            check_options(name, options)
            solver = resolve(name, circuit, geometry, dtype, device)
            _PROGRAMS[key] = solver.build(circuit, geometry, dtype, device, **{**solver.options, **options})
    return _PROGRAMS[key]
