"""HQKANClassifier: a small CNN feature extractor -> Linear -> QKAN (or a classical head) -> Linear.

The default shape is the published "HQKAN-44" head for 32x32x3 images (docs/math.md, "Hybrid models"):
3 convolutions to 256 features -> Linear(256, 32) -> QKAN([32, 28]) -> Linear(28, n_classes).
``for_digits`` builds the same head on a CNN sized for 8x8 grey digits.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

import torch
from torch import nn

from ..checks import check_positive_int
from ..layer import Ansatz
from ..model import QKAN

FEATURES = 256  # the CNN always ends in 256 features: channels[-1] x 2 x 2 after adaptive pooling


def conv_features(in_channels: int, channels: Sequence[int], pools: Sequence[bool]) -> nn.Sequential:
    """3x3 convolutions (GroupNorm, ReLU, optional 2x2 max-pool each), then adaptive pooling to 2x2,
    flattened to channels[-1] * 4 features. GroupNorm is per sample, so DDP training matches
    single-process training on the same global batch (BatchNorm statistics would differ per rank)."""
    layers: list[nn.Module] = []
    for c_in, c_out, pool in zip([in_channels, *channels[:-1]], channels, pools):
        layers += [nn.Conv2d(c_in, c_out, 3, padding=1), nn.GroupNorm(min(8, c_out), c_out), nn.ReLU()]
        if pool:
            layers.append(nn.MaxPool2d(2))
    layers += [nn.AdaptiveAvgPool2d(2), nn.Flatten()]
    return nn.Sequential(*layers)


def make_head(
    head: str, in_dim: int, out_dim: int, reps: int, solver: str, ansatz: Ansatz, head_kwargs: Optional[dict[str, Any]]
) -> nn.Module:
    """The middle block: QKAN([in, out]) for head="qkan", else a classical baseline by name; "mlp"
    without options gets as many trainable parameters as the QKAN head would have."""
    kwargs = dict(head_kwargs or {})
    if head == "qkan":
        kwargs.setdefault("ba_trainable", True)
        return QKAN([in_dim, out_dim], reps=reps, solver=solver, ansatz=ansatz, **kwargs)
    from ..baselines import BASELINES, MLP

    if head not in BASELINES:
        raise ValueError(f"unknown head {head!r}; expected 'qkan' or a baseline in {sorted(BASELINES)}")
    if head == "mlp" and not kwargs:
        qkan = make_head("qkan", in_dim, out_dim, reps, solver, ansatz, None)
        return MLP.matched(in_dim, out_dim, sum(p.numel() for p in qkan.parameters() if p.requires_grad))
    return BASELINES[head](in_dim, out_dim, **kwargs)


class HQKANClassifier(nn.Module):
    """(B, C, H, W) images -> (B, n_classes) logits; ``head`` picks QKAN or a classical KAN/MLP block
    of the same in/out size so the heads compare on equal footing."""

    def __init__(
        self,
        n_classes: int = 100,
        in_channels: int = 3,
        channels: Sequence[int] = (32, 64, 64),
        pools: Sequence[bool] = (True, True, True),
        hidden: int = 32,
        qkan_out: int = 28,
        reps: int = 3,
        solver: str = "exact",
        ansatz: Ansatz = "pz",
        head: str = "qkan",
        head_kwargs: Optional[dict[str, Any]] = None,
        image_size: Optional[int] = None,
    ):
        super().__init__()
        if len(channels) != 3 or len(pools) != 3:
            raise ValueError(f"expected 3 conv channel counts and 3 pool flags, got {list(channels)}, {list(pools)}")
        if channels[-1] * 4 != FEATURES:
            raise ValueError(f"the last conv must have {FEATURES // 4} channels (256 features), got {channels[-1]}")
        for name, value in (
            ("n_classes", n_classes),
            ("in_channels", in_channels),
            ("hidden", hidden),
            ("qkan_out", qkan_out),
        ):
            check_positive_int(name, value)
        self.n_classes, self.in_channels, self.image_size, self.head_name = n_classes, in_channels, image_size, head
        self.features = conv_features(in_channels, channels, pools)
        self.project = nn.Linear(FEATURES, hidden)
        self.head = make_head(head, hidden, qkan_out, reps, solver, ansatz, head_kwargs)
        self.classify = nn.Linear(qkan_out, n_classes)

    @classmethod
    def for_digits(cls, n_classes: int = 10, **kwargs: Any) -> "HQKANClassifier":
        """The digits variant: 1x8x8 grey input, convolutions 16-32-64 with two pools (8 -> 4 -> 2)."""
        settings = dict(in_channels=1, channels=(16, 32, 64), pools=(True, True, False), image_size=8)
        return cls(n_classes=n_classes, **{**settings, **kwargs})

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4 or x.shape[1] != self.in_channels:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"HQKANClassifier expects images of shape (batch, {self.in_channels}, H, W), got {shape}")
        if self.image_size is not None and tuple(x.shape[2:]) != (self.image_size, self.image_size):
            raise ValueError(
                f"HQKANClassifier was built for {self.image_size}x{self.image_size} images, got {tuple(x.shape[2:])}"
            )
        return self.classify(self.head(self.project(self.features(x))))

    def extra_repr(self) -> str:
        return f"n_classes={self.n_classes}, head={self.head_name}"
