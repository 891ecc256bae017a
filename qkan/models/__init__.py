"""Hybrid models: HQKAN bottlenecks, the HQKAN classifier and a GPT with a selectable MLP."""

from .classifier import HQKANClassifier
from .gpt import GPT
from .hqkan import HQKAN, bottleneck_width

__all__ = ["GPT", "HQKAN", "HQKANClassifier", "bottleneck_width"]
