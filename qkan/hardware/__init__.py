"""Running QKAN circuits on quantum hardware: device calibration (:class:`DeviceProfile`), qubit and layout
choice (:func:`best_qubits`, :func:`rank_qubits`, :func:`score_layout`, :func:`tile_disjoint`) and many copies
of one circuit packed into one job (:func:`pack_circuit`, :class:`PackedCircuit`), exported to qiskit."""

from .backends import best_qubits
from .layout import rank_qubits, score_layout, tile_disjoint
from .packing import PackedCircuit, interaction_of, pack_circuit
from .profile import DeviceProfile

__all__ = [
    "DeviceProfile",
    "PackedCircuit",
    "best_qubits",
    "interaction_of",
    "pack_circuit",
    "rank_qubits",
    "score_layout",
    "tile_disjoint",
]
