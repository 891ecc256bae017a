"""Which built-in ansatzes ``refine`` can give more re-uploads without changing the function, and why the
others cannot. Refine turns the old final trainable rotation into re-upload R's and appends re-uploads with
zero angles; that keeps the function only where each new data rotation is an RZ right before the readout
(both readouts, amp and z, ignore a final Z phase)."""

from __future__ import annotations

REFUSALS = {
    "real": (
        "real has no final trainable rotation to become the first new re-upload: each new re-upload appends "
        "X RY(θ) Z RY(φ) after the old circuit, and its data rotation RY(φ) changes the readout"
    ),
    "px": (
        "px's new re-uploads put the data rotation RX(arccos(w x + c)) after the old final RZ(θ), right before "
        "the readout; an RX rotation changes the readout (only pz and rpz end in a data RZ, which does not)"
    ),
    "mix": (
        "mix's new re-uploads put the data rotation RY(φ) after the old final RZ(θ) RX(θ), right before the "
        "readout; an RY rotation changes the readout (only pz and rpz end in a data RZ, which does not)"
    ),
}


def check_refinable(ansatz: str) -> None:
    """Raise ValueError, with the gate that would change the function, for a built-in that refine cannot extend."""
    reason = REFUSALS.get(ansatz)
    if reason is not None:
        raise ValueError(f"refine cannot keep the function of ansatz={ansatz!r}: {reason}")
