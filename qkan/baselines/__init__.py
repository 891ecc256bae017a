"""Classical KAN baselines (spline, rational, RBF) and an MLP, with the QKAN layer API: each maps
(..., in_dim) -> (..., out_dim), validates its input, and plots its per-edge functions."""

from .bspline import BSplineKAN
from .fastkan import FastKAN
from .mlp import MLP
from .rational import PRESETS as RATIONAL_PRESETS
from .rational import RationalKAN
from .spline import SplineKAN

BASELINES = {
    "spline": SplineKAN,
    "bspline": BSplineKAN,
    "rational": RationalKAN,
    "fastkan": FastKAN,
    "mlp": MLP,
}

__all__ = ["BASELINES", "BSplineKAN", "FastKAN", "MLP", "RATIONAL_PRESETS", "RationalKAN", "SplineKAN"]
