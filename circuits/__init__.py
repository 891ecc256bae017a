"""qkan.circuits: the circuit IR (gates with trainable, data and constant angle slots, and a readout)."""

from .angles import Angle, Data, Theta, as_angle, data, theta
from .bind import angle_value
from .builtins import BUILTIN_ALIASES, BUILTINS, builtin, mix, px, pz, real, rpz
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
    "mix",
    "px",
    "pz",
    "real",
    "register_gate",
    "rpz",
    "theta",
    "to_qasm",
]
