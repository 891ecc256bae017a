"""The published solver-registry calls on the registry of :mod:`qkan.solvers`.

Lookup and registration keep their published meaning (a name to a solver; ``register`` replaces a name already
taken). A published solver, though, is a function of (x, theta, preacts, reps) per ansatz, while a solver here
compiles a :class:`qkan.circuits.Circuit` (``qkan.solvers.base.Solver``): such a solver has no counterpart, so
subclassing :class:`QKANSolver` or registering anything but a ``Solver`` raises TypeError saying what to use."""

from __future__ import annotations

from abc import ABC
from types import MappingProxyType
from typing import Any, Mapping

from qkan.solvers import get_solver as _solver_by_name
from qkan.solvers import register_solver, registered_solvers, solver_names
from qkan.solvers.base import Solver

__all__ = ["QKANSolver", "get_registry", "get_solver", "register"]

_WRITE_A_SOLVER = (
    "solvers here compile a circuit IR: describe a new ansatz as a qkan.circuits.Circuit (every solver runs it), "
    "or write a backend as a subclass of qkan.solvers.base.Solver and register it with qkan.solvers.register_solver"
)


class QKANSolver(ABC):
    """The published solver base; every solver here (a ``qkan.solvers.base.Solver``) is an instance of it.
    Subclassing it raises TypeError: a published-style solver (postacts from x, theta and preacts) cannot run
    here."""

    name: str

    def __init_subclass__(cls, **kwargs: Any) -> None:
        raise TypeError(f"{cls.__name__}: subclassing qkan.solver.QKANSolver is not supported; {_WRITE_A_SOLVER}")


QKANSolver.register(Solver)  # type: ignore[type-abstract]  # virtual subclass: ABC.register takes any class


def register(solver: Solver) -> Solver:
    """Register ``solver`` under ``solver.name``, replacing a solver of that name (as published); returns it."""
    if not isinstance(solver, Solver):
        raise TypeError(f"solver must be a qkan.solvers.base.Solver, got {type(solver).__name__}; {_WRITE_A_SOLVER}")
    return register_solver(solver, replace=True)


def get_solver(name: str) -> Solver:
    """The registered solver called ``name``; KeyError (as published) naming the registered ones if none is."""
    if name not in solver_names():
        raise KeyError(f"unknown solver {name!r}; registered: {solver_names()}")
    return _solver_by_name(name)


def get_registry() -> Mapping[str, Solver]:
    """The registered solvers by name, read-only (register with :func:`register`)."""
    return MappingProxyType({solver.name: solver for solver in registered_solvers()})
