"""The published ``qkan.solver.layout`` names: device calibration and qubit/layout choice (:mod:`qkan.hardware`)."""

from qkan.hardware import DeviceProfile, rank_qubits, score_layout, tile_disjoint

__all__ = ["DeviceProfile", "rank_qubits", "score_layout", "tile_disjoint"]
