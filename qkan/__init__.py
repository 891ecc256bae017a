"""qkan: quantum-inspired Kolmogorov-Arnold Networks on a circuit IR with exact, flash and cutn solvers."""
from .data import create_dataset
from .graphs import make_graphed_train_step
from .layer import QKANLayer
from .model import QKAN

__version__ = "0.1.0"
__all__ = ["QKAN", "QKANLayer", "create_dataset", "make_graphed_train_step", "__version__"]
