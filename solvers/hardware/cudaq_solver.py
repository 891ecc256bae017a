"""``solver="cudaq"``: edge circuits as one NVIDIA CUDA-Q kernel (a builder kernel whose one argument is the list of
rotation angles), on the current CUDA-Q target or the one named by ``target`` (a simulator such as ``qpp-cpu`` or
``nvidia``, or a hardware service reached with ``url``/``executor``/``api_key``/``machine``). ``parallel_qubits``
packs copies of the circuit side by side in one kernel, so one launch evaluates several angle rows."""

from __future__ import annotations

import math
from typing import Any, Mapping, Optional

import numpy as np

from qkan.circuits import Circuit

from .executor import Executor
from .solver import COMMON_OPTIONS, HardwareSolver, positive_int_or_none

CUDAQ_GATES = {**{name: name for name in ("h", "x", "y", "z", "s", "rx", "ry", "rz", "cz")}, "cnot": "cx"}
TARGET_KEYWORDS = ("url", "executor", "api_key", "machine")  # handed to cudaq.set_target with the target
CUDAQ_OPTIONS: dict[str, Any] = {
    **COMMON_OPTIONS,
    "target": None,  # a CUDA-Q target name; None keeps the current target (qpp-cpu where there is no GPU)
    **{keyword: None for keyword in TARGET_KEYWORDS},
    "parallel_qubits": None,  # qubits per launch: that many // n_qubits copies of the circuit side by side
    "expectation_via_sample": None,  # published: <Z> from counts; shots here are always read from counts
}


def check_cudaq_options(options: Mapping[str, Any]) -> None:
    """TypeError/ValueError naming a bad CUDA-Q option (nothing here needs cudaq installed)."""
    for name in ("target", *TARGET_KEYWORDS):
        if options[name] is not None and not isinstance(options[name], str):
            raise TypeError(f"{name} for solver 'cudaq' must be a string or None, got {options[name]!r}")
    if options["target"] is None and any(options[k] is not None for k in TARGET_KEYWORDS):
        given = [k for k in TARGET_KEYWORDS if options[k] is not None]
        raise ValueError(f"{given} configure a CUDA-Q target: pass target= too (e.g. target='quantum_machines')")
    positive_int_or_none("parallel_qubits", options["parallel_qubits"])
    via_sample = options["expectation_via_sample"]
    if via_sample not in (None, True, False):
        raise TypeError(f"expectation_via_sample must be True, False or None, got {via_sample!r}")
    if options["noise"] is not None:
        raise ValueError("solver 'cudaq' takes no noise model (noise=None); use solver='qiskit' or 'pennylane'")


def cudaq_kernel(circuit: Circuit, copies: int) -> Any:
    """``copies`` side-by-side copies of the circuit as a CUDA-Q builder kernel of one list argument: copy c acts
    on qubits c * n_qubits + q and takes its j-th rotation angle from element c * rotations + j."""
    import cudaq

    kernel, angles = cudaq.make_kernel(list)
    qubits = kernel.qalloc(copies * circuit.n_qubits)
    rotations = sum(op.angle is not None for op in circuit.ops)
    for copy in range(copies):
        wire = [qubits[copy * circuit.n_qubits + q] for q in range(circuit.n_qubits)]
        j = copy * rotations
        for op in circuit.ops:
            gate = getattr(kernel, CUDAQ_GATES[op.spec.name])
            if op.angle is None:
                gate(*(wire[q] for q in op.qubits))
            else:
                gate(angles[j], wire[op.qubits[0]])
                j += 1
    return kernel


def readout_marginals(state: np.ndarray, qubits: list[int], width: int) -> np.ndarray:
    """(len(qubits), 2) P(0), P(1) of each listed qubit from a state vector or density matrix of ``width`` qubits
    (CUDA-Q orders amplitudes with qubit k as bit k of the index)."""
    probabilities = np.abs(state) ** 2 if state.ndim == 1 else np.real(np.diagonal(state))
    tensor = probabilities.reshape((2,) * width)  # axis width - 1 - k is qubit k
    return np.array([tensor.sum(axis=tuple(a for a in range(width) if a != width - 1 - k)) for k in qubits])


class CudaqExecutor(Executor):
    """(P(0), P(1)) of the readout qubit per angle row: from the target's state (shots=None; squared amplitudes,
    so sqrt(P) stays accurate at the poles) or from ``cudaq.sample`` counts, seeded per job by ``seed``."""

    def __init__(self, circuit: Circuit, options: Mapping[str, Any]):
        import cudaq

        super().__init__(circuit, options["shots"], options["job_rows"], options["progress"])
        self.target: Optional[str] = options["target"]
        self.target_options = {k: options[k] for k in TARGET_KEYWORDS if options[k] is not None}
        if self.target is not None and not cudaq.has_target(self.target):
            known = sorted(t.name for t in cudaq.get_targets())
            raise ValueError(f"unknown CUDA-Q target {self.target!r}; known here: {known}")
        if self.target is not None and not cudaq.get_target(self.target).simulator and self.shots is None:
            raise ValueError(f"CUDA-Q target {self.target!r} runs on hardware, which samples: pass shots=<int>")
        packing = options["parallel_qubits"] or circuit.n_qubits
        if packing < circuit.n_qubits:
            raise ValueError(f"parallel_qubits={packing} is fewer than the circuit's {circuit.n_qubits} qubits")
        self.copies = packing // circuit.n_qubits
        self.width = self.copies * circuit.n_qubits
        self.readouts = [c * circuit.n_qubits + circuit.measured.qubit for c in range(self.copies)]
        self.seed = options["seed"]
        self.kernel = cudaq_kernel(circuit, self.copies)

    def jobs(self, rows: int) -> int:
        return math.ceil(rows / self.copies)  # one kernel launch per group of copies

    def _launch(self, packed: list[float]) -> np.ndarray:
        """(copies, 2) probabilities of every copy's readout qubit in one kernel launch."""
        import cudaq

        if self.shots is None:
            state = np.asarray(cudaq.get_state(self.kernel, packed))
            return readout_marginals(state, self.readouts, self.width)
        counts = cudaq.sample(self.kernel, packed, shots_count=self.shots)
        ones = [counts.get_marginal_counts([q]).count("1") / self.shots for q in self.readouts]
        return np.stack([1.0 - np.array(ones), np.array(ones)], -1)

    def _run(self, angles: np.ndarray) -> np.ndarray:
        import cudaq

        if self.target is not None:  # CUDA-Q's target is process-wide: set it for every job of this layer
            cudaq.set_target(self.target, **self.target_options)
        if self.seed is not None:
            cudaq.set_random_seed(self.seed)
        rows, launches = angles.shape[0], self.jobs(angles.shape[0])
        padded = np.zeros((launches * self.copies, angles.shape[1]))
        padded[:rows] = angles
        packed = padded.reshape(launches, -1)
        return np.concatenate([self._launch(row.tolist()) for row in packed])[:rows]


class CudaqSolver(HardwareSolver):
    """NVIDIA CUDA-Q: any IR circuit on a CUDA-Q simulator target (exact or sampled) or a hardware target."""

    name = "cudaq"
    extra = "cudaq"
    module = "cudaq"
    gates = CUDAQ_GATES
    options = CUDAQ_OPTIONS

    def check_option_values(self, options: Mapping[str, Any]) -> None:
        super().check_option_values(options)
        check_cudaq_options(options)

    def executor(self, circuit: Circuit, options: Mapping[str, Any]) -> CudaqExecutor:
        return CudaqExecutor(circuit, options)
