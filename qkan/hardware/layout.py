"""Choosing physical qubits from a :class:`DeviceProfile`: the best single qubits (:func:`rank_qubits`), the
score of a layout for a circuit's interaction graph (:func:`score_layout`), and many disjoint copies of one
circuit tiled over the device (:func:`tile_disjoint`), as in the published qkan 0.2.3. Subgraph matching is
rustworkx's VF2 (installed with qiskit)."""

from __future__ import annotations

from typing import Literal, Optional, Sequence, Union

from .profile import DEAD_EDGE, UNUSABLE, DeviceProfile, neg_log_fidelity

Interaction = Union[int, Sequence[tuple[int, int]]]
Edge = tuple[int, int]


def interaction_graph(interaction: Interaction) -> tuple[dict[Edge, int], int]:
    """(undirected edge -> how many 2q gates act on it, logical qubits spanned) of an interaction: an int
    (that many qubits, no 2q gates) or a list of (a, b) qubit pairs (repeats and both directions counted)."""
    if isinstance(interaction, int):
        if isinstance(interaction, bool) or interaction < 1:
            raise ValueError(f"interaction must be a positive qubit count or a list of pairs, got {interaction}")
        return {}, interaction
    counts: dict[Edge, int] = {}
    for pair in interaction:
        a, b = (int(q) for q in pair)
        if a == b or a < 0 or b < 0:
            raise ValueError(f"interaction edge ({a}, {b}) must join two different non-negative qubits")
        edge = (min(a, b), max(a, b))
        counts[edge] = counts.get(edge, 0) + 1
    if not counts:
        raise ValueError("interaction edge list is empty; pass the qubit count (an int) instead")
    return counts, 1 + max(max(edge) for edge in counts)


def check_profile(profile: object) -> None:
    """TypeError unless ``profile`` is a DeviceProfile (a qiskit backend goes through DeviceProfile.from_qiskit)."""
    if not isinstance(profile, DeviceProfile):
        raise TypeError(
            f"profile must be a DeviceProfile (DeviceProfile.from_qiskit(backend) for a backend), "
            f"got {type(profile).__name__}"
        )


def rank_qubits(
    profile: DeviceProfile,
    n: int,
    *,
    max_readout_error: Optional[float] = None,
    qubit_error_threshold: Optional[float] = None,
    strict: bool = True,
) -> list[int]:
    """The ``n`` working qubits of least cost (readout and 1q-gate error, short T2), best first; [] for a
    profile without calibration (unless a threshold asks for it); fewer than ``n`` passing the thresholds
    raise ValueError, or with ``strict=False`` give all that pass."""
    check_profile(profile)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    thresholds = max_readout_error is not None or qubit_error_threshold is not None
    if not profile.has_calibration():
        if thresholds:
            raise ValueError("the device reports no calibration: its qubits cannot be held to error thresholds")
        return []
    if n > profile.num_qubits:
        raise ValueError(f"n={n} exceeds the device's {profile.num_qubits} qubits")
    usable = _ranked(profile, set(), max_readout_error, qubit_error_threshold)
    if len(usable) < n and (strict or not usable):
        raise ValueError(f"only {len(usable)} qubits meet the error thresholds; need {n}")
    return usable[:n]


def score_layout(profile: DeviceProfile, interaction: Interaction, layout: Sequence[int]) -> float:
    """The cost of running the interaction with logical qubit i on physical ``layout[i]`` (lower is better):
    each qubit's cost plus, per 2q gate, -ln of its pair's fidelity (UNUSABLE for an uncoupled pair)."""
    check_profile(profile)
    counts, n_logical = interaction_graph(interaction)
    if len(layout) < n_logical:
        raise ValueError(f"layout has {len(layout)} entries but the interaction spans {n_logical} qubits")
    used = [int(q) for q in layout[:n_logical]]
    if len(set(used)) != n_logical:
        raise ValueError(f"layout {list(layout)} uses a physical qubit twice")
    if not all(0 <= q < profile.num_qubits for q in used):
        raise ValueError(f"layout {list(layout)} leaves the device's qubits 0..{profile.num_qubits - 1}")
    return _score(profile, counts, used)


def _score(profile: DeviceProfile, counts: dict[Edge, int], layout: Sequence[int]) -> float:
    total = sum(profile.qubit_cost(q) for q in layout)
    for (a, b), gates in counts.items():
        error = profile.edge_error(layout[a], layout[b])
        total += gates * (UNUSABLE if error is None else neg_log_fidelity(error))
    return total


def _ranked(
    profile: DeviceProfile,
    removed: set[int],
    max_readout_error: Optional[float],
    qubit_error_threshold: Optional[float],
) -> list[int]:
    """Qubits not ``removed`` that pass the thresholds, by ascending cost."""
    usable = [
        q
        for q in range(profile.num_qubits)
        if q not in removed and profile.passes(q, max_readout_error, qubit_error_threshold)
    ]
    return sorted(usable, key=lambda q: (profile.qubit_cost(q), q))


def tile_disjoint(
    profile: DeviceProfile,
    interaction: Interaction,
    k: Union[int, Literal["max"]] = "max",
    *,
    buffer_hops: int = 0,
    max_readout_error: Optional[float] = None,
    qubit_error_threshold: Optional[float] = None,
    edge_error_threshold: Optional[float] = None,
    tile_score_threshold: Optional[float] = None,
    strict: bool = True,
    call_limit: Optional[int] = 50_000,
    max_trials: int = 500,
    n_logical: Optional[int] = None,
) -> list[list[int]]:
    """Up to ``k`` (or as many as fit, "max") disjoint placements of one circuit's interaction graph, best
    first: each round places it on the best-scoring free subgraph (over at most ``max_trials`` VF2 matches),
    then removes those qubits and their ``buffer_hops`` neighbourhood. Stops early when nothing fits or a
    tile would score over ``tile_score_threshold``. ``n_logical`` widens tiles to qubits without 2q gates
    (placed on the best free qubits). Fewer than an integer ``k`` raise ValueError unless ``strict=False``."""
    check_profile(profile)
    if k != "max" and (not isinstance(k, int) or isinstance(k, bool) or k < 1):
        raise ValueError(f"k must be 'max' or a positive integer, got {k!r}")
    if not isinstance(buffer_hops, int) or buffer_hops < 0:
        raise ValueError(f"buffer_hops must be a non-negative integer, got {buffer_hops!r}")
    counts, span = interaction_graph(interaction)
    width = span if n_logical is None else n_logical
    if width < span:
        raise ValueError(f"n_logical={n_logical} is smaller than the interaction's {span} qubits")
    thresholds = (max_readout_error, qubit_error_threshold)
    wanted = profile.num_qubits if k == "max" else k
    neighbours: dict[int, set[int]] = {}
    for a, b in profile.edges:
        neighbours.setdefault(a, set()).add(b)
        neighbours.setdefault(b, set()).add(a)
    removed: set[int] = set()
    tiles: list[tuple[float, list[int]]] = []
    while len(tiles) < wanted:
        free = _ranked(profile, removed, *thresholds)
        if counts:
            best = _best_placement(profile, counts, width, free, edge_error_threshold, call_limit, max_trials)
        elif len(free) >= width and profile.has_calibration():
            best = (_score(profile, {}, free[:width]), free[:width])
        else:
            best = None
        if best is None or (tile_score_threshold is not None and best[0] > tile_score_threshold):
            break
        tiles.append(best)
        shell = frontier = set(best[1])
        for _ in range(buffer_hops):
            frontier = {n for q in frontier for n in neighbours.get(q, ())} - shell
            shell = shell | frontier
        removed |= shell
    if isinstance(k, int) and len(tiles) < k and strict:
        raise ValueError(f"only {len(tiles)} disjoint tiles fit the device and thresholds; need {k}")
    return [layout for _, layout in sorted(tiles, key=lambda t: t[0])]


def _best_placement(
    profile: DeviceProfile,
    counts: dict[Edge, int],
    width: int,
    free: list[int],
    edge_error_threshold: Optional[float],
    call_limit: Optional[int],
    max_trials: int,
) -> Optional[tuple[float, list[int]]]:
    """(score, layout) of the best VF2 embedding of the interaction edges into the coupling graph over the
    ``free`` qubits (ranked best first; qubits without 2q gates take the best left), or None."""
    try:
        import rustworkx as rx
    except ImportError as err:
        raise ImportError("tiling circuits with 2-qubit gates needs rustworkx (installed with qiskit)") from err
    logicals = sorted({q for edge in counts for q in edge})
    pattern = rx.PyGraph()
    pattern_node = {q: pattern.add_node(q) for q in logicals}
    pattern.add_edges_from_no_data([(pattern_node[a], pattern_node[b]) for a, b in counts])
    if rx.number_connected_components(pattern) > 1:
        raise ValueError("the interaction graph has several connected parts with 2q gates; tile each part apart")
    device = rx.PyGraph()
    device_node = {q: device.add_node(q) for q in sorted(free)}  # index order: VF2 meets ties as published
    for a, b in profile.edges:
        error = profile.gate_error_2q.get((a, b), float("nan"))
        if a not in device_node or b not in device_node or error >= DEAD_EDGE:
            continue
        if edge_error_threshold is not None and not error <= edge_error_threshold:  # NaN fails it too
            continue
        device.add_edge(device_node[a], device_node[b], None)
    best: Optional[tuple[float, list[int]]] = None
    matches = rx.vf2_mapping(device, pattern, subgraph=True, induced=False, id_order=False, call_limit=call_limit)
    for trial, match in enumerate(matches):
        if trial >= max_trials:
            break
        placed = {pattern[p]: device[d] for d, p in match.items()}
        rest = iter(q for q in free if q not in placed.values())
        layout = [placed[q] if q in placed else next(rest, -1) for q in range(width)]
        if -1 in layout:
            continue
        score = _score(profile, counts, layout)
        if best is None or score < best[0]:
            best = (score, layout)
    return best
