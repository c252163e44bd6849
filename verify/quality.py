"""Seam coherence of a restored block grid: whether the blocks fit their neighbours as a front's do."""

from __future__ import annotations

import cv2
import numpy as np

from . import spec

TEXTURE_SPREAD = 3.0  # paper below its median by this many times its spread below it (median - 25th percentile)
MIN_PAPER = 160  # and no darker than this: the palest printed ink (a faded red) stays ink
MIN_TEXTURE = 3  # levels of that spread from which the paper is textured at all (1 on clean paper, 11 on grain)
MIN_SEAM_STD = 12.0  # levels of spread along a block's edge from which it has structure (at full size)
COARSE = 8  # reduction at which seams are measured again before an accusation: a block is 4 pixels across
# Seam coherence at full size over that at COARSE from which a print moved its strokes a few pixels, smoothly over the
# page (toner that slipped in transfer, Augraphy's InkShifter): the blocks' ink then meets across every seam reduced
# but not at full size. Flat scans of every class of tests/simulate.py, genuine and forged backs: 0.86 to 1.02.
# tests/field.py's strokes-moved: 1.07 to 1.14 at 1 px (every genuine field within DARKER), 1.15 to 1.23 at 1.5 px,
# 1.20 to 1.28 at 2 px, 1.26 to 1.33 at 2.5 px, where genuine fields came out up to 1.76 levels darker than signed
MOVED = 1.12


def seam_coherence(front_gray: np.ndarray, excluded: np.ndarray | None = None, scale: int = 1) -> float:
    """How well the restored blocks fit their neighbours: the mean step across block seams divided by the mean step
    between the same block edges and the edges of unrelated blocks. About 0.5 when restored with the right block
    map (up to 0.8 for 1-bit scans), 1.0 when the blocks were put in the wrong places. Only block edges with
    structure on the near side count, so blank paper does not dilute it and the two means share one sample.

    The paper's own texture (a grained or mottled sheet, grime) is structure the scramble cut at every seam, and can
    hide how well the ink fits: where the paper's spread below its median reaches MIN_TEXTURE, the fit is also measured
    with the texture flattened (every level above TEXTURE_SPREAD times that spread below the median, and above
    MIN_PAPER, taken as paper), and the better of the two counts. Blocks in the wrong places fit no better either way; a
    photograph's shading, which fits across every seam, counts in the first. Seams beside a block of ``excluded``
    ((ROWS, COLS), blocks under a mark: a stamp's or a watermark's fragments end at the block's edge wherever they land)
    do not count. With ``scale`` (COARSE) the front is first reduced that many times: strokes a print moved by a few
    pixels, which break every seam at full size, meet again, and blocks put in the wrong places still do not."""
    counts = np.bincount(front_gray[::7, ::7].ravel(), minlength=256).cumsum()  # uint8: quantiles by counting
    low, median = np.searchsorted(counts, (0.25 * counts[-1], 0.5 * counts[-1]))
    images = [front_gray]
    if median - low >= MIN_TEXTURE:  # paper grained enough for flattening to change the fit
        images.append(np.minimum(front_gray, np.uint8(max(median - TEXTURE_SPREAD * (median - low), MIN_PAPER))))
    left_out = np.zeros((spec.ROWS, spec.COLS), bool) if excluded is None else excluded
    fits = []
    for img in images:
        if scale > 1:
            img = cv2.resize(img, (img.shape[1] // scale, img.shape[0] // scale), interpolation=cv2.INTER_AREA)
        fits.append(_seam_ratio(img, left_out, spec.BLOCK // scale, MIN_SEAM_STD / scale ** 0.5))
    return min(fits)


def strokes_moved(front_gray: np.ndarray, excluded: np.ndarray, coherence: float) -> bool:
    """Whether the restored blocks (seam coherence ``coherence`` at full size, the seams beside ``excluded`` blocks
    not counted) fit their neighbours MOVED times worse at full size than reduced COARSE times: a print that moved
    its strokes a few pixels, which moves the cells' ink as a changed character does."""
    return coherence >= MOVED * seam_coherence(front_gray, excluded, COARSE)


def _seam_ratio(front: np.ndarray, left_out: np.ndarray, b: int, min_std: float) -> float:
    """``seam_coherence`` of ``front`` (blocks ``b`` pixels across) as it stands."""
    seam = other = 0.0
    for img, skip in ((front, left_out), (front.T, left_out.T)):
        last = np.arange(b - 1, img.shape[1] - 1, b)
        rows = img.shape[0] // b

        def segments(cols: np.ndarray, img: np.ndarray = img, rows: int = rows) -> np.ndarray:
            return cols.reshape(rows, b, -1).transpose(0, 2, 1).reshape(-1, b)  # one row per block edge

        left, right = (segments(img[:, c].astype(np.float32)) for c in (last, last + 1))
        shift = len(right) // 2 + 7
        unrelated = np.roll(right, shift, axis=0)  # another block row and column
        beside = (skip[:, :-1] | skip[:, 1:]).ravel()
        counted = (left.std(1) > min_std) & ~beside & ~np.roll(beside, shift)
        seam += float(np.abs(left - right)[counted].sum())
        other += float(np.abs(left - unrelated)[counted].sum())
    return (seam + 1.0) / (other + 1.0)
