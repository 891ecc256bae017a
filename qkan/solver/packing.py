"""The published ``qkan.solver.packing`` names: many copies of one circuit in one job (:mod:`qkan.hardware`)."""

from qkan.hardware import PackedCircuit, interaction_of, pack_circuit

__all__ = ["PackedCircuit", "interaction_of", "pack_circuit"]
