"""Many copies of one small circuit in one job: :func:`pack_circuit` places ``k`` copies of a qiskit circuit
on disjoint, well-calibrated tiles of a device (:func:`~qkan.hardware.layout.tile_disjoint`) and transpiles
them pinned there without routing; :class:`PackedCircuit` maps per-copy observables and parameter batches onto
the result (the published qkan 0.2.3's packing API, qiskit stack)."""

from __future__ import annotations

import functools
import operator
from dataclasses import dataclass
from typing import Any, Literal, Optional, Sequence, Union

from .layout import check_profile, tile_disjoint
from .profile import DeviceProfile

Tiles = tuple[tuple[int, ...], ...]


def interaction_of(circuit: Any) -> list[tuple[int, int]]:
    """The (a, b) qubit pair of every 2-qubit gate of a qiskit circuit, repeats kept (they weigh in the
    tile scores); barriers, measurements and resets are skipped, gates on 3+ qubits refused."""
    pairs = []
    for instruction in circuit.data:
        operation = instruction.operation
        if getattr(operation, "_directive", False) or operation.name in ("measure", "reset"):
            continue
        qubits = [circuit.find_bit(q).index for q in instruction.qubits]
        if len(qubits) > 2:
            raise ValueError(
                f"gate {operation.name!r} acts on {len(qubits)} qubits; decompose it to 1- and 2-qubit gates first"
            )
        if len(qubits) == 2:
            pairs.append((qubits[0], qubits[1]))
    return pairs


@dataclass(frozen=True)
class PackedCircuit:
    """``copies`` copies of a block circuit on disjoint ``tiles`` of physical qubits: ``circuit`` holds
    copy t on logical qubits t*block_qubits.., ``isa`` is it transpiled pinned to ``layout``, ``parameters[t]``
    the names of copy t's parameters (in the block's ``circuit.parameters`` order). ``kernel``, ``gates`` and
    ``block`` are the published CUDA-Q half's fields, which this version does not build."""

    tiles: Tiles
    circuit: Any = None
    isa: Any = None
    parameters: tuple[tuple[str, ...], ...] = ()
    kernel: Any = None
    gates: Optional[tuple] = None
    block: Any = None

    @property
    def layout(self) -> tuple[int, ...]:
        """The tiles flattened, tile after tile: the transpilation's initial layout."""
        return tuple(q for tile in self.tiles for q in tile)

    @property
    def width(self) -> int:
        """The register a copy of the packed job needs: the largest physical index + 1."""
        return max(self.layout) + 1

    @property
    def block_qubits(self) -> int:
        return len(self.tiles[0])

    @property
    def copies(self) -> int:
        return len(self.tiles)

    def physical_qubits(self, tile: int) -> list[int]:
        """The physical qubits of copy ``tile``."""
        self._check_tile(tile)
        return list(self.tiles[tile])

    def parameter_values(self, batch: Sequence[Sequence[float]]) -> dict[str, float]:
        """Parameter name -> value binding copy t's parameters to ``batch[t]`` (one row per copy, in the block's
        parameter order), for an EstimatorV2 PUB beside ``isa``."""
        if not self.parameters:
            raise ValueError("the packed circuit has no parameters to bind")
        if len(batch) != self.copies:
            raise ValueError(f"batch has {len(batch)} rows but the pack has {self.copies} copies")
        values: dict[str, float] = {}
        for names, row in zip(self.parameters, batch):
            if len(row) != len(names):
                raise ValueError(f"a batch row has {len(row)} values but each copy takes {len(names)}")
            values.update(zip(names, (float(v) for v in row)))
        return values

    def observable(self, obs: Any, tile: Union[int, str, None] = None) -> Any:
        """A block observable (a Pauli string, little-endian, or SparsePauliOp on ``block_qubits`` qubits) on
        the ISA circuit: for copy ``tile``, for every copy (None: a list), or their average ("mean": the
        copies pooled into one estimate)."""
        if tile is None:
            return [self.observable(obs, t) for t in range(self.copies)]
        if isinstance(tile, str):
            if tile != "mean":
                raise ValueError(f"tile must be a copy index, None or 'mean', got {tile!r}")
            return functools.reduce(operator.add, self.observable(obs, None)) * (1.0 / self.copies)
        self._check_tile(tile)
        from qiskit.quantum_info import SparsePauliOp

        op = obs if isinstance(obs, SparsePauliOp) else SparsePauliOp(obs)
        if op.num_qubits != self.block_qubits:
            raise ValueError(f"the observable acts on {op.num_qubits} qubits but the block has {self.block_qubits}")
        start = tile * self.block_qubits
        logical = op.apply_layout(list(range(start, start + self.block_qubits)), num_qubits=len(self.layout))
        return logical.apply_layout(self.isa.layout)

    def rebind(self, batch: Sequence[Sequence[float]]) -> "PackedCircuit":
        """A copy with every copy's parameters bound to its row of ``batch`` (as :meth:`parameter_values`)."""
        values = self.parameter_values(batch)

        def bound(circuit: Any) -> Any:
            return circuit.assign_parameters({p: values[p.name] for p in circuit.parameters})

        return PackedCircuit(tiles=self.tiles, circuit=bound(self.circuit), isa=bound(self.isa))

    def expectation(self, result: Any, pauli: str, tile: Union[int, str, None] = None) -> Any:
        """The published CUDA-Q readout from sampled counts; qiskit packs read through :meth:`observable`."""
        raise TypeError("expectation applies to CUDA-Q packs; qiskit packs read results through observable()")

    def basis_kernel(self, bases: str) -> Any:
        """The published CUDA-Q basis-change kernel; qiskit packs measure through an estimator and observable()."""
        raise TypeError("basis_kernel applies to CUDA-Q packs; qiskit packs read results through observable()")

    def _check_tile(self, tile: int) -> None:
        if not 0 <= tile < self.copies:
            raise IndexError(f"tile {tile} out of range for {self.copies} copies")


def pack_circuit(
    backend: Any,
    circuit: Any,
    k: Union[int, Literal["max"]] = "max",
    *,
    tiles: Optional[Sequence[Sequence[int]]] = None,
    profile: Optional[DeviceProfile] = None,
    max_readout_error: Optional[float] = None,
    qubit_error_threshold: Optional[float] = None,
    edge_error_threshold: Optional[float] = None,
    tile_score_threshold: Optional[float] = None,
    buffer_hops: int = 0,
    strict: bool = True,
    optimization_level: int = 1,
) -> PackedCircuit:
    """``k`` copies of the measurement-free qiskit ``circuit`` on disjoint tiles of ``backend``: the given
    ``tiles``, or the best ones for its calibration (``profile``, default ``DeviceProfile.from_qiskit(backend)``;
    thresholds, ``buffer_hops``, ``k`` and ``strict`` as in :func:`tile_disjoint`), each copy with its own
    renamed parameters, transpiled pinned to the tiles. A transpilation that routes (the profile's coupling
    disagrees with the backend's) raises RuntimeError."""
    if not (hasattr(circuit, "find_bit") and hasattr(circuit, "num_qubits")):
        raise TypeError(
            f"pack_circuit: circuit must be a qiskit QuantumCircuit, got {type(circuit).__name__} "
            "(CUDA-Q kernels are not packed by this version)"
        )
    if isinstance(backend, DeviceProfile):
        raise TypeError("pack_circuit: a qiskit circuit is transpiled for a backend; pass profile=... beside it")
    if circuit.num_clbits:
        raise ValueError(
            "pack_circuit: the circuit has classical bits; every copy would measure into the same ones: "
            "remove the measurements and read results through observable() or a sampler on the packed circuit"
        )
    if profile is not None:
        check_profile(profile)
    size = circuit.num_qubits
    pairs = interaction_of(circuit)
    if tiles is not None:
        chosen = _checked_tiles(tiles, size)
    else:
        chosen = tuple(
            tuple(tile)
            for tile in tile_disjoint(
                profile or DeviceProfile.from_qiskit(backend),
                pairs or size,
                k,
                n_logical=size,
                buffer_hops=buffer_hops,
                max_readout_error=max_readout_error,
                qubit_error_threshold=qubit_error_threshold,
                edge_error_threshold=edge_error_threshold,
                tile_score_threshold=tile_score_threshold,
                strict=strict,
            )
        )
        if not chosen:
            raise ValueError("pack_circuit: no tile of the device fits the circuit within the thresholds")
    merged, names = _merged_copies(circuit, len(chosen))
    return PackedCircuit(tiles=chosen, circuit=merged, isa=_pinned(backend, merged, chosen, optimization_level),
                         parameters=names)  # fmt: skip


def _checked_tiles(tiles: Sequence[Sequence[int]], size: int) -> Tiles:
    """Explicit tiles as tuples of ints: non-empty, each of the block's size, non-negative, disjoint."""
    checked = tuple(tuple(operator.index(q) for q in tile) for tile in tiles)
    if not checked:
        raise ValueError("pack_circuit: tiles must not be empty")
    for tile in checked:
        if len(tile) != size:
            raise ValueError(f"pack_circuit: tile {tile} has {len(tile)} qubits but the block has {size}")
    flat = [q for tile in checked for q in tile]
    if min(flat) < 0 or len(set(flat)) != len(flat):
        raise ValueError(f"pack_circuit: tiles {checked} must be non-negative and disjoint")
    return checked


def _merged_copies(circuit: Any, copies: int) -> tuple[Any, tuple[tuple[str, ...], ...]]:
    """The copies side by side (copy t on qubits t*n..), copy t's parameters renamed ``t{t}.{name}`` so a
    batch binds each copy apart, and those names per copy."""
    from qiskit import QuantumCircuit
    from qiskit.circuit import Parameter

    size, source = circuit.num_qubits, list(circuit.parameters)
    merged, names = QuantumCircuit(size * copies), []
    for t in range(copies):
        renamed = {p: Parameter(f"t{t}.{p.name}") for p in source}
        block = circuit.assign_parameters(renamed) if source else circuit
        merged.compose(block, qubits=range(t * size, (t + 1) * size), inplace=True)
        if source:
            names.append(tuple(renamed[p].name for p in source))
    return merged, tuple(names)


def _pinned(backend: Any, merged: Any, tiles: Tiles, optimization_level: int) -> Any:
    """``merged`` transpiled for ``backend`` with its qubits on the tiles; refused if the transpiler routed."""
    from qiskit.transpiler import generate_preset_pass_manager

    layout = [q for tile in tiles for q in tile]
    manager = generate_preset_pass_manager(
        backend=backend, optimization_level=optimization_level, initial_layout=layout
    )
    isa = manager.run(merged)
    permutation = isa.layout.routing_permutation() if isa.layout else []
    if permutation != list(range(len(permutation))):  # swaps are lowered to 2q gates by now: the layout tells
        raise RuntimeError(
            "pack_circuit: the transpiler routed the packed circuit: the tiles are not coupled on the backend as "
            "the circuit needs (a stale or hand-built profile?); rebuild it with DeviceProfile.from_qiskit"
        )
    return isa
