"""A text drawing of a circuit: one wire per qubit, one column per op."""
from __future__ import annotations

from .circuit import Circuit


def _labels(circuit: Circuit, op) -> dict[int, str]:
    if op.kind == "cnot":
        return {op.qubits[0]: "●", op.qubits[1]: "⊕"}
    if op.kind == "cz":
        return {op.qubits[0]: "●", op.qubits[1]: "●"}
    name = op.kind.upper()
    return {op.qubits[0]: f"{name}({op.angle})" if op.angle is not None else name}


def draw(circuit: Circuit) -> str:
    """Return the drawing as a string (``print(circuit)`` shows it)."""
    n = circuit.n_qubits
    rows = [f"q{q}: ─" for q in range(n)]
    width = max(len(r) for r in rows)
    rows = [r.rjust(width) for r in rows]
    for op in circuit.ops:
        labels = _labels(circuit, op)
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
