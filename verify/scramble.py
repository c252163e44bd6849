"""The block shuffle in design space: ``scramble`` and ``descramble`` are exact inverses on pixel arrays.

A front of FRONT_H x FRONT_W pixels is cut into ROWS x COLS blocks of BLOCK pixels. Printed position p shows
front block ``perm[p]`` turned by ``transform[p]`` and padded by GUARD replicated pixels on every side, so the
scrambled design image is GRID_H x GRID_W units at one pixel a unit.
"""

from __future__ import annotations

import math

import numpy as np

from . import spec
from .derive import BlockMap


def _to_blocks(img: np.ndarray, rows: int, cols: int, size: int) -> np.ndarray:
    """Split an image into (rows * cols, size, size, ...) blocks in row-major order."""
    rest = img.shape[2:]
    b = img.reshape(rows, size, cols, size, *rest).swapaxes(1, 2)
    return b.reshape(rows * cols, size, size, *rest)


def _from_blocks(blocks: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Join (rows * cols, size, size, ...) blocks into one image."""
    size = blocks.shape[1]
    rest = blocks.shape[3:]
    b = blocks.reshape(rows, cols, size, size, *rest).swapaxes(1, 2)
    return b.reshape(rows * size, cols * size, *rest)


def turn(blocks: np.ndarray, t: int) -> np.ndarray:
    """Apply dihedral transform ``t`` to a stack of blocks: mirror left-right if bit 2, then (t & 3) quarter turns
    counter-clockwise."""
    if t & 4:
        blocks = blocks[:, :, ::-1]
    return np.rot90(blocks, t & 3, axes=(1, 2))


def unturn(blocks: np.ndarray, t: int) -> np.ndarray:
    """Undo ``turn(blocks, t)``."""
    blocks = np.rot90(blocks, -(t & 3), axes=(1, 2))
    if t & 4:
        blocks = blocks[:, :, ::-1]
    return blocks


def turn_each(blocks: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """A copy of a stack of blocks with block i turned by ``transform[i]`` (``turn``)."""
    out = np.empty_like(blocks)
    for t in range(8):
        idx = np.flatnonzero(transform == t)
        if idx.size:
            out[idx] = turn(blocks[idx], t)
    return out


def unturn_each(blocks: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """A copy of a stack of blocks with block i's ``turn`` by ``transform[i]`` undone."""
    out = np.empty_like(blocks)
    for t in range(8):
        idx = np.flatnonzero(transform == t)
        if idx.size:
            out[idx] = unturn(blocks[idx], t)
    return out


def as_printed(blocks: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """Upright front blocks listed in printed order (``(cells, b, b)``, as ``locate.sample_blocks`` samples them)
    laid out as printed: each in its cell and turned as printed, side by side without the guard bands."""
    return _from_blocks(turn_each(blocks, block_map.transform), spec.ROWS, spec.COLS)


def scramble(front: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """Shuffle and turn the blocks of a FRONT_H x FRONT_W front into the GRID_H x GRID_W design image."""
    if front.shape[:2] != (spec.FRONT_H, spec.FRONT_W):
        raise ValueError(f"front must be {spec.FRONT_H}x{spec.FRONT_W}, got {front.shape[:2]}")
    blocks = turn_each(_to_blocks(front, spec.ROWS, spec.COLS, spec.BLOCK)[block_map.perm], block_map.transform)
    pad = [(0, 0), (spec.GUARD, spec.GUARD), (spec.GUARD, spec.GUARD)] + [(0, 0)] * (front.ndim - 2)
    padded = np.pad(blocks, pad, mode="edge")
    return _from_blocks(padded, spec.ROWS, spec.COLS)


def descramble(design: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """Recover the front from a GRID_H x GRID_W design image (guards dropped), inverse of ``scramble``."""
    if design.shape[:2] != (spec.GRID_H, spec.GRID_W):
        raise ValueError(f"design image must be {spec.GRID_H}x{spec.GRID_W}, got {design.shape[:2]}")
    g, b = spec.GUARD, spec.BLOCK
    printed = _to_blocks(design, spec.ROWS, spec.COLS, spec.PITCH)[:, g:g + b, g:g + b]
    front = np.empty_like(printed)
    front[block_map.perm] = unturn_each(printed, block_map.transform)
    return _from_blocks(front, spec.ROWS, spec.COLS)


def front_blocks(front: np.ndarray) -> np.ndarray:
    """The blocks of a FRONT_H x FRONT_W front (or one reduced by a factor dividing BLOCK) in front order:
    (ROWS * COLS, b, b, ...) with b = BLOCK (or BLOCK reduced alike)."""
    return _to_blocks(front, spec.ROWS, spec.COLS, front.shape[0] // spec.ROWS)


def place_blocks(blocks: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """The front from its upright blocks listed in printed order (row p is front block ``perm[p]``), each row
    b * b pixels long (b = BLOCK, or BLOCK / 2 at half resolution), as ``locate.sample_blocks`` samples them."""
    b = math.isqrt(blocks.shape[1])
    front = np.empty_like(blocks)
    front[block_map.perm] = blocks
    return _from_blocks(front.reshape(len(front), b, b, *blocks.shape[2:]), spec.ROWS, spec.COLS)
