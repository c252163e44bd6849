"""The block shuffle: exact inverses, guards, turns."""

from __future__ import annotations

import numpy as np
import pytest

from verify import spec
from verify.derive import BlockMap
from verify.scramble import descramble, scramble, turn, unturn


@pytest.fixture(scope="module")
def front() -> np.ndarray:
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (spec.FRONT_H, spec.FRONT_W, 3), dtype=np.uint8)


@pytest.mark.parametrize("t", range(8))
def test_unturn_inverts_turn(t):
    blocks = np.arange(2 * 4 * 4).reshape(2, 4, 4)
    assert np.array_equal(unturn(turn(blocks, t), t), blocks)


def test_turns_are_the_eight_symmetries():
    block = np.arange(16).reshape(1, 4, 4)
    assert len({turn(block, t).tobytes() for t in range(8)}) == 8


def test_round_trip_is_exact(front):
    bm = BlockMap.derive(b"k" * 32, "990001", "A-1")
    design = scramble(front, bm)
    assert design.shape == (spec.GRID_H, spec.GRID_W, 3)
    assert np.array_equal(descramble(design, bm), front)


def test_gray_round_trip_is_exact(front):
    bm = BlockMap.derive(b"k" * 32, "990001", "A-1")
    gray = front[..., 0].copy()
    assert np.array_equal(descramble(scramble(gray, bm), bm), gray)


def test_guards_repeat_block_edges(front):
    bm = BlockMap.derive(b"k" * 32, "990001", "A-1")
    cell = scramble(front, bm)[:spec.PITCH, :spec.PITCH]
    g = spec.GUARD
    assert np.array_equal(cell[0], cell[g])
    assert np.array_equal(cell[:, 0], cell[:, g])
    assert np.array_equal(cell[-1], cell[-1 - g])


def test_wrong_block_map_does_not_restore(front):
    design = scramble(front, BlockMap.derive(b"k" * 32, "990001", "A-1"))
    wrong = descramble(design, BlockMap.derive(b"k" * 32, "990001", "A-2"))
    assert np.mean(wrong == front) < 0.05


def test_scramble_checks_the_size():
    with pytest.raises(ValueError):
        scramble(np.zeros((10, 10, 3), np.uint8), BlockMap.derive(b"k" * 32, "1", "2"))
