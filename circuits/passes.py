"""Circuit passes: grouping parameter-only gates into fusable blocks."""

from __future__ import annotations

from dataclasses import dataclass

from .circuit import Circuit, Op


@dataclass(frozen=True)
class FusedBlock:
    """Adjacent single-qubit gates on one qubit whose angles use no data: one SU(2) per edge."""

    qubit: int
    ops: tuple[Op, ...]


def fuse_parameter_gates(circuit: Circuit) -> tuple[Op | FusedBlock, ...]:
    """Split the op list into data-dependent/multi-qubit ops and fused parameter-only blocks.

    A block collects consecutive single-qubit ops on the same qubit that do not depend
    on data; backends evaluate a block once per edge (never per sample) as a product of
    2x2 matrices (or quaternions), never re-expressed as Euler angles.
    """
    out: list[Op | FusedBlock] = []
    run: list[Op] = []

    def flush() -> None:
        if run:
            out.append(FusedBlock(run[0].qubits[0], tuple(run)))
            run.clear()

    for op in circuit.ops:
        fusable = op.spec.n_qubits == 1 and not op.depends_on_data
        if fusable and (not run or run[0].qubits == op.qubits):
            run.append(op)
            continue
        flush()
        if fusable:
            run.append(op)
        else:
            out.append(op)
    flush()
    return tuple(out)
