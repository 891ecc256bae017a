"""Quantisation of QKAN, HQKAN models and the classical baselines: branch-aware PTQ and QAT.

Usage::

    from qkan.quant import quantize, parse_spec, export_quantized
    qmodel = quantize(model, parse_spec("W8A8"), calibration=x_calib)   # fake-quant forward
    tensors = export_quantized(qmodel)                                   # integer codes + scales
"""

from .activation import ActivationQuantizer
from .convert import quantize, quantizer_modules
from .export import ActivationGrid, QuantizedTensor, export_quantized
from .gptq import gptq_quantize
from .periodic import PeriodicQuantizer
from .periods import gate_function_period, theta_periods
from .qkan_layer import QuantizedQKANLayer
from .quantizers import DSQQuantizer, LSQQuantizer, UniformQuantizer
from .roles import plan_roles, register_roles
from .sensitivity import role_sensitivity, roles_in
from .spec import ROLES, QuantizerConfig, QuantSpec, parse_spec, uniform_spec

__all__ = [
    "ActivationGrid",
    "ActivationQuantizer",
    "DSQQuantizer",
    "LSQQuantizer",
    "PeriodicQuantizer",
    "QuantSpec",
    "QuantizedQKANLayer",
    "QuantizedTensor",
    "QuantizerConfig",
    "ROLES",
    "UniformQuantizer",
    "export_quantized",
    "gate_function_period",
    "gptq_quantize",
    "parse_spec",
    "plan_roles",
    "quantize",
    "quantizer_modules",
    "register_roles",
    "role_sensitivity",
    "roles_in",
    "theta_periods",
    "uniform_spec",
]
