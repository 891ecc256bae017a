"""qkan: quantum-inspired Kolmogorov-Arnold Networks on a circuit IR with exact, flash and cutn solvers."""

import os as _os

# circuits/ and solvers/ sit beside qkan/ in the source tree and install as qkan.circuits and qkan.solvers
# (pyproject.toml's package-dir). Where this qkan/ is the source tree's (Python started in the repository root
# shadows an installed copy; or nothing is installed), look for them in the root too. An installed copy holds
# them itself and skips this. See docs/design.md, "Package map".
_here = _os.path.dirname(_os.path.abspath(__file__))
_root = _os.path.dirname(_here)
if (
    not _os.path.isdir(_os.path.join(_here, "solvers"))
    and _os.path.isfile(_os.path.join(_root, "pyproject.toml"))
    and all(_os.path.isfile(_os.path.join(_root, _name, "__init__.py")) for _name in ("circuits", "solvers"))
):
    __path__.append(_root)
del _os, _here, _root

from . import spectrum
from .data import create_dataset
from .fourier_kan import FourierKAN
from .graphs import make_graphed_train_step
from .hardware import DeviceProfile, PackedCircuit, pack_circuit, tile_disjoint
from .inference import CompiledInference, compile_inference, graph_submodules, make_graphed_inference
from .kan import KAN
from .layer import QKANLayer
from .model import QKAN
from .network_plot import plot_network
from .optim import (
    AdaBelief,
    LBFGSFinisher,
    QKANAdamMini,
    QKANBeliefMini,
    QKANMuon,
    QKANSpectralMini,
    TritonAdaBelief,
    adam_then_lbfgs,
    reshape_optimizer_state,
)
from .settings import LayerSettings
from .spectrum import lower_reps, suggest_reps
from .symbolic.sympy_form import to_sympy
from .validation import get_validation, set_validation

__version__ = "0.1.0"
__all__ = [
    "AdaBelief",
    "CompiledInference",
    "DeviceProfile",
    "FourierKAN",
    "KAN",
    "LBFGSFinisher",
    "LayerSettings",
    "PackedCircuit",
    "QKAN",
    "QKANAdamMini",
    "QKANBeliefMini",
    "QKANLayer",
    "QKANMuon",
    "QKANSpectralMini",
    "TritonAdaBelief",
    "adam_then_lbfgs",
    "compile_inference",
    "create_dataset",
    "get_validation",
    "graph_submodules",
    "lower_reps",
    "make_graphed_inference",
    "make_graphed_train_step",
    "pack_circuit",
    "plot_network",
    "reshape_optimizer_state",
    "set_validation",
    "spectrum",
    "suggest_reps",
    "tile_disjoint",
    "to_sympy",
    "__version__",
]
