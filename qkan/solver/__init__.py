"""The published ``qkan.solver`` module paths (qkan 0.2.3), for code written against that package: the solver
registry (:mod:`qkan.solver.registry`, backed by :mod:`qkan.solvers`) and hardware packing under its published
submodules :mod:`qkan.solver.layout` and :mod:`qkan.solver.packing` (implemented in :mod:`qkan.hardware`), and
the published function :func:`qkan.solver.cudaq_solver` (:mod:`qkan.solver.cudaq`, on ``solver="cudaq"``).
New code uses ``qkan.solvers`` and ``qkan.hardware``; docs/migrating.md lists what maps where."""

from qkan.hardware import best_qubits

from .cudaq import cudaq_solver
from .layout import DeviceProfile, rank_qubits, score_layout, tile_disjoint
from .packing import PackedCircuit, interaction_of, pack_circuit
from .registry import QKANSolver, get_registry, get_solver, register

__all__ = [
    "DeviceProfile",
    "PackedCircuit",
    "QKANSolver",
    "best_qubits",
    "cudaq_solver",
    "get_registry",
    "get_solver",
    "interaction_of",
    "pack_circuit",
    "rank_qubits",
    "register",
    "score_layout",
    "tile_disjoint",
]
