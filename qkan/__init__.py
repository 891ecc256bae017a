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
from .graphs import make_graphed_train_step
from .layer import QKANLayer
from .model import QKAN
from .network_plot import plot_network
from .settings import LayerSettings
from .spectrum import lower_reps, suggest_reps
from .symbolic.sympy_form import to_sympy
from .validation import get_validation, set_validation

__version__ = "0.1.0"
__all__ = [
    "LayerSettings",
    "QKAN",
    "QKANLayer",
    "create_dataset",
    "get_validation",
    "lower_reps",
    "make_graphed_train_step",
    "plot_network",
    "set_validation",
    "spectrum",
    "suggest_reps",
    "to_sympy",
    "__version__",
]
