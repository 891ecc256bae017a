"""The solver registry: names to solvers, option checks, and compilation with a per-key Program cache.

It knows no solver by name: ``auto`` is a registered solver like the others (solvers/auto.py
takes its lookups from here; docs/design.md, "Auto").
"""

from __future__ import annotations

from typing import Any, Union

import torch

from qkan.circuits import Circuit

from .base import LayerGeometry, Program, Solver, UnsupportedCircuit

_SOLVERS: dict[str, Solver] = {}
_PROGRAMS: dict[tuple, Program] = {}


def register_solver(solver: Solver, replace: bool = False) -> Solver:
    """Make ``solver`` available under ``solver.name``; a name already taken needs ``replace=True``.

    Any registration empties the Program cache: what ``compile`` (and ``auto``'s choice) would
    build may have changed."""
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a Solver instance, got {type(solver).__name__}")
    if not isinstance(solver.name, str) or not solver.name:
        raise ValueError(f"solver.name must be a non-empty string, got {solver.name!r}")
    if solver.name in _SOLVERS and not replace:
        raise ValueError(f"solver {solver.name!r} is already registered; pass replace=True to replace it")
    _SOLVERS[solver.name] = solver
    _PROGRAMS.clear()
    return solver


def solver_names() -> list[str]:
    """The registered names, sorted."""
    return sorted(_SOLVERS)


def registered_solvers() -> list[Solver]:
    """The registered solvers, in name order."""
    return [_SOLVERS[name] for name in sorted(_SOLVERS)]


def get_solver(name: Union[str, Solver]) -> Solver:
    """A solver by registry name (or the instance itself), with a message listing the known names."""
    if isinstance(name, Solver):
        return name
    if not isinstance(name, str):
        raise TypeError(f"solver must be a registry name (str) or a Solver, got {type(name).__name__}")
    if name not in _SOLVERS:
        raise ValueError(f"unknown solver {name!r}; expected one of {solver_names()}")
    return _SOLVERS[name]


def check_options(name: Union[str, Solver], options: dict[str, Any]) -> None:
    """Raise ``TypeError`` naming any option the solver does not declare in its ``options``, then the solver's
    own ValueError/TypeError for a bad value (:meth:`Solver.check_option_values`)."""
    solver = get_solver(name)
    accepted = sorted(solver.options)
    unknown = sorted(set(options) - set(accepted))
    if unknown:
        raise TypeError(f"solver {solver.name!r} got unknown option(s) {unknown}; it accepts {accepted or 'none'}")
    solver.check_option_values({**solver.options, **options})


def supported_solvers(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device) -> list[str]:
    """Names of the solvers that can run this circuit here."""
    return [s.name for s in registered_solvers() if s.unsupported_reason(circuit, geometry, dtype, device) is None]


def resolve(
    name: Union[str, Solver], circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device
) -> Solver:
    """A named solver, checked: raises :class:`UnsupportedCircuit` naming the alternatives."""
    solver = get_solver(name)
    reason = solver.unsupported_reason(circuit, geometry, dtype, device)
    if reason is not None:
        others = [n for n in supported_solvers(circuit, geometry, dtype, device) if n != solver.name]
        raise UnsupportedCircuit(
            f"solver {solver.name!r} cannot run circuit {circuit.name!r} on {device}: {reason}. "
            f"Solvers that can: {others or 'none'}"
        )
    return solver


class _Identity:
    """An unhashable option value (a noise model) in a cache key: equal only to itself, kept alive by the key."""

    def __init__(self, value: Any):
        self.value = value

    def __hash__(self) -> int:
        return id(self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Identity) and other.value is self.value


def _keyed(value: Any) -> Any:
    """``value`` where hashable, else its identity."""
    try:
        hash(value)
    except TypeError:
        return _Identity(value)
    return value


def compile(
    name: Union[str, Solver],
    circuit: Circuit,
    geometry: LayerGeometry,
    dtype: torch.dtype,
    device: Union[str, torch.device],
    **options: Any,
) -> Program:
    """A Program for (circuit, geometry, dtype, device, options), built once and reused; ``build``
    gets every declared option, its default filled in where not given."""
    device = torch.device(device)
    circuit.validate()
    key = (
        name if isinstance(name, str) else name.name,
        circuit,
        geometry,
        dtype,
        str(device),
        tuple(sorted((k, _keyed(v)) for k, v in options.items())),
    )
    if key not in _PROGRAMS:
        check_options(name, options)
        solver = resolve(name, circuit, geometry, dtype, device)
        _PROGRAMS[key] = solver.build(circuit, geometry, dtype, device, **{**solver.options, **options})
    return _PROGRAMS[key]
