"""The published module path ``qkan.qkan`` (``from qkan.qkan import QKAN, QKANLayer``)."""

from .layer import QKANLayer
from .model import QKAN

__all__ = ["QKAN", "QKANLayer"]
