"""``quantize(model, spec, calibration)``: a copy of the model whose forward simulates the quantised
arithmetic. Parameters get fake quantisers as torch parametrizations (so every solver receives
quantised values), module inputs and QKAN readouts get activation quantisers.

Order: (1) QKAN layers become QuantizedQKANLayer (readout quantiser when the spec has one);
(2) every parameter's grid is fitted (min-max or MSE); GPTQ-configured linear/conv weights are then
rewritten layer by layer in forward order, each from the inputs it sees behind the already-quantised
layers (float activations); (3) input quantisers observe the calibration data and fix their ranges.
"""

from __future__ import annotations

import copy
import warnings
from typing import Any, Iterable, Optional, Union

import torch
from torch import nn
from torch.nn.utils import parametrize
from tqdm.auto import tqdm

from ..checks import check_materialised
from ..layer import QKANLayer
from ..rollback import ModuleSnapshot, restored_on_failure
from .activation import ActivationQuantizer, quantize_input_hook
from .gptq import HessianAccumulator, gptq_quantize, supports_gptq
from .periodic import PeriodicQuantizer
from .periods import theta_periods
from .qkan_layer import READOUT_RANGE, QuantizedQKANLayer
from .quantizers import UniformQuantizer, make_quantizer
from .roles import RoleEntry, plan_roles
from .spec import QuantizerConfig, QuantSpec

Calibration = Union[torch.Tensor, Iterable[Any], None]
CALIBRATION_BATCH = 256


def calibration_batches(calibration: Calibration) -> list[torch.Tensor]:
    """Model inputs from a tensor (split into batches), or an iterable of tensors or (input, target) pairs."""
    if calibration is None:
        return []
    if isinstance(calibration, torch.Tensor):
        if calibration.dim() == 0:
            raise ValueError("calibration must be model inputs with a batch dimension, got a 0-d tensor")
        return list(calibration.split(CALIBRATION_BATCH))
    if not isinstance(calibration, Iterable):
        raise TypeError(
            f"calibration must be a tensor of model inputs or an iterable of batches, got {type(calibration).__name__}"
        )
    batches = []
    for item in calibration:
        x = item[0] if isinstance(item, (tuple, list)) else item
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"calibration batches must be tensors or (input, target) pairs, got {type(x).__name__}")
        if x.dim() == 0:
            raise ValueError("calibration batches must have a batch dimension, got a 0-d tensor")
        batches.append(x)
    return batches


def copy_model(model: nn.Module) -> nn.Module:
    """A deep copy that leaves compiled solver Programs behind (each layer recompiles on first use)."""
    memo: dict[int, Any] = {id(m._programs): {} for m in model.modules() if isinstance(m, QKANLayer)}
    return copy.deepcopy(model, memo)


def _replace_qkan_layers(model: nn.Module, spec: QuantSpec) -> nn.Module:
    """Every QKANLayer becomes a QuantizedQKANLayer (with a readout quantiser when the spec has one)."""
    config = spec.config("readout")

    def convert(layer: QKANLayer) -> QuantizedQKANLayer:
        quantizer = None
        if config is not None:
            inner = make_quantizer(config.bits, config.symmetric, None, 1, config.qat, layer.theta)
            quantizer = ActivationQuantizer(inner, config.scheme, known_range=READOUT_RANGE)
        return QuantizedQKANLayer.from_layer(layer, quantizer)

    if isinstance(model, QKANLayer):
        return convert(model)
    for module in list(model.modules()):
        for child_name, child in list(module.named_children()):
            if isinstance(child, QKANLayer):
                setattr(module, child_name, convert(child))
    return model


def _parameter_quantizer(entry: RoleEntry, config: QuantizerConfig) -> nn.Module:
    """The fitted quantiser for one parameter (periodic for angles, uniform otherwise)."""
    value = getattr(entry.module, entry.parameter)
    axis = 0 if config.granularity == "channel" and value.dim() >= 2 else None
    channels = value.shape[0] if axis == 0 else 1
    quantizer: Union[PeriodicQuantizer, UniformQuantizer]
    if entry.role == "theta":
        assert isinstance(entry.module, QKANLayer), "theta is a QKANLayer's"
        quantizer = PeriodicQuantizer(config.bits, theta_periods(entry.module.circuit), axis, channels, value.device)
    else:
        quantizer = make_quantizer(config.bits, config.symmetric, axis, channels, config.qat, value)
    return quantizer.fit(value, config.scheme)


def _forward_all(model: nn.Module, batches: list[torch.Tensor], desc: str, progress: bool) -> None:
    with torch.no_grad():
        for x in tqdm(batches, desc=desc, disable=not progress, leave=False):
            model(x)


def _forward_order(model: nn.Module, modules: list[nn.Module], batch: torch.Tensor) -> list[nn.Module]:
    """``modules`` in the order the forward first calls them (modules never called are left out)."""
    order: list[nn.Module] = []
    handles = [
        m.register_forward_pre_hook(lambda mod, args: order.append(mod) if mod not in order else None) for m in modules
    ]
    try:
        with torch.no_grad():
            model(batch)
    finally:
        for handle in handles:
            handle.remove()
    return order


def _run_gptq(
    model: nn.Module,
    entries: list[RoleEntry],
    batches: list[torch.Tensor],
    progress: bool,
    snapshot: Optional[ModuleSnapshot],
) -> None:
    """Rewrite each GPTQ entry's weight with GPTQ values, layer by layer in forward order (``snapshot``, where
    given, keeps each weight's values first)."""
    ordered = _forward_order(model, [e.module for e in entries], batches[0])
    missing = [e.name for e in entries if e.module not in ordered]
    if missing:
        raise RuntimeError(f"GPTQ: the forward on the calibration inputs never called {missing}")
    for module in tqdm(ordered, desc="gptq", disable=not progress, leave=False):
        accumulator = HessianAccumulator(module)
        handle = module.register_forward_hook(lambda mod, args, out, acc=accumulator: acc.add(args[0]))
        try:
            _forward_all(model, batches, "gptq inputs", False)
        finally:
            handle.remove()
        quantizer = module.parametrizations.weight[0]
        original = module.parametrizations.weight.original
        values = gptq_quantize(original, accumulator.hessian, quantizer)
        if snapshot is not None:
            snapshot.save_values(original)
        with torch.no_grad():
            original.copy_(values)


def quantize(
    model: nn.Module, spec: QuantSpec, calibration: Calibration = None, *, inplace: bool = False, progress: bool = False
) -> nn.Module:
    """The fake-quantised model for ``spec``; ``calibration`` (inputs, or batches of inputs or (input, target)
    pairs) is needed for input ranges and GPTQ. With QAT quantisers (``qat`` in the spec) the result
    trains as usual: step sizes are parameters, rounding passes straight-through gradients.
    ``inplace=True`` converts ``model``'s own modules instead of a copy (a bare QKANLayer is still
    replaced, so use the return value)."""
    if not isinstance(spec, QuantSpec):
        raise TypeError(
            f"spec must be a QuantSpec (see qkan.quant.uniform_spec / parse_spec), got {type(spec).__name__}"
        )
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_materialised(model, "quantize")
    batches = calibration_batches(calibration)
    if spec.needs_calibration and not any(b.shape[0] for b in batches):
        given = "none" if not batches else f"{len(batches)} batch(es) of 0 samples"
        raise ValueError(
            f"{spec.name} quantises inputs or uses GPTQ, which needs calibration inputs, got {given}: "
            "pass calibration=<tensor of model inputs or an iterable of batches>"
        )
    batches = [b for b in batches if b.shape[0]]
    if quantizer_modules(model) or any(isinstance(m, QuantizedQKANLayer) for m in model.modules()):
        raise ValueError("the model is already quantised; quantize the floating-point model instead")
    if not inplace:
        return _convert(copy_model(model), spec, batches, progress, None)
    with restored_on_failure(model) as snapshot:  # a failure half-way leaves ``model`` as it was
        return _convert(model, spec, batches, progress, snapshot)


def _convert(
    model: nn.Module, spec: QuantSpec, batches: list[torch.Tensor], progress: bool, snapshot: Optional[ModuleSnapshot]
) -> nn.Module:
    """Quantise ``model``'s own modules (quantize's steps 1-3); ``snapshot`` keeps the values GPTQ overwrites."""
    training = model.training
    model = _replace_qkan_layers(model, spec)
    model.eval()
    plan = plan_roles(model)
    gptq_entries = []
    for entry in plan:
        config = spec.config(entry.role)
        if config is None:
            continue
        parametrize.register_parametrization(entry.module, entry.parameter, _parameter_quantizer(entry, config))
        if config.method == "gptq":
            if supports_gptq(entry.module) and entry.parameter == "weight":
                gptq_entries.append(entry)
            else:
                warnings.warn(
                    f"{entry.name}: GPTQ covers nn.Linear and plain nn.Conv2d weights; this "
                    f"{type(entry.module).__name__} {entry.role} uses round-to-nearest",
                    stacklevel=2,
                )
    if gptq_entries:
        _run_gptq(model, gptq_entries, batches, progress, snapshot)
    input_config = spec.config("input")
    if input_config is not None:
        observers = []
        for _, module in plan.input_modules:
            anchor = next(module.parameters())
            inner = make_quantizer(input_config.bits, input_config.symmetric, None, 1, input_config.qat, anchor)
            module.input_quantizer = ActivationQuantizer(inner, input_config.scheme)
            module.register_forward_pre_hook(quantize_input_hook)
            observers.append(module.input_quantizer)
        _forward_all(model, batches, "calibrate", progress)
        for observer in observers:
            observer.finish_calibration()
    return model.train(training)


def quantizer_modules(model: nn.Module) -> dict[str, nn.Module]:
    """Every quantiser of a quantised model by name: parameter quantisers as ``<module>.<param>``,
    input quantisers as ``<module>.input``, readout quantisers as ``<module>.readout``."""
    found: dict[str, nn.Module] = {}
    for name, module in model.named_modules():
        prefix = f"{name}." if name else ""
        if parametrize.is_parametrized(module):
            for param_name, plist in module.parametrizations.items():
                found[prefix + param_name] = plist[0]
        if isinstance(getattr(module, "input_quantizer", None), ActivationQuantizer):
            found[prefix + "input"] = module.input_quantizer
        if isinstance(module, QuantizedQKANLayer) and module.readout_quantizer is not None:
            found[prefix + "readout"] = module.readout_quantizer
    return found
