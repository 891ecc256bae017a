"""The exact solver: a plain torch statevector simulation, the trusted reference for any circuit."""

from __future__ import annotations

from typing import Any, Callable, Optional

import torch
from torch.utils.checkpoint import checkpoint as torch_checkpoint

from qkan.circuits import Circuit, FusedBlock, Op, fuse_parameter_gates

from .base import LayerGeometry, LayerParams, Program, Solver
from .layer_math import DataAngles, evaluate_angle, expand_edges, layer_sum
from .statevector import (
    COMPLEX_OF,
    apply_fixed,
    apply_single,
    apply_single_diagonal,
    fixed_matrix,
    pauli_pair,
    readout,
    rotation_matrix,
    rz_phases,
)

MAX_EXACT_QUBITS = 12


class ExactProgram(Program):
    """Simulates all edges at once on an (O, I, 2^n, B) state; parameter-only blocks become one
    (O, I, 2, 2) matrix per call, data gates are applied per sample."""

    def __init__(
        self,
        circuit: Circuit,
        geometry: LayerGeometry,
        dtype: torch.dtype,
        device: torch.device,
        checkpoint: bool,
    ):
        super().__init__(circuit, geometry, dtype, device)
        self.cdtype = COMPLEX_OF[dtype]
        self.segments = fuse_parameter_gates(circuit)
        self.checkpoint = checkpoint
        # the gates' constant tensors, made here once: a forward (traced by torch.compile too) only reads them
        specs = {op.spec.name: op.spec for op in circuit.ops}
        self.fixed = {
            name: fixed_matrix(spec, self.cdtype, device) for name, spec in specs.items() if not spec.parametric
        }
        self.generators = {
            spec.axis: pauli_pair(spec.axis, self.cdtype, device) for spec in specs.values() if spec.parametric
        }

    # ----- one gate or block --------------------------------------------------------
    def _op_matrix(self, op: Op, theta: torch.Tensor, data: Optional[Callable]) -> torch.Tensor:
        spec = op.spec
        if not spec.parametric:
            return self.fixed[spec.name].reshape(1, 1, 1, 2, 2)
        return rotation_matrix(self.generators[spec.axis], evaluate_angle(op.rotation_angle, theta, data), self.cdtype)

    def _block_matrix(self, block: FusedBlock, theta: torch.Tensor) -> torch.Tensor:
        matrix = self._op_matrix(block.ops[0], theta, None)  # a block holds one gate or more
        for op in block.ops[1:]:
            matrix = self._op_matrix(op, theta, None) @ matrix
        return matrix

    def _apply(self, state: torch.Tensor, item, theta: torch.Tensor, data: Callable) -> torch.Tensor:
        n = self.circuit.n_qubits
        if isinstance(item, FusedBlock):
            return apply_single(state, self._block_matrix(item, theta), item.qubit, n)
        spec = item.spec
        if spec.n_qubits > 1:
            return apply_fixed(state, self.fixed[spec.name], item.qubits, n)
        if spec.name == "rz":
            return apply_single_diagonal(
                state, rz_phases(evaluate_angle(item.angle, theta, data), self.cdtype), item.qubits[0], n
            )
        return apply_single(state, self._op_matrix(item, theta, data), item.qubits[0], n)

    # ----- the simulation -----------------------------------------------------------
    def _simulate(self, x: torch.Tensor, *tensors: torch.Tensor) -> torch.Tensor:
        params = LayerParams(*tensors)
        theta = expand_edges(params.theta, self.geometry).unsqueeze(2)  # (O, I, 1, *theta_shape)
        batch_first = DataAngles(x, params, self.geometry)

        def data(slot) -> torch.Tensor:  # (B, O|1, I) -> (O|1, I, B)
            return batch_first(slot).permute(1, 2, 0)

        state = torch.zeros(1, 1, 2**self.circuit.n_qubits, 1, dtype=self.cdtype, device=self.device)
        state[:, :, 0] = 1
        for item in self.segments:
            state = self._apply(state, item, theta, data)
        f = readout(state, self.circuit.measured.kind, self.circuit.measured.qubit, self.circuit.n_qubits, axis=2)
        return f.permute(2, 0, 1).expand(x.shape[0], self.geometry.out_dim, self.geometry.in_dim)

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        if self.checkpoint:
            return torch_checkpoint(self._simulate, x, *params, use_reentrant=False)
        return self._simulate(x, *params)

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return layer_sum(self.circuit_values(x, params), x, params, self.geometry)


class ExactSolver(Solver):
    """Reference statevector backend: any circuit up to MAX_EXACT_QUBITS, CPU or GPU, fp32/fp64."""

    name = "exact"
    options = {"checkpoint": False}
    auto_rank = {"cuda": 1, "cpu": 0}

    def unsupported_reason(self, circuit, geometry, dtype, device) -> Optional[str]:
        if circuit.n_qubits > MAX_EXACT_QUBITS:
            return f"exact simulates at most {MAX_EXACT_QUBITS} qubits, the circuit has {circuit.n_qubits}; use cutn"
        if dtype not in COMPLEX_OF:
            return f"exact computes in float32 or float64, got {dtype}"
        return None

    def build(self, circuit, geometry, dtype, device, **options: Any) -> ExactProgram:
        """``checkpoint``: recompute the statevector in the backward instead of keeping it."""
        return ExactProgram(circuit, geometry, dtype, device, checkpoint=options["checkpoint"])

    def estimate_bytes(self, circuit, geometry, dtype, batch) -> int:
        """Autograd keeps one complex state per applied segment, plus the data angles."""
        real = torch.finfo(dtype).bits // 8
        edges = batch * geometry.out_dim * geometry.in_dim
        states = len(fuse_parameter_gates(circuit)) + 3
        return edges * (2**circuit.n_qubits) * 2 * real * states + edges * real * 2 * max(circuit.data_reps, 1)
