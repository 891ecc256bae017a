"""qkan.circuits: the circuit IR (gates with trainable, data and constant angle slots, and a readout)."""

from .angles import Angle, Data, Theta, as_angle, data, theta
from .bind import angle_value
from .builtins import (
    BUILTIN_ALIASES,
    BUILTINS,
    ENTANGLING_BUILTINS,
    builtin,
    hardware_efficient_ring,
    mix,
    px,
    pz,
    real,
    ring2,
    ring3,
    rpz,
)
from .circuit import READOUTS, Circuit, Op, Readout
from .draw import draw
from .gates import GATES, GateSpec, gate_spec, register_gate
from .passes import FusedBlock, fuse_parameter_gates
from .qasm import to_qasm

__all__ = [
    "Angle",
    "BUILTINS",
    "BUILTIN_ALIASES",
    "Circuit",
    "Data",
    "ENTANGLING_BUILTINS",
    "FusedBlock",
    "GATES",
    "GateSpec",
    "Op",
    "READOUTS",
    "Readout",
    "Theta",
    "angle_value",
    "as_angle",
    "builtin",
    "data",
    "draw",
    "fuse_parameter_gates",
    "gate_spec",
    "hardware_efficient_ring",
    "mix",
    "px",
    "pz",
    "real",
    "register_gate",
    "ring2",
    "ring3",
    "rpz",
    "theta",
    "to_qasm",
]
