"""``solver="qiskit"``: edge circuits on qiskit-aer, one transpiled parametrised template per layer circuit,
every angle row bound in one job: SamplerV2 for counts; for shots=None the simulator's saved probabilities of
the readout qubit (EstimatorV2's <Z> would give P(1) = (1 - <Z>) / 2, whose cancellation costs the amp readout
half its digits at the poles)."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from qkan.circuits import Circuit

from .executor import Executor
from .mitigation import check_mitigation, corrected_probability, folded, richardson_weights, scales
from .solver import COMMON_OPTIONS, HardwareSolver

QISKIT_GATES = {
    **{name: name for name in ("h", "x", "y", "z", "s", "rx", "ry", "rz", "cz")},
    "cnot": "cx",
}


def qiskit_template(circuit: Circuit, measure: bool) -> Any:
    """The circuit as a qiskit QuantumCircuit whose j-th rotation angle is parameter t[j] (our qubit q is
    qiskit's qubit q); ``measure`` adds a measurement of the readout qubit into one classical bit."""
    from qiskit.circuit import ParameterVector, QuantumCircuit

    rotations = sum(op.angle is not None for op in circuit.ops)
    t = ParameterVector("t", rotations)
    qc = QuantumCircuit(circuit.n_qubits, 1 if measure else 0)
    j = 0
    for op in circuit.ops:
        method = getattr(qc, QISKIT_GATES[op.spec.name])
        if op.angle is None:
            method(*op.qubits)
        else:
            method(t[j], *op.qubits)
            j += 1
    if measure:
        qc.measure(circuit.measured.qubit, 0)
    return qc


class QiskitExecutor(Executor):
    """(P(0), P(1)) from qiskit-aer: exact (statevector, or density matrix under a noise model) or sampled counts."""

    def __init__(self, circuit: Circuit, options: Mapping[str, Any]):
        from qiskit import transpile
        from qiskit_aer import AerSimulator
        from qiskit_aer.noise import NoiseModel

        super().__init__(circuit, options["shots"], options["job_rows"], options["progress"])
        noise = options["noise"]
        if noise is not None and not isinstance(noise, NoiseModel):
            raise TypeError(
                f"noise for solver 'qiskit' must be a qiskit_aer.noise.NoiseModel, got {type(noise).__name__}"
            )
        check_mitigation(options["mitigation"], self.shots)
        self.noise, self.seed, self.mitigation = noise, options["seed"], options["mitigation"]
        self.scales = scales(self.mitigation)
        method = "density_matrix" if noise is not None and self.shots is None else "automatic"
        self.backend_options = {"method": method, "noise_model": noise}
        backend = AerSimulator(**self.backend_options)
        template = qiskit_template(circuit, measure=self.shots is not None)
        self.templates = [transpile(folded(template, s), backend, optimization_level=0) for s in self.scales]
        self.calibration: tuple[float, float] | None = None

    @property
    def circuits_per_row(self) -> int:
        return len(self.scales)

    def _sample(self, template: Any, angles: np.ndarray) -> np.ndarray:
        """(rows, 2) frequencies of 0 and 1 in ``shots`` samples per row."""
        from qiskit_aer.primitives import SamplerV2

        sampler = SamplerV2(default_shots=self.shots, seed=self.seed, options={"backend_options": self.backend_options})
        values = angles if template.num_parameters else None
        result = sampler.run([(template, values)]).result()[0]
        bits = result.data[template.cregs[0].name].array[..., 0] & 1  # (rows, shots) or (shots,)
        ones = bits.reshape(-1, self.shots).mean(axis=1)
        return np.stack([1.0 - ones, ones], -1)

    def _exact(self, template: Any, angles: np.ndarray) -> np.ndarray:
        """(rows, 2) probabilities of the readout qubit, without sampling (density matrix under noise)."""
        from qiskit_aer import AerSimulator

        circuit = template.copy()
        circuit.save_probabilities([self.circuit.measured.qubit], label="p")
        backend = AerSimulator(**self.backend_options)
        binds = [{p: angles[:, j] for j, p in enumerate(template.parameters)}] if template.num_parameters else None
        result = backend.run(circuit, parameter_binds=binds, seed_simulator=self.seed).result()
        return np.array([result.data(k)["p"] for k in range(len(result.results))])

    def _calibrate(self) -> tuple[float, float]:
        """P(0 | prepared 0) and P(0 | prepared 1) of the readout qubit under the noise model (two circuits)."""
        from qiskit import QuantumCircuit

        if self.calibration is None:
            measured = []
            for flip in (False, True):
                qc = QuantumCircuit(self.circuit.n_qubits, 1)
                if flip:
                    qc.x(self.circuit.measured.qubit)
                qc.measure(self.circuit.measured.qubit, 0)
                measured.append(float(self._sample(qc, np.zeros((1, 0)))[0, 0]))
            self.submitted.circuits += 2
            self.submitted.shots += 2 * (self.shots or 0)
            self.submitted.jobs += 2
            self.calibration = (measured[0], measured[1])
        return self.calibration

    def _run(self, angles: np.ndarray) -> np.ndarray:
        rows = angles.shape[0]
        per_scale = []
        for template in self.templates:
            p = self._exact(template, angles) if self.shots is None else self._sample(template, angles)
            p = np.broadcast_to(p, (rows, 2))
            if self.mitigation is not None and "readout" in self.mitigation:
                p0 = corrected_probability(p[:, 0], *self._calibrate())
                p = np.stack([p0, 1 - p0], -1)
            per_scale.append(p)
        if len(per_scale) == 1:
            return per_scale[0]
        return np.einsum("s,srk->rk", richardson_weights(self.scales), np.stack(per_scale))


class QiskitSolver(HardwareSolver):
    """qiskit-aer: any IR circuit, exact or sampled, with an optional NoiseModel and mitigation."""

    name = "qiskit"
    extra = "qiskit"
    module = "qiskit_aer"
    gates = QISKIT_GATES
    options = {**COMMON_OPTIONS, "mitigation": None}

    def executor(self, circuit: Circuit, options: Mapping[str, Any]) -> QiskitExecutor:
        return QiskitExecutor(circuit, options)

    def circuits_per_row(self, options: Mapping[str, Any]) -> int:
        return len(scales(options["mitigation"]))
