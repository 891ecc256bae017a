"""What the hardware solvers share: their options (one table), the checks on them, the missing-extra and
missing-gate reasons, and the cost report. They are never ``auto`` candidates (empty ``auto_rank``)."""

from __future__ import annotations

import importlib.util
from abc import abstractmethod
from numbers import Integral
from typing import Any, ClassVar, Mapping, Optional

import torch

from qkan.circuits import Circuit

from ..base import LayerGeometry, Solver
from .cost import CostReport, cost_report
from .executor import Executor
from .program import HardwareProgram

EVALUATIONS = ("fourier_nodes", "per_sample")
COMMON_OPTIONS: dict[str, Any] = {
    "shots": None,  # None: exact expectation values; an int: samples per circuit
    "seed": None,  # the sampler's seed (reproducible counts)
    "noise": None,  # the backend's noise model type
    "evaluation": "fourier_nodes",
    "job_rows": None,  # angle rows per submitted job (None: one job per call)
    "progress": False,  # a tqdm bar over jobs
}


def positive_int_or_none(name: str, value: Any) -> None:
    """TypeError/ValueError naming ``name`` unless ``value`` is None or a positive integer."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{name} must be a positive integer or None, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer or None, got {value!r}")


def check_common_options(options: Mapping[str, Any]) -> None:
    """ValueError/TypeError naming a bad shared option (shots, seed, evaluation, job_rows, progress)."""
    positive_int_or_none("shots", options["shots"])
    positive_int_or_none("job_rows", options["job_rows"])
    seed = options["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, Integral) or seed < 0):
        raise ValueError(f"seed must be a non-negative integer or None, got {seed!r}")
    if options["evaluation"] not in EVALUATIONS:
        raise ValueError(f"unknown evaluation {options['evaluation']!r}; expected one of {EVALUATIONS}")
    if not isinstance(options["progress"], bool):
        raise TypeError(f"progress must be True or False, got {options['progress']!r}")


class HardwareSolver(Solver):
    """A backend outside this package (an SDK's simulator or device), reached through an :class:`Executor`."""

    extra: ClassVar[str] = ""  # the optional extra that installs the SDK
    module: ClassVar[str] = ""  # the SDK module whose absence means the extra is missing
    gates: ClassVar[Mapping[str, str]] = {}  # our gate name -> the backend's
    auto_rank: ClassVar[Mapping[str, int]] = {}

    def unsupported_reason(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device
    ) -> Optional[str]:
        if importlib.util.find_spec(self.module) is None:
            return f"{self.name} needs {self.module}: pip install 'qkan-toolkit[{self.extra}]'"
        lacking = sorted({op.spec.name for op in circuit.ops} - set(self.gates))
        if lacking:
            return f"{self.name} has no gate for {lacking}; it runs {sorted(self.gates)}"
        if dtype not in (torch.float32, torch.float64):
            return f"{self.name} returns float32 or float64, got {dtype}"
        return None

    def check_option_values(self, options: Mapping[str, Any]) -> None:
        check_common_options(options)

    @abstractmethod
    def executor(self, circuit: Circuit, options: Mapping[str, Any]) -> Executor:
        """The backend's executor for this circuit, its own options checked."""

    def build(
        self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device, **options: Any
    ) -> HardwareProgram:
        self.check_option_values(options)
        return HardwareProgram(circuit, geometry, dtype, device, self.executor(circuit, options), options["evaluation"])

    def estimate_bytes(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, batch: int) -> int:
        """The host's angle rows and their parameter-shift copies (float64)."""
        report = cost_report(circuit, geometry, batch, "per_sample", None)
        rotations = sum(op.angle is not None for op in circuit.ops)
        return 8 * (report.circuits_forward + report.circuits_backward) * max(rotations, 1)

    def circuits_per_row(self, options: Mapping[str, Any]) -> int:
        """Circuits per angle row with these options (mitigation may fold)."""
        return 1

    def layer_cost(
        self, circuit: Circuit, geometry: LayerGeometry, batch: int, options: Mapping[str, Any]
    ) -> CostReport:
        """Circuits and shots of one forward and backward of a layer at ``batch`` with these options."""
        options = {**self.options, **options}
        self.check_option_values(options)
        evaluation, shots = options["evaluation"], options["shots"]
        return cost_report(circuit, geometry, batch, evaluation, shots, self.circuits_per_row(options))

    def cost(self, layer: Any, batch: int) -> CostReport:
        """The cost of ``layer`` (a QKANLayer, with its solver_kwargs) at ``batch``."""
        return self.layer_cost(layer.circuit, layer.geometry, batch, layer.solver_kwargs)

    def describe(self, circuit: Circuit, geometry: LayerGeometry, batch: int, options: Mapping[str, Any]) -> list[str]:
        return [str(self.layer_cost(circuit, geometry, batch, options))]
