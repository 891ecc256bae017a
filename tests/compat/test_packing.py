"""Hardware packing as published in qkan 0.2.3 (issue 23): DeviceProfile from a coupling map and error rates or a
qiskit backend, best_qubits, tile_disjoint, and pack_circuit / PackedCircuit on qiskit (the published
skills/tests/test_packing.py usage, through ``from qkan import ...``); the layouts against the published
package's own, run in a subprocess. CUDA-Q kernels are not packed by this version: refused with a TypeError."""

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("qiskit")

from qiskit import QuantumCircuit  # noqa: E402
from qiskit.circuit import Parameter  # noqa: E402
from qiskit.providers.fake_provider import GenericBackendV2  # noqa: E402

from qkan import DeviceProfile, PackedCircuit, pack_circuit, tile_disjoint  # noqa: E402
from qkan.hardware import best_qubits, interaction_of, rank_qubits, score_layout  # noqa: E402


def line_backend(n=8, seed=1234):
    return GenericBackendV2(num_qubits=n, coupling_map=[[i, i + 1] for i in range(n - 1)], seed=seed)


def bell():
    qc = QuantumCircuit(2)
    qc.h(0)
    qc.cx(0, 1)
    return qc


def rotated_bell():
    theta = Parameter("theta")
    qc = QuantumCircuit(2)
    qc.ry(theta, 0)
    qc.cx(0, 1)
    return qc


def estimator():
    return pytest.importorskip("qiskit_aer.primitives").EstimatorV2()


# ----- DeviceProfile, best_qubits, tile_disjoint ------------------------------------------------------------


def ring_profile(n=8, bad=()):
    """A ring of ``n`` qubits whose qubit q has readout error 0.01 * (q + 1) (the ``bad`` ones 0.4)."""
    return DeviceProfile(
        num_qubits=n,
        edges=tuple((i, (i + 1) % n) for i in range(n)),
        readout_error={q: 0.4 if q in bad else 0.01 * (q + 1) for q in range(n)},
        gate_error_1q={q: 1e-4 for q in range(n)},
        gate_error_2q={(min(i, (i + 1) % n), max(i, (i + 1) % n)): 0.01 for i in range(n)},
    )


def test_profile_from_a_coupling_map_normalises_edges_and_refuses_bad_ones():
    profile = DeviceProfile(num_qubits=3, edges=((1, 0), (2, 1), (0, 1)))
    assert profile.edges == ((0, 1), (1, 2)) and not profile.has_calibration()
    with pytest.raises(ValueError, match=r"\(0, 3\)"):
        DeviceProfile(num_qubits=3, edges=((0, 3),))
    with pytest.raises(ValueError, match="num_qubits"):
        DeviceProfile(num_qubits=0)


def test_profile_from_qiskit_reads_the_target():
    backend = line_backend(5)
    profile = DeviceProfile.from_qiskit(backend)
    assert profile.num_qubits == 5 and profile.edges == ((0, 1), (1, 2), (2, 3), (3, 4))
    measure = backend.target["measure"]
    assert profile.readout_error == {q: measure[(q,)].error for q in range(5)}
    assert set(profile.gate_error_2q) == set(profile.edges) and profile.t2_us


def test_best_qubits_ranks_by_calibration_and_applies_thresholds():
    backend = line_backend(8)
    profile = DeviceProfile.from_qiskit(backend)
    best = best_qubits(backend, 3)
    assert best == rank_qubits(profile, 3) and len(set(best)) == 3
    costs = [profile.qubit_cost(q) for q in range(8)]
    assert [costs[q] for q in best] == sorted(costs)[:3]
    with pytest.raises(ValueError, match="only 0 qubits"):
        best_qubits(backend, 2, max_readout_error=0.0)
    assert best_qubits(backend, 9 - 1, max_readout_error=1.0) == rank_qubits(profile, 8)
    assert rank_qubits(DeviceProfile(num_qubits=4), 2) == []  # no calibration, no threshold
    with pytest.raises(ValueError, match="positive integer"):
        best_qubits(backend, 0)


def test_tile_disjoint_places_disjoint_coupled_copies_best_first():
    profile = ring_profile(8, bad=(3,))
    tiles = tile_disjoint(profile, [(0, 1), (1, 2)], k="max")
    flat = [q for tile in tiles for q in tile]
    assert len(flat) == len(set(flat)) and all(len(t) == 3 for t in tiles)
    for a, b, c in tiles:  # each copy's two interactions on coupled pairs
        assert profile.edge_error(a, b) is not None and profile.edge_error(b, c) is not None
    scores = [score_layout(profile, [(0, 1), (1, 2)], t) for t in tiles]
    assert scores == sorted(scores)
    assert 3 not in tiles[0]  # the bad qubit is left to the last tile, if any
    with pytest.raises(ValueError, match="need 4"):
        tile_disjoint(profile, [(0, 1), (1, 2)], k=4)
    assert len(tile_disjoint(profile, [(0, 1), (1, 2)], k=4, strict=False)) == len(tiles)


def test_tile_disjoint_buffer_thresholds_and_single_qubits():
    profile = ring_profile(8)
    buffered = tile_disjoint(profile, [(0, 1)], buffer_hops=1)
    used = {q for t in buffered for q in t}
    for tile in buffered:  # no qubit of another tile is a neighbour of this one
        others = used - set(tile)
        assert not any(profile.edge_error(q, o) is not None for q in tile for o in others)
    assert len(buffered) < len(tile_disjoint(profile, [(0, 1)]))
    assert all(max(profile.readout_error[q] for q in t) <= 0.035 for t in tile_disjoint(
        profile, [(0, 1)], max_readout_error=0.035))  # fmt: skip
    singles = tile_disjoint(profile, 1, k=3)
    assert singles == [[0], [1], [2]]  # the three lowest readout errors
    with pytest.raises(ValueError, match="k must be"):
        tile_disjoint(profile, 1, k=0)
    with pytest.raises(ValueError, match="several connected parts"):
        tile_disjoint(profile, [(0, 1), (2, 3)])
    with pytest.raises(TypeError, match="profile must be a DeviceProfile .* got GenericBackendV2"):
        tile_disjoint(line_backend(), [(0, 1)])


# ----- pack_circuit / PackedCircuit (the published usage) ----------------------------------------------------


def test_interaction_of():
    qc = bell()
    qc.cx(0, 1)
    assert interaction_of(qc) == [(0, 1), (0, 1)]
    qc3 = QuantumCircuit(3)
    qc3.ccx(0, 1, 2)
    with pytest.raises(ValueError, match="3 qubits"):
        interaction_of(qc3)


def test_pack_circuit_pins_disjoint_tiles_without_routing():
    backend = line_backend()
    packed = pack_circuit(backend, bell(), k=2)
    assert packed.copies == 2 and packed.block_qubits == 2
    assert len(set(packed.layout)) == 4 and packed.physical_qubits(1) == list(packed.tiles[1])
    permutation = packed.isa.layout.routing_permutation()
    assert permutation == list(range(len(permutation))) and packed.isa.num_qubits == backend.num_qubits


def test_pack_circuit_refusals():
    mismatched = DeviceProfile(num_qubits=4, edges=((0, 2), (1, 3)), gate_error_2q={(0, 2): 0.01, (1, 3): 0.01})
    with pytest.raises(RuntimeError, match="routed"):
        pack_circuit(line_backend(n=4), bell(), k=2, profile=mismatched)
    measured = bell()
    measured.measure_all()
    with pytest.raises(ValueError, match="classical bits"):
        pack_circuit(line_backend(), measured, k=2)
    with pytest.raises(ValueError, match="block has 2"):
        pack_circuit(line_backend(), bell(), tiles=[(0, 1, 2)])
    with pytest.raises(TypeError, match="CUDA-Q kernels are not packed"):
        pack_circuit(ring_profile(), lambda q: None, k=2)
    with pytest.raises(TypeError, match="profile="):
        pack_circuit(ring_profile(), bell(), k=2)


def test_pack_circuit_gives_qubits_without_2q_gates_a_place():
    qc = QuantumCircuit(3)
    qc.h(0)
    qc.cx(0, 1)
    qc.x(2)
    packed = pack_circuit(line_backend(), qc, k=2)
    assert all(len(tile) == 3 for tile in packed.tiles) and len(set(packed.layout)) == 6


def test_explicit_tiles():
    packed = pack_circuit(line_backend(), bell(), tiles=[(4, 5), (0, 1)])
    assert packed.tiles == ((4, 5), (0, 1)) and packed.layout == (4, 5, 0, 1)


def test_observables_per_copy_and_pooled():
    packed = pack_circuit(line_backend(), bell(), k=2)
    with pytest.raises(IndexError, match="out of range"):
        packed.observable("ZZ", 2)
    with pytest.raises(ValueError, match="block has 2"):
        packed.observable("ZZZ", 0)
    observables = [o for basis in ("XX", "ZZ") for o in packed.observable(basis)]
    assert all(o.num_qubits == packed.isa.num_qubits for o in observables)
    values = estimator().run([(packed.isa, observables)], precision=0).result()[0].data.evs
    assert all(abs(v - 1.0) < 1e-6 for v in values)  # a Bell pair on every tile
    pooled = estimator().run([(packed.isa, packed.observable("ZZ", "mean"))], precision=0).result()[0].data.evs
    assert abs(float(pooled) - 1.0) < 1e-9


def test_parameter_batches_bind_each_copy():
    packed = pack_circuit(line_backend(), rotated_bell(), k=2)
    assert packed.parameters == (("t0.theta",), ("t1.theta",))
    batch = [0.4, 1.3]
    values = packed.parameter_values([[t] for t in batch])
    evs = estimator().run([(packed.isa, packed.observable("ZI"), values)], precision=0).result()[0].data.evs
    assert all(abs(got - math.cos(t)) < 1e-6 for got, t in zip(evs, batch))
    bound = packed.rebind([[t] for t in batch])
    assert isinstance(bound, PackedCircuit) and not bound.isa.parameters
    evs = estimator().run([(bound.isa, bound.observable("ZI"))], precision=0).result()[0].data.evs
    assert all(abs(got - math.cos(t)) < 1e-6 for got, t in zip(evs, batch))
    with pytest.raises(ValueError, match="2 copies"):
        packed.parameter_values([[0.1]])
    with pytest.raises(ValueError, match="takes 1"):
        packed.parameter_values([[0.1, 0.2], [0.3, 0.4]])
    with pytest.raises(ValueError, match="no parameters"):
        pack_circuit(line_backend(), bell(), k=2).parameter_values([[1.0], [1.0]])
    with pytest.raises(TypeError, match="CUDA-Q packs"):
        packed.expectation({}, "ZZ")


# ----- against the published package -------------------------------------------------------------------------

PUBLISHED_SCRIPT = """
import json, sys
from qiskit.providers.fake_provider import GenericBackendV2
from qkan.solver.layout import DeviceProfile, rank_qubits, tile_disjoint
cases = json.loads(sys.argv[1])
out = []
for n, seed, edges, hops in cases:
    profile = DeviceProfile.from_qiskit(GenericBackendV2(n, coupling_map=[[i, i + 1] for i in range(n - 1)], seed=seed))
    out.append([tile_disjoint(profile, [tuple(e) for e in edges], buffer_hops=hops), rank_qubits(profile, 4)])
print(json.dumps(out))
"""
PARITY_CASES = [[16, 7, [[0, 1], [1, 2]], 0], [12, 3, [[0, 1]], 1], [10, 11, [[0, 1], [1, 2], [2, 3]], 0]]


def published_023() -> Path:
    """The published qkan 0.2.3 installed into its own folder (it shares our import name), once per cache: from
    the sdist at $QKAN_PUBLISHED_SDIST where set, else from the package index; skips where neither works."""
    target = Path(os.environ.get("QKAN_TEST_CACHE", Path.home() / ".cache" / "qkan-tests")) / "qkan-0.2.3"
    if (target / "qkan" / "solver" / "layout.py").exists():
        return target
    source = os.environ.get("QKAN_PUBLISHED_SDIST", "qkan==0.2.3")
    command = [sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--no-build-isolation", "--target"]
    try:
        subprocess.run([*command, str(target), source], check=True, capture_output=True, timeout=600,
                       env={**os.environ, "QKAN_SKIP_CUDA_BUILD": "TRUE"})  # fmt: skip
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as error:
        pytest.skip(f"the published qkan 0.2.3 did not install from {source}: {error}")
    return target


def test_layouts_match_the_published_package():
    target = published_023()
    run = subprocess.run(
        [sys.executable, "-c", PUBLISHED_SCRIPT, json.dumps(PARITY_CASES)],
        capture_output=True, text=True, timeout=600, cwd=target, env={**os.environ, "PYTHONPATH": str(target)},
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
    published = json.loads(run.stdout)
    for (n, seed, edges, hops), (tiles, ranked) in zip(PARITY_CASES, published):
        profile = DeviceProfile.from_qiskit(line_backend(n, seed))
        assert tile_disjoint(profile, [tuple(e) for e in edges], buffer_hops=hops) == tiles
        assert rank_qubits(profile, 4) == ranked
