"""The flash backward's batch tiling (CPU: a pure function of the sizes): the grid covers every edge, the tiles
cover the batch within their bounds, and an empty batch gets one empty tile."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from qkan.solvers.flash import backward_tiling
from qkan.solvers.flash.tuning import BACKWARD_WARPS, MAX_TILE, MAX_TILES, MIN_TILE


@settings(max_examples=300, deadline=None)
@given(batch=st.integers(1, 300_000), out_dim=st.integers(1, 1100), in_dim=st.integers(1, 1100), flat=st.booleans())
def test_tiles_cover_the_batch_within_their_bounds(batch, out_dim, in_dim, flat):
    (blocks, chunks), warps, tiles, tile = backward_tiling(batch, out_dim, in_dim, flat)
    assert 1 <= warps <= BACKWARD_WARPS
    assert blocks * chunks * 32 * warps >= out_dim * in_dim  # every edge has a thread
    assert 1 <= tiles <= MAX_TILES and tile <= MAX_TILE
    assert (tiles - 1) * tile < batch <= tiles * tile  # no tile is empty
    assert tiles <= -(-batch // MIN_TILE)  # tiles of about MIN_TILE samples at least


def test_wide_layer_tiling():
    """QKAN([100,100]) at batch 1000 without grad_x: 79 blocks of 4 warps over consecutive edges, 16 tiles of 63."""
    assert backward_tiling(1000, 100, 100, True) == ((79, 1), 4, 16, 63)


def test_empty_batch_has_one_empty_tile():
    assert backward_tiling(0, 100, 100, True) == ((79, 1), 4, 1, 0)
