"""The published ``qkan`` 0.2.3 constructor keywords that have no setting of their own here, and the
``p_dim=2`` state_dict layout; what each means here is in docs/migrating.md."""

from __future__ import annotations

import warnings
from typing import Any, Mapping, Optional

import torch
from torch import nn

EDGE_TENSORS = ("theta", "preacts_weight", "preacts_bias", "base_weight", "postact_weights", "postact_bias", "mask")
"""A layer's tensors whose stored shape depends on ``p_dim``."""

ACCEPTED_DEFAULTS: dict[str, Any] = {
    "c_dtype": None,
    "qml_device": "default.qubit",
    "is_batchnorm": False,
    "is_map": False,
    "hidden": 0,
    "theta_size": None,
}
"""Published keywords taken for source compatibility, with the only value that means the same here (``c_dtype``
any value: our solvers compute in the parameters' dtype)."""

_warned: set[str] = set()


def resolve_published(
    owner: str, options: Mapping[str, Any], dtype: Optional[torch.dtype], lenient: bool
) -> Optional[torch.dtype]:
    """Check the published-only keywords in ``options`` and return the parameter dtype (``p_dtype`` is the
    published name of ``dtype``). Unknown keywords: warned once each and ignored when ``lenient`` (the
    published QKAN ignores them), TypeError otherwise (the published QKANLayer refuses them)."""
    for name, value in options.items():
        if name == "p_dtype":
            if not (isinstance(value, torch.dtype) and value.is_floating_point):
                raise TypeError(f"{owner}: p_dtype must be a floating torch.dtype, got {value!r}")
            if dtype is not None and dtype != value:
                raise ValueError(f"{owner}: dtype={dtype} and p_dtype={value} disagree; give one of them")
            dtype = value
        elif name == "c_dtype":
            if not isinstance(value, torch.dtype):
                raise TypeError(f"{owner}: c_dtype must be a torch.dtype, got {value!r}")
        elif name in ACCEPTED_DEFAULTS:
            default = ACCEPTED_DEFAULTS[name]
            if value != default and not (name == "qml_device" and isinstance(value, str)):
                raise ValueError(
                    f"{owner}: {name}={value!r} is not supported here (only {default!r}); see docs/migrating.md"
                )
        elif lenient:
            if name not in _warned:
                _warned.add(name)
                warnings.warn(f"{owner}: ignoring unknown keyword argument {name!r}", UserWarning, stacklevel=3)
        else:
            raise TypeError(f"{owner}() got an unexpected keyword argument {name!r}")
    return dtype


def collapsed_shape(name: str, natural: torch.Size) -> tuple[int, ...]:
    """The published ``p_dim=2`` storage shape of a layer tensor with this natural shape."""
    if name in ("theta", "preacts_weight", "preacts_bias"):
        tail = natural[-2:] if name == "theta" else natural[-1:]
        lead = natural[: len(natural) - len(tail)]
        return (int(torch.Size(lead).numel()), int(torch.Size(tail).numel()))
    return (int(natural.numel()),)


def install_layout_hooks(layer: nn.Module) -> None:
    """Save ``layer``'s tensors in its ``p_dim`` layout; load either layout into the natural-shape tensors."""

    def save(module: nn.Module, state: dict[str, Any], prefix: str, local_metadata: Any) -> None:
        if getattr(module, "p_dim", 4) == 2:
            for name in EDGE_TENSORS:
                key = prefix + name
                if key in state:
                    state[key] = state[key].reshape(collapsed_shape(name, state[key].shape))

    def load(state: dict[str, Any], prefix: str, *args: Any) -> None:
        for name in EDGE_TENSORS:
            key, own = prefix + name, getattr(layer, name, None)
            value = state.get(key)
            if isinstance(value, torch.Tensor) and own is not None and value.shape != own.shape:
                if tuple(value.shape) == collapsed_shape(name, own.shape):
                    state[key] = value.reshape(own.shape)

    layer._register_state_dict_hook(save)
    layer._register_load_state_dict_pre_hook(load)


class PublishedLayerViews:
    """Read-only views a QKANLayer gives under the published package's attribute names; computed from the
    parameters on every read, so in-place edits (e.g. of the mask) are always reflected."""

    theta: torch.Tensor
    mask: torch.Tensor
    postact_bias: torch.Tensor
    out_dim: int
    in_dim: int

    @property
    def param_size(self) -> int:
        """The number of trainable parameter elements."""
        return sum(p.numel() for p in self.parameters() if p.requires_grad)  # type: ignore[attr-defined]

    def set_fused_epilogue(self, enabled: bool = True) -> None:
        """The published switch for its fused Triton epilogue, recorded in ``use_fused_epilogue`` only: it changes
        nothing any solver here computes (docs/migrating.md)."""
        if not isinstance(enabled, bool):
            raise TypeError(f"enabled must be True or False, got {enabled!r}")
        self.use_fused_epilogue = enabled

    def _as_oi(self, tensor: torch.Tensor) -> torch.Tensor:
        """``tensor`` viewed as (out_dim, in_dim)."""
        return tensor.view(self.out_dim, self.in_dim)

    @property
    def _mask_is_identity(self) -> bool:
        return bool((self.mask == 1).all())

    @_mask_is_identity.setter
    def _mask_is_identity(self, value: bool) -> None:
        """Published code sets this flag by hand after editing the mask; here it follows the mask itself."""

    @property
    def _pb_is_nonzero(self) -> bool:
        return bool((self.postact_bias != 0).any())

    @property
    def p_dtype(self) -> torch.dtype:
        """The parameter dtype."""
        return self.theta.dtype

    @property
    def c_dtype(self) -> torch.dtype:
        """The compute dtype: every solver here computes in the parameter dtype."""
        return self.theta.dtype

    @property
    def _needs_dtype_cast(self) -> bool:
        return self.c_dtype != self.p_dtype
