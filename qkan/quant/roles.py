"""Which role each parameter plays, by module type: the one mechanism that lets a single QuantSpec cover
QKAN layers, the linear parts of HQKAN models and the classical baselines.

A module type registers ``{parameter name: role}``, the parameters it never quantises (structure such
as QKAN's pruning mask) and whether its input is an activation to quantise. Subclasses inherit their
base's entry. A module owning parameters but no entry is an error, so nothing is skipped silently.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator, Mapping

from torch import nn

from ..baselines import BSplineKAN, FastKAN, RationalKAN, SplineKAN
from ..layer import QKANLayer
from .spec import PARAMETER_ROLES


@dataclass(frozen=True)
class ModuleRoles:
    """``parameters``: name -> role; ``ignored``: parameters kept as they are; ``quantize_input``: whether
    the module's (first) input is quantised with the ``input`` role. Per-channel scales run along axis 0."""

    parameters: Mapping[str, str]
    ignored: tuple[str, ...] = ()
    quantize_input: bool = True

    def __post_init__(self) -> None:
        unknown = sorted(set(self.parameters.values()) - set(PARAMETER_ROLES))
        if unknown:
            raise ValueError(f"unknown parameter roles {unknown}; expected roles from {PARAMETER_ROLES}")


_REGISTRY: dict[type, ModuleRoles] = {}


def register_roles(
    module_type: type, parameters: Mapping[str, str], ignored: tuple[str, ...] = (), quantize_input: bool = True
) -> None:
    """Declare the roles of ``module_type``'s own parameters (also used for its subclasses)."""
    if not (isinstance(module_type, type) and issubclass(module_type, nn.Module)):
        raise TypeError(f"module_type must be an nn.Module subclass, got {module_type!r}")
    _REGISTRY[module_type] = ModuleRoles(dict(parameters), tuple(ignored), quantize_input)


def roles_of(module: nn.Module) -> ModuleRoles:
    """The registered roles of ``module``'s type (nearest registered base class)."""
    for cls in type(module).__mro__:
        if cls in _REGISTRY:
            return _REGISTRY[cls]
    own = [name for name, _ in module.named_parameters(recurse=False)]
    raise TypeError(
        f"{type(module).__name__} owns parameters {own} but has no quantisation roles; declare them "
        f"with qkan.quant.register_roles({type(module).__name__}, {{'name': 'role', ...}}) using roles "
        f"from {PARAMETER_ROLES}"
    )


@dataclass(frozen=True)
class RoleEntry:
    """One quantisable parameter: where it lives and which role it plays."""

    module_name: str
    module: nn.Module
    parameter: str
    role: str

    @property
    def name(self) -> str:
        return f"{self.module_name}.{self.parameter}" if self.module_name else self.parameter


@dataclass
class RolePlan:
    """Every parameter of a model with its role, and the modules whose inputs are activations."""

    parameters: list[RoleEntry] = field(default_factory=list)
    input_modules: list[tuple[str, nn.Module]] = field(default_factory=list)

    def __iter__(self) -> Iterator[RoleEntry]:
        return iter(self.parameters)


def plan_roles(model: nn.Module) -> RolePlan:
    """Walk ``model`` and assign every directly owned parameter a role (raises on unknown modules or
    parameters the registry does not name)."""
    plan = RolePlan()
    for module_name, module in model.named_modules():
        own = [name for name, _ in module.named_parameters(recurse=False)]
        if not own:
            continue
        roles = roles_of(module)
        unnamed = sorted(set(own) - set(roles.parameters) - set(roles.ignored))
        if unnamed:
            raise TypeError(
                f"{type(module).__name__} at {module_name or '<root>'}: parameters {unnamed} have no "
                f"role; register them with qkan.quant.register_roles"
            )
        plan.parameters += [
            RoleEntry(module_name, module, name, roles.parameters[name]) for name in own if name in roles.parameters
        ]
        if roles.quantize_input:
            plan.input_modules.append((module_name, module))
    return plan


_LINEAR = {"weight": "weight", "bias": "bias"}
_NORM = {"weight": "norm", "bias": "norm"}
for _cls in (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d):
    register_roles(_cls, _LINEAR)
for _norm in (nn.LayerNorm, nn.GroupNorm, nn.BatchNorm1d, nn.BatchNorm2d, nn.RMSNorm):
    register_roles(_norm, _NORM, quantize_input=False)
register_roles(nn.Embedding, {"weight": "weight"}, quantize_input=False)
register_roles(
    QKANLayer,
    {
        "theta": "theta",
        "preacts_weight": "preact_weight",
        "preacts_bias": "preact_bias",
        "postact_weights": "postact_weight",
        "postact_bias": "postact_bias",
        "base_weight": "base_weight",
    },
    ignored=("mask",),
)
# classical KAN baselines: curve coefficients are "basis_weight"; a per-edge scale of the curve plays
# the part of QKAN's post-activation weight (MLP is built from nn.Linear and needs no entry)
register_roles(SplineKAN, {"knot_values": "basis_weight"})
register_roles(
    BSplineKAN, {"base_weight": "base_weight", "spline_weight": "basis_weight", "spline_scaler": "postact_weight"}
)
register_roles(FastKAN, {"spline_weight": "basis_weight", "base_weight": "base_weight", "base_bias": "bias"})
register_roles(
    RationalKAN, {"numerator": "basis_weight", "denominator": "basis_weight", "weight": "weight", "bias": "bias"}
)
