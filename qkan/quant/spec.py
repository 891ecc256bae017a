"""What to quantise and how: one :class:`QuantizerConfig` per role, gathered in a :class:`QuantSpec`.

A role names a kind of tensor with its own precision needs (a KAN's parameters are heterogeneous:
rotation angles are periodic, post-activation weights scale bounded circuit outputs, ...), so each
gets its own quantiser slot and bit width. Modules map their parameters to roles in ``roles.py``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Mapping, Optional

PARAMETER_ROLES = (
    "theta",  # rotation angles of QKAN circuits: periodic grid
    "preact_weight",  # per-edge pre-activation scale w in w*x + c
    "preact_bias",  # per-edge pre-activation offset c
    "postact_weight",  # per-edge scale of the circuit output
    "postact_bias",  # per-edge offset added to the circuit output
    "base_weight",  # weight of the base (SiLU) branch of KAN layers
    "basis_weight",  # coefficients on basis functions of classical KANs (splines, RBFs, rationals)
    "weight",  # weights of linear and convolution layers
    "bias",  # biases of linear and convolution layers
    "norm",  # affine parameters of normalisation layers
)
ACTIVATION_ROLES = (
    "input",  # the input of every module with quantised parameters (range from calibration)
    "readout",  # QKAN circuit outputs (range known from the readout, [-1, 1] on one qubit)
)
ROLES = PARAMETER_ROLES + ACTIVATION_ROLES
GRANULARITIES = ("tensor", "channel")
SCHEMES = ("minmax", "mse")
METHODS = ("rtn", "gptq")
QAT_METHODS = ("lsq", "dsq")


@dataclass(frozen=True)
class QuantizerConfig:
    """One quantiser slot: ``bits``; per-``tensor`` or per-``channel`` (output channel) scales; range from
    ``minmax`` or the ``mse``-optimal clipping; ``symmetric`` (zero point 0) or affine; ``method`` ``rtn``
    (round to nearest) or ``gptq`` (error feedback; nn.Linear and nn.Conv2d weights); ``qat`` ``lsq``/``dsq`` makes the
    step size learnable (None: fixed, straight-through gradients).

    Two roles read only some fields: ``theta`` is always on a periodic grid fixed by the period and the
    angles' arc (``symmetric`` does not apply; under ``qat`` the angles train through it with
    straight-through gradients), and ``readout`` has a known range, so ``scheme`` does not apply."""

    bits: int
    granularity: str = "tensor"
    scheme: str = "minmax"
    symmetric: bool = True
    method: str = "rtn"
    qat: Optional[str] = None

    def __post_init__(self) -> None:
        if not isinstance(self.bits, int) or isinstance(self.bits, bool) or not 2 <= self.bits <= 16:
            raise ValueError(f"bits must be an integer in 2..16, got {self.bits!r}")
        for name, value, allowed in (
            ("granularity", self.granularity, GRANULARITIES),
            ("scheme", self.scheme, SCHEMES),
            ("method", self.method, METHODS),
        ):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; expected one of {allowed}")
        if self.qat is not None and self.qat not in QAT_METHODS:
            raise ValueError(f"unknown qat {self.qat!r}; expected None or one of {QAT_METHODS}")
        if self.method == "gptq" and self.qat is not None:
            raise ValueError("gptq is a post-training method; it cannot be combined with qat")


@dataclass(frozen=True)
class QuantSpec:
    """Role -> :class:`QuantizerConfig` (or None: keep that role in floating point). Roles missing from
    ``roles`` stay in floating point; unknown role names raise."""

    roles: Mapping[str, Optional[QuantizerConfig]] = field(default_factory=dict)
    name: str = "custom"

    def __post_init__(self) -> None:
        unknown = sorted(set(self.roles) - set(ROLES))
        if unknown:
            raise ValueError(f"unknown quantisation roles {unknown}; expected roles from {ROLES}")
        for role, config in self.roles.items():
            if config is not None and not isinstance(config, QuantizerConfig):
                raise TypeError(f"role {role!r} needs a QuantizerConfig or None, got {type(config).__name__}")
        theta = self.roles.get("theta")
        if theta is not None and theta.method == "gptq":
            raise ValueError(
                "theta is quantised on a periodic grid; gptq applies to linear and convolution weights only"
            )
        object.__setattr__(self, "roles", MappingProxyType(dict(self.roles)))

    def config(self, role: str) -> Optional[QuantizerConfig]:
        if role not in ROLES:
            raise ValueError(f"unknown quantisation role {role!r}; expected one of {ROLES}")
        return self.roles.get(role)

    def with_role(self, role: str, config: Optional[QuantizerConfig]) -> "QuantSpec":
        """A copy with one role's slot replaced."""
        return replace(self, roles={**self.roles, role: config})

    @property
    def needs_calibration(self) -> bool:
        """Input ranges come from data, and GPTQ needs input statistics."""
        weights_gptq = any(c is not None and c.method == "gptq" for c in self.roles.values())
        return self.roles.get("input") is not None or weights_gptq

    def __str__(self) -> str:
        parts = [f"{role}={c.bits}b" for role, c in self.roles.items() if c is not None]
        return f"{self.name}({', '.join(parts)})"


WEIGHT_ROLES = (
    "theta",
    "preact_weight",
    "preact_bias",
    "postact_weight",
    "postact_bias",
    "base_weight",
    "basis_weight",
    "weight",
)


def uniform_spec(
    weight_bits: Optional[int],
    act_bits: Optional[int] = None,
    *,
    granularity: str = "channel",
    scheme: str = "minmax",
    act_scheme: str = "minmax",
    gptq: bool = False,
    qat: Optional[str] = None,
    name: Optional[str] = None,
) -> QuantSpec:
    """W{weight_bits}A{act_bits}: every weight role (angles included) at ``weight_bits`` with symmetric
    per-``granularity`` scales; inputs (affine, per tensor) and circuit readouts at ``act_bits``.
    Linear/conv biases and normalisation parameters stay in floating point (integer kernels keep
    biases in 32-bit accumulators)."""
    roles: dict[str, Optional[QuantizerConfig]] = {}
    if weight_bits is not None:
        for role in WEIGHT_ROLES:
            method = "gptq" if gptq and role == "weight" else "rtn"
            roles[role] = QuantizerConfig(weight_bits, granularity, scheme, True, method, qat)
    if act_bits is not None:
        roles["input"] = QuantizerConfig(act_bits, "tensor", act_scheme, False, "rtn", qat)
        roles["readout"] = QuantizerConfig(act_bits, "tensor", "minmax", True, "rtn", None)
    default = f"W{weight_bits or 'F'}A{act_bits or 'F'}"
    return QuantSpec(roles, name or default)


_PRESET = re.compile(r"^W(\d+|F)A(\d+|F)$", re.IGNORECASE)


def parse_spec(text: str, **options) -> QuantSpec:
    """``"W8A8"``, ``"W4A8"``, ``"W4AF"`` (F = float) -> :func:`uniform_spec` with ``options``."""
    match = _PRESET.match(text.strip())
    if not match:
        raise ValueError(f"expected a preset like 'W8A8', 'W4A8' or 'W8AF' (F keeps float), got {text!r}")
    bits = [None if g.upper() == "F" else int(g) for g in match.groups()]
    return uniform_spec(bits[0], bits[1], name=text.strip().upper(), **options)
