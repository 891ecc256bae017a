"""Optimizers for QKAN training under the published ``qkan.optim`` names (docs/migrating.md)."""

from ._common import reshape_optimizer_state
from .adabelief import AdaBelief, QKANBeliefMini, TritonAdaBelief
from .lbfgs import LBFGSFinisher, adam_then_lbfgs
from .mini import QKANAdamMini, QKANSpectralMini
from .muon import QKANMuon

__all__ = [
    "AdaBelief",
    "LBFGSFinisher",
    "QKANAdamMini",
    "QKANBeliefMini",
    "QKANMuon",
    "QKANSpectralMini",
    "TritonAdaBelief",
    "adam_then_lbfgs",
    "reshape_optimizer_state",
]
