"""``solver="auto"``: per layer and per batch size, pick the solver from the device, what each
solver supports and its estimated memory against free memory; :func:`explain` says why.

The rule (documented in the README): on CUDA, flash when it supports the circuit (its extra
memory is O(B*(O+I))); otherwise exact when its estimate fits in AUTO_MEMORY_FRACTION of free
memory; otherwise cutn (it slices its contraction under a memory limit). On CPU: exact when it
fits, else cutn.
"""
from __future__ import annotations

import os
import torch

from qkan.circuits import Circuit

from .base import LayerGeometry, LayerParams, Program

AUTO_MEMORY_FRACTION = 0.8


def free_memory(device: torch.device) -> int:
    """Free bytes on ``device``: the CUDA allocator's view on GPU, available RAM on CPU."""
    if device.type == "cuda":
        free, _ = torch.cuda.mem_get_info(device)
        return int(free + torch.cuda.memory_reserved(device) - torch.cuda.memory_allocated(device))
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def _decide(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device,
            batch: int) -> tuple[str, list[str]]:
    from .registry import get_solver, ranked_solvers

    free = free_memory(device)
    lines = [f"device {device}, batch {batch}, free memory {free / 2**20:.0f} MiB"]
    choice = None
    for name in ranked_solvers(device.type):
        solver = get_solver(name)
        reason = solver.unsupported_reason(circuit, geometry, dtype, device)
        if reason:
            lines.append(f"- {name}: cannot run ({reason})")
            continue
        need = solver.estimate_bytes(circuit, geometry, dtype, batch)
        fits = solver.bounded_memory or need <= AUTO_MEMORY_FRACTION * free
        lines.append(f"- {name}: supported, estimated {need / 2**20:.1f} MiB per train step"
                     + ("" if fits else f" > {AUTO_MEMORY_FRACTION:.0%} of free memory"))
        if choice is None and fits:
            choice = name
    if choice is None:
        raise ValueError("no solver can run this layer here:\n" + "\n".join(lines))
    lines.append(f"chosen: {choice}")
    return choice, lines


def choose(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device,
           batch: int = 1) -> str:
    """The solver ``auto`` runs for this layer at this batch size."""
    return _decide(circuit, geometry, dtype, device, batch)[0]


def explain(circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device, batch: int) -> str:
    """A few lines saying which solvers can run the layer, their memory estimates and the choice."""
    return "\n".join(_decide(circuit, geometry, dtype, torch.device(device), batch)[1])


class AutoProgram(Program):
    """Dispatches each call to the solver chosen for its batch size (each compiled once)."""

    def __init__(self, circuit: Circuit, geometry: LayerGeometry, dtype: torch.dtype, device: torch.device,
                 **options):
        super().__init__(circuit, geometry, dtype, device)
        self.options = options
        self.chosen: dict[int, str] = {}
        self._by_batch: dict[int, Program] = {}

    def program_for(self, batch: int) -> Program:
        from .registry import accepted_options, compile as compile_program

        if batch not in self._by_batch:
            name = self.chosen[batch] = choose(self.circuit, self.geometry, self.dtype, self.device, batch)
            accepted = accepted_options(name)  # each solver gets the options it takes (fourier: flash only)
            options = {k: v for k, v in self.options.items() if k in accepted}
            self._by_batch[batch] = compile_program(name, self.circuit, self.geometry, self.dtype, self.device,
                                                    **options)
        return self._by_batch[batch]

    def layer_output(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.program_for(x.shape[0]).layer_output(x, params)

    def edge_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.program_for(x.shape[0]).edge_values(x, params)

    def circuit_values(self, x: torch.Tensor, params: LayerParams) -> torch.Tensor:
        return self.program_for(x.shape[0]).circuit_values(x, params)
