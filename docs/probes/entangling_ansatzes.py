"""The circuits of the multi-qubit flash targets, for ``qkan bench --ansatz docs/probes/entangling_ansatzes.py:NAME``:
``ring4`` (a function of reps: H, then per re-upload RY(theta) RZ(x) on each of 4 qubits and a CNOT ring, z on
qubit 0; the circuit of docs/probes/cutn_memory_probe.py) and ``two_qubit`` (README's "design your own ansatz"
circuit). Runs on the CPU: prints both."""

from qkan.circuits import Circuit, data, theta


def ring4(reps: int = 3) -> Circuit:
    c = Circuit(4)
    for q in range(4):
        c = c.h(q)
    for r in range(reps):
        for q in range(4):
            c = c.ry(q, theta(r, q)).rz(q, data(r))
        for q in range(4):
            c = c.cnot(q, (q + 1) % 4)
    for q in range(4):
        c = c.ry(q, theta(reps, q))
    return c.measure("z", qubit=0).named("ring4")


two_qubit = (
    Circuit(2)
    .h(0)
    .h(1)
    .ry(0, theta(0, 0))
    .rz(0, data(0))
    .ry(1, theta(0, 1))
    .rz(1, 2 * data(0, "affine"))
    .cnot(0, 1)
    .ry(0, theta(1, 0))
    .ry(1, theta(1, 1))
    .measure("z", qubit=0)
    .named("entangled")
)

if __name__ == "__main__":
    print(ring4(3))
    print(two_qubit)
