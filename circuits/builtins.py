"""The published ansatzes (docs/math.md, "Built-in ansatzes") and two entangling rings as ordinary Circuits, built
by functions of ``reps``."""

from __future__ import annotations

from typing import Callable

from .angles import data, theta
from .circuit import Circuit


def pz(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RZ(θ[l,0]) RY(θ[l,1]) RZ(φ_l), then RZ(θ[R,0]) RY(θ[R,1])."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 2), name="pz").h(0)
    for l in range(reps):
        c = c.rz(0, theta(l, 0)).ry(0, theta(l, 1)).rz(0, data(l))
    return c.rz(0, theta(reps, 0)).ry(0, theta(reps, 1)).measure(readout)


def rpz(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RY(θ[l,0]) RZ(w x + c), then RY(θ[R,0]); pre-activations always on."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 1), name="rpz").h(0)
    for l in range(reps):
        c = c.ry(0, theta(l, 0)).rz(0, data(l, "affine"))
    return c.ry(0, theta(reps, 0)).measure(readout)


def real(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload X RY(θ[l,0]) Z RY(φ_l); no final layer; real arithmetic only."""
    c = Circuit(1, reps=reps, theta_shape=(reps, 1), name="real").h(0)
    for l in range(reps):
        c = c.x(0).ry(0, theta(l, 0)).z(0).ry(0, data(l))
    return c.measure(readout)


def px(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RZ(θ[l,0]) RX(arccos(w x + c)), then RZ(θ[R,0])."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 1), name="px").h(0)
    for l in range(reps):
        c = c.rz(0, theta(l, 0)).rx(0, data(l, "arccos"))
    return c.rz(0, theta(reps, 0)).measure(readout)


def mix(reps: int, readout: str = "amp") -> Circuit:
    """H, then per re-upload RZ(θ[l,0]) RX(θ[l,1]) RY(φ_l), then RZ(θ[R,0]) RX(θ[R,1])."""
    c = Circuit(1, reps=reps, theta_shape=(reps + 1, 2), name="mix").h(0)
    for l in range(reps):
        c = c.rz(0, theta(l, 0)).rx(0, theta(l, 1)).ry(0, data(l))
    return c.rz(0, theta(reps, 0)).rx(0, theta(reps, 1)).measure(readout)


def hardware_efficient_ring(n_qubits: int, reps: int, readout: str = "amp") -> Circuit:
    """H on every qubit, then per re-upload on every qubit q RZ(θ[l,q,0]) RY(θ[l,q,1]) RZ(φ_l) followed by a CNOT
    ring (q -> q+1 mod n), then RZ(θ[R,q,0]) RY(θ[R,q,1]); read out on qubit 0. theta per edge: (reps+1, n, 2)."""
    c = Circuit(n_qubits, reps=reps, theta_shape=(reps + 1, n_qubits, 2), name=f"ring{n_qubits}")
    for q in range(n_qubits):
        c = c.h(q)
    for l in range(reps):
        for q in range(n_qubits):
            c = c.rz(q, theta(l, q, 0)).ry(q, theta(l, q, 1)).rz(q, data(l))
        for q in range(n_qubits):
            c = c.cnot(q, (q + 1) % n_qubits)
    for q in range(n_qubits):
        c = c.rz(q, theta(reps, q, 0)).ry(q, theta(reps, q, 1))
    return c.measure(readout)


def ring2(reps: int, readout: str = "amp") -> Circuit:
    """The 2-qubit hardware-efficient ring (CNOT 0->1 then 1->0 per re-upload); theta per edge (reps+1, 2, 2)."""
    return hardware_efficient_ring(2, reps, readout)


def ring3(reps: int, readout: str = "amp") -> Circuit:
    """The 3-qubit hardware-efficient ring (CNOTs 0->1, 1->2, 2->0 per re-upload); theta per edge (reps+1, 3, 2)."""
    return hardware_efficient_ring(3, reps, readout)


BUILTINS: dict[str, Callable[..., Circuit]] = {"pz": pz, "rpz": rpz, "real": real, "px": px, "mix": mix}
ENTANGLING_BUILTINS: dict[str, Callable[..., Circuit]] = {"ring2": ring2, "ring3": ring3}  # more than one qubit
BUILTIN_ALIASES = {"pz_encoding": "pz", "rpz_encoding": "rpz", "px_encoding": "px"}


def builtin(name: str, reps: int, readout: str = "amp") -> Circuit:
    """A built-in ansatz by name or published alias (``pz_encoding`` ...)."""
    key = BUILTIN_ALIASES.get(name, name)
    ansatzes = {**BUILTINS, **ENTANGLING_BUILTINS}
    if key not in ansatzes:
        known = sorted(ansatzes) + sorted(BUILTIN_ALIASES)
        raise ValueError(f"unknown ansatz {name!r}; expected a Circuit or one of {known}")
    if not isinstance(reps, int) or isinstance(reps, bool) or reps < 1:
        raise ValueError(f"reps must be a positive integer, got {reps!r}")
    return ansatzes[key](reps, readout)
