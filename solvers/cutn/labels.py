"""Index names of the cutn networks: the edge labels ``o``, ``i`` (the edge) and ``b`` (the sample),
hyperedges shared by every tensor that depends on them, and fresh names for the qubit wires."""

from __future__ import annotations

import opt_einsum

OUT, IN, BATCH = "o", "i", "b"
EDGE_ORDER = (OUT, IN, BATCH)  # layout of angle tensors: (O|1, I|1, B|1, gates)


class FreshLabels:
    """Fresh single-character index names that never collide with the edge labels."""

    def __init__(self) -> None:
        self.count = 0

    def new(self) -> str:
        while True:
            symbol = opt_einsum.get_symbol(self.count)
            self.count += 1
            if symbol not in EDGE_ORDER:
                return symbol
