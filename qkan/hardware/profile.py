"""A device's calibration as plain data: :class:`DeviceProfile` (coupling map, error rates, T2, which qubits
work), built by hand or from a qiskit backend, and the per-qubit and per-edge costs every layout choice uses.
Torch-free and provider-neutral (the published qkan 0.2.3's ``DeviceProfile``, same fields and meaning)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Optional

# Missing calibration is pessimistic: a qubit or edge the device says nothing about never outranks a measured one.
READOUT_FALLBACK = 0.5
GATE_1Q_FALLBACK = 1e-2
GATE_2Q_FALLBACK = 0.5
T2_FALLBACK_US = 50.0
T2_PENALTY = 1e-4  # cost of a qubit per 1/T2[us]: breaks ties towards longer coherence
UNUSABLE = 1e6  # finite stand-in for -ln(0): an error rate of 1, an uncoupled pair, a broken qubit
DEAD_EDGE = 0.999  # a pair with at least this 2q error never hosts an interaction


@dataclass(frozen=True)
class DeviceProfile:
    """Calibration snapshot of a device with qubits ``0 .. num_qubits-1``: coupling ``edges`` and
    ``gate_error_2q`` keyed by sorted ``(low, high)`` pairs, per-qubit ``readout_error`` and ``gate_error_1q``
    (probabilities), ``t2_us`` (microseconds) and ``operational`` (False: never used). A missing key or a NaN
    means the device reported nothing there."""

    num_qubits: int
    edges: tuple[tuple[int, int], ...] = ()
    readout_error: Mapping[int, float] = field(default_factory=dict)
    gate_error_1q: Mapping[int, float] = field(default_factory=dict)
    gate_error_2q: Mapping[tuple[int, int], float] = field(default_factory=dict)
    t2_us: Optional[Mapping[int, float]] = None
    operational: Optional[Mapping[int, bool]] = None
    _edge_set: frozenset = field(init=False, repr=False, compare=False, default=frozenset())

    def __post_init__(self) -> None:
        if not isinstance(self.num_qubits, int) or isinstance(self.num_qubits, bool) or self.num_qubits < 1:
            raise ValueError(f"DeviceProfile.num_qubits must be a positive integer, got {self.num_qubits!r}")
        edges = []
        for pair in self.edges:
            a, b = (int(q) for q in pair)
            if a == b or not (0 <= a < self.num_qubits and 0 <= b < self.num_qubits):
                raise ValueError(f"DeviceProfile.edges: ({a}, {b}) is not a pair of qubits in 0..{self.num_qubits - 1}")
            edges.append((min(a, b), max(a, b)))
        object.__setattr__(self, "edges", tuple(sorted(set(edges))))
        object.__setattr__(self, "_edge_set", frozenset(self.edges))

    def has_calibration(self) -> bool:
        """Whether any error rate was reported."""
        return bool(self.readout_error or self.gate_error_1q or self.gate_error_2q)

    @classmethod
    def from_qiskit(cls, backend: Any, *, refresh: bool = False) -> "DeviceProfile":
        """The profile of a qiskit backend: from its ``Target`` (BackendV2) or else its legacy ``properties()``;
        ``refresh`` asks the backend to fetch calibration again first."""
        target = getattr(backend, "target", None)
        if target is not None:
            if refresh and hasattr(backend, "refresh"):
                backend.refresh()
                target = backend.target
            return _from_target(cls, backend, target)
        if hasattr(backend, "properties"):
            return _from_properties(cls, backend, refresh)
        raise ValueError(
            f"DeviceProfile.from_qiskit: {type(backend).__name__} has neither a Target nor properties() calibration"
        )

    # ----- costs (lower is better; sums of -ln(fidelity)) ------------------------------------------------
    def qubit_cost(self, q: int) -> float:
        """-ln of the qubit's readout and 1q-gate fidelities plus a small 1/T2 penalty; missing data at the
        pessimistic fallbacks, a qubit marked broken at UNUSABLE."""
        if not self.is_operational(q):
            return UNUSABLE
        readout = _value(self.readout_error, q, READOUT_FALLBACK)
        gate = _value(self.gate_error_1q, q, GATE_1Q_FALLBACK)
        t2 = _value(self.t2_us or {}, q, T2_FALLBACK_US)
        return neg_log_fidelity(readout) + neg_log_fidelity(gate) + T2_PENALTY / max(t2, 1.0)

    def passes(self, q: int, max_readout_error: Optional[float], qubit_error_threshold: Optional[float]) -> bool:
        """Whether qubit ``q`` works and meets the thresholds (missing or NaN data fails an active threshold)."""
        if not self.is_operational(q):
            return False
        for errors, threshold in ((self.readout_error, max_readout_error), (self.gate_error_1q, qubit_error_threshold)):
            if threshold is not None:
                error = float(errors.get(q, math.nan))
                if math.isnan(error) or error > threshold:
                    return False
        return True

    def edge_error(self, a: int, b: int) -> Optional[float]:
        """The 2q error of the pair, the fallback where uncalibrated, None where the pair is not coupled."""
        edge = (min(a, b), max(a, b))
        if edge not in self._edge_set:
            return None
        return _value(self.gate_error_2q, edge, GATE_2Q_FALLBACK)

    def is_operational(self, q: int) -> bool:
        """Whether the device lists qubit ``q`` as working (unlisted: yes)."""
        return self.operational is None or bool(self.operational.get(q, True))


def neg_log_fidelity(error: float) -> float:
    """-ln(1 - error), finite: UNUSABLE at error >= 1."""
    if error <= 0.0:
        return 0.0
    return UNUSABLE if error >= 1.0 else -math.log1p(-error)


def _value(values: Mapping[Any, float], key: Any, fallback: float) -> float:
    value = float(values.get(key, math.nan))
    return fallback if math.isnan(value) else value


def _errors_of(target: Any, name: str) -> list[tuple[tuple[int, ...], Optional[float]]]:
    """(qubits, error) of every calibrated instance of instruction ``name`` in a qiskit Target."""
    if name not in target.operation_names:
        return []
    return [
        (tuple(qargs), getattr(props, "error", None))
        for qargs, props in target[name].items()
        if qargs is not None and props is not None
    ]


def _from_target(cls: type[DeviceProfile], backend: Any, target: Any) -> DeviceProfile:
    readout = {q[0]: float(e) for q, e in _errors_of(target, "measure") if len(q) == 1 and e is not None}
    gate_1q: dict[int, float] = {}
    for name in ("sx", "x"):  # sx is the native 1q pulse where it exists
        gate_1q = {q[0]: float(e) for q, e in _errors_of(target, name) if len(q) == 1 and e is not None}
        if gate_1q:
            break
    edges: set[tuple[int, int]] = set()
    gate_2q: dict[tuple[int, int], float] = {}
    for name in target.operation_names:
        for qubits, error in _errors_of(target, name):
            if len(qubits) != 2:
                continue
            edge = (min(qubits), max(qubits))
            edges.add(edge)
            if error is not None:  # a pair with several 2q gates or directions keeps its best
                gate_2q[edge] = min(float(error), gate_2q.get(edge, math.inf))
    t2 = {
        q: float(p.t2) * 1e6
        for q, p in enumerate(getattr(target, "qubit_properties", None) or [])
        if p is not None and getattr(p, "t2", None) is not None
    }
    return cls(
        num_qubits=int(target.num_qubits or backend.num_qubits),
        edges=tuple(sorted(edges)),
        readout_error=readout,
        gate_error_1q=gate_1q,
        gate_error_2q=gate_2q,
        t2_us=t2 or None,
    )


def _from_properties(cls: type[DeviceProfile], backend: Any, refresh: bool) -> DeviceProfile:
    props = backend.properties(refresh=True) if refresh else backend.properties()
    if props is None:
        raise ValueError("DeviceProfile.from_qiskit: backend.properties() returned None (no calibration)")
    n = int(getattr(backend, "num_qubits", 0) or len(props.qubits))

    def each(read) -> dict:
        values = {}
        for q in range(n):
            try:
                values[q] = read(q)
            except Exception:  # the backend reports nothing for this qubit
                continue
        return values

    edges: set[tuple[int, int]] = set()
    gate_2q: dict[tuple[int, int], float] = {}
    for a, b in getattr(backend.configuration(), "coupling_map", None) or []:
        edge = (min(a, b), max(a, b))
        edges.add(edge)
        for gate in ("ecr", "cz", "cx"):
            try:
                gate_2q[edge] = min(float(props.gate_error(gate, [a, b])), gate_2q.get(edge, math.inf))
                break
            except Exception:  # this pair does not have this gate
                continue
    t2 = each(lambda q: float(props.t2(q)) * 1e6)
    operational = each(lambda q: bool(props.is_qubit_operational(q)))
    return cls(
        num_qubits=n,
        edges=tuple(sorted(edges)),
        readout_error=each(lambda q: float(props.readout_error(q))),
        gate_error_1q=each(lambda q: float(props.gate_error("sx", [q]))),
        gate_error_2q=gate_2q,
        t2_us=t2 or None,
        operational=operational or None,
    )
