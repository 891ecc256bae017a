"""A text drawing of a circuit: one wire per qubit, one column per op.

It reads a circuit's attributes only (``name``, ``n_qubits``, ``ops``, ``readout``, ``data_reps``)
and imports nothing of circuits/circuit.py, which uses it for ``Circuit.__str__``.
"""

from __future__ import annotations

from typing import Any, Optional, Protocol, Sequence


class Drawable(Protocol):
    """What :func:`draw` reads: a Circuit, or anything shaped like one."""

    @property
    def name(self) -> str: ...
    @property
    def n_qubits(self) -> int: ...
    @property
    def ops(self) -> Sequence[Any]: ...
    @property
    def readout(self) -> Optional[Any]: ...
    @property
    def data_reps(self) -> int: ...


def _labels(op: Any) -> dict[int, str]:
    """The text each of an op's qubits shows in the op's column."""
    if op.kind == "cnot":
        return {op.qubits[0]: "●", op.qubits[1]: "⊕"}
    if op.kind == "cz":
        return {op.qubits[0]: "●", op.qubits[1]: "●"}
    name = op.kind.upper()
    return {op.qubits[0]: f"{name}({op.angle})" if op.angle is not None else name}


def draw(circuit: Drawable) -> str:
    """Return the drawing as a string (``print(circuit)`` shows it)."""
    n = circuit.n_qubits
    rows = [f"q{q}: ─" for q in range(n)]
    width = max(len(r) for r in rows)
    rows = [r.rjust(width) for r in rows]
    for op in circuit.ops:
        labels = _labels(op)
        span = range(min(op.qubits), max(op.qubits) + 1)
        cell = max(len(s) for s in labels.values())
        for q in range(n):
            if q in labels:
                text = labels[q].center(cell, "─")
            elif q in span:
                text = "│".center(cell, "─")
            else:
                text = "─" * cell
            rows[q] += text + "─"
    if circuit.readout is not None:
        mark = "⟨Z⟩" if circuit.readout.kind == "z" else "|a|-|b|"
        rows[circuit.readout.qubit] += " " + mark
    title = f"{circuit.name}: {n} qubit(s), {len(circuit.ops)} ops, reps={circuit.data_reps}"
    return "\n".join([title] + rows)
