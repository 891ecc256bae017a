"""``solver="pennylane"``: edge circuits on a PennyLane device (default.qubit, lightning.qubit, or
default.mixed for noise), every angle row in one broadcast QNode call."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from qkan.circuits import Circuit

from .executor import Executor
from .solver import COMMON_OPTIONS, HardwareSolver

PENNYLANE_GATES = {
    "h": "Hadamard",
    "x": "PauliX",
    "y": "PauliY",
    "z": "PauliZ",
    "s": "S",
    "rx": "RX",
    "ry": "RY",
    "rz": "RZ",
    "cnot": "CNOT",
    "cz": "CZ",
}
PENNYLANE_DEVICES = ("default.qubit", "lightning.qubit", "default.mixed")
NOISY_DEVICE = "default.mixed"  # the device here that applies noise channels


class PennyLaneExecutor(Executor):
    """(P(0), P(1)) from ``qml.probs`` of the readout qubit, exact (shots=None) or sampled with the device's seed."""

    def __init__(self, circuit: Circuit, options: Mapping[str, Any]):
        import pennylane as qml

        super().__init__(circuit, options["shots"], options["job_rows"], options["progress"])
        name, noise = options["backend"], options["noise"]
        if name not in PENNYLANE_DEVICES:
            raise ValueError(f"unknown PennyLane device {name!r}; expected one of {PENNYLANE_DEVICES}")
        if noise is not None and not isinstance(noise, qml.NoiseModel):
            raise TypeError(f"noise for solver 'pennylane' must be a pennylane.NoiseModel, got {type(noise).__name__}")
        if noise is not None and name != NOISY_DEVICE:
            raise ValueError(f"noise needs backend={NOISY_DEVICE!r} (it applies channels), got backend={name!r}")
        self.name, self.noise, self.seed = name, noise, options["seed"]
        self._qnode()  # a device this machine lacks is named here, not at the first forward

    def _qnode(self) -> Any:
        """A QNode on a fresh device seeded with ``seed``: every job with the same angles and seed samples alike
        (as qiskit's seeded sampler), whichever jobs ran before."""
        import pennylane as qml

        try:
            device = qml.device(self.name, wires=self.circuit.n_qubits, seed=self.seed)
        except qml.exceptions.DeviceError as err:
            raise ValueError(f"PennyLane device {self.name!r} is not available here: {err}") from err
        qnode = qml.QNode(self._tape, device, diff_method=None)
        qnode = qnode if self.noise is None else qml.add_noise(qnode, self.noise)
        return qnode if self.shots is None else qml.set_shots(qnode, shots=self.shots)

    def _tape(self, angles: Any) -> Any:
        import pennylane as qml

        j = 0
        for op in self.circuit.ops:
            gate = getattr(qml, PENNYLANE_GATES[op.spec.name])
            if op.angle is None:
                gate(wires=list(op.qubits))
            else:
                gate(angles[:, j], wires=op.qubits[0])
                j += 1
        return qml.probs(wires=[self.circuit.measured.qubit])

    def _run(self, angles: np.ndarray) -> np.ndarray:
        probs = np.asarray(self._qnode()(angles), dtype=float)
        return np.broadcast_to(probs.reshape(-1, 2), (angles.shape[0], 2)).copy()


class PennyLaneSolver(HardwareSolver):
    """PennyLane: any IR circuit on default.qubit / lightning.qubit (exact or sampled) or default.mixed (noise)."""

    name = "pennylane"
    extra = "pennylane"
    module = "pennylane"
    gates = PENNYLANE_GATES
    options = {**COMMON_OPTIONS, "backend": "default.qubit"}

    def executor(self, circuit: Circuit, options: Mapping[str, Any]) -> PennyLaneExecutor:
        return PennyLaneExecutor(circuit, options)
