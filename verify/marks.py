"""What is on a scanned back that the issuer did not print there: marks made on the paper (a receiving stamp, a
sticky note, a highlighter, a pen, a grey felt-tip) and creases where a folded sheet no longer follows the dot track.

Both are found where a forger cannot put them to use. A mark is drawn over the printed back, so it runs on across
the boundaries of the printed cells, which the scramble does only by chance: the issuer's ink is cut into cells,
each from an unrelated part of the front, and a run of its ink crosses a boundary only where unrelated cells happen
to meet in ink, rarely over more than a few cells (a false mark costs a field its check, never an accusation). A crease
shows in the dot track that frames the scrambled area: the dots beyond it step sideways or apart together.

The cells found are not compared with the signed fingerprint. A field that loses a cell to them is reported as
not checked, with the reason, never as altered and never as matching: covering a changed field's cells with a
mark turns an accusation into "not checked", and the field's signed text (format v3) stays beside the front.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

import cv2
import numpy as np

from . import spec
from .derive import BlockMap
from .locate import GridFit
from .scramble import as_printed, front_blocks

CHROMA = 18  # chroma (distance of Cr, Cb from neutral, in YCrCb levels) from which a pixel counts as coloured ink
MIN_CHROMA_PIXELS = 6  # of the half-resolution samples in one cell, for the cell to hold coloured ink
TONED_PAPER = 240  # restored levels (paper 255) below which the paper around a pixel lies under a broad grey mark
TONED_REACH = 3  # quarter-resolution samples (1.1 mm) across the square whose brightest sample is that paper: wider
# than a stroke of text blurred by a 150 dpi scan, which has paper beside it
MARK_SPAN = 3.5  # cell pitches a run of coloured ink spans at least to be a mark (13 mm): the scramble cuts ink at one
PEN_DARK = 110  # restored levels below which a pixel is dark ink (paper 255, the dots' ink 0)
PEN_FAINT = 170  # and below which it is ink where a pen's stroke runs on, pressed more lightly
MAX_PEN_RUN = 12  # pixels along a cell's edge one thin stroke crossing it covers at most (a rule along it: more)
MIN_PEN_CELLS = 5  # cells a chain of thin strokes crossing from cell to cell joins, at least, to be a mark
NOTE_ROUNDS = 4  # times a note takes in the chains of three cells or more within three cells of it
PEN_REACH = 4  # cells beyond a pen mark within which its strokes are followed on the scan
MAX_GROWTH = 6  # steps of a cell by which a mark takes in the coloured ink around it
CREASE_REACH = 5  # rows (columns) beside a crease's that are taken with it: the paper bulges there
MAX_SKEW_CELLS = 8  # rows a crease may fall across the sheet's width (a fold 12 degrees askew) to be one crease


def front_masks(left_out: dict[str, np.ndarray], block_map: BlockMap) -> dict[str, np.ndarray]:
    """Per reason (``marked``, ``creased``), the printed cells left out (bool per printed position) as a (ROWS,
    COLS) mask of the restored front's blocks."""
    return {reason: front_mask(printed, block_map) for reason, printed in left_out.items()}


def front_mask(printed: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """The printed cells ``printed`` (bool per printed position) as a (ROWS, COLS) mask of the front's blocks."""
    front = np.zeros(spec.ROWS * spec.COLS, bool)
    front[block_map.perm[printed]] = True
    return front.reshape(spec.ROWS, spec.COLS)


_DEVIATION = (np.arange(256) - 128) ** 2
_SQUARED_CHROMA = np.stack([np.zeros(256), _DEVIATION, _DEVIATION], -1).astype(np.uint16)[None]


def coloured_marks(ycc_printed: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """Printed cells (bool per printed position) under a mark in coloured ink, from the half-resolution YCrCb
    samples of every block (``(cells, side * side, 3)``, in printed order, each block upright as on the front).

    The cells are laid side by side as printed (the guard bands left out, so that ink crossing a boundary stays
    joined); coloured ink that forms one run across more than MARK_SPAN cells is a mark, and so is every cell
    inside the outline of such a run (the date inside a stamp's ring, the body of a sticky note)."""
    cells, area, _ = ycc_printed.shape
    side = int(round(area ** 0.5))
    squares = cv2.LUT(ycc_printed, _SQUARED_CHROMA)  # (Cr - 128)^2 and (Cb - 128)^2, a table look-up each
    coloured = ((squares[..., 1] + squares[..., 2]) > CHROMA**2).reshape(cells, side, side)
    if coloured.sum() < MIN_CHROMA_PIXELS:
        return np.zeros(cells, bool)
    return _runs_across_cells(as_printed(coloured, block_map), side)


def _as_printed(front: np.ndarray, block_map: BlockMap, ignore: np.ndarray | None) -> np.ndarray:
    """The restored front's blocks laid out as printed (``scramble.as_printed``), those of ``ignore`` (bool per
    printed position) blanked to paper."""
    blocks = front_blocks(front)[block_map.perm]  # a copy: indexed by the permutation
    if ignore is not None:
        blocks[ignore] = 255
    return as_printed(blocks, block_map)


def toned_marks(luma: np.ndarray, block_map: BlockMap, ignore: np.ndarray | None = None) -> np.ndarray:
    """Printed cells (bool per printed position) under a broad mark in grey or black (a watermark or grey felt-tip
    pressed over the back, a smudge of toner, a pencil's shading): on the restored front's luminance, averaged to a
    quarter of its size (a broad mark is broad) and laid out as printed, paper that stays below TONED_PAPER over
    TONED_REACH samples (not a stroke of text, which has paper beside it) and forms one run across more than
    MARK_SPAN cells, as coloured ink does in ``coloured_marks``. Cells of ``ignore`` (a crease, whose shadow is
    broad grey) are not looked at."""
    side = spec.BLOCK // 4
    small = cv2.resize(luma, (spec.FRONT_W // 4, spec.FRONT_H // 4), interpolation=cv2.INTER_AREA)
    square = np.ones((TONED_REACH, TONED_REACH), np.uint8)
    paper = cv2.dilate(_as_printed(small, block_map, ignore), square)
    return _runs_across_cells(paper < TONED_PAPER, side)


def _runs_across_cells(mark: np.ndarray, side: int) -> np.ndarray:
    """Printed cells (bool per printed position) under a mark, from ``mark`` (bool, the printed layout at ``side``
    pixels a cell): a run of it across more than MARK_SPAN cells is a mark, and so is every cell inside the outline
    of such a run and of the runs within a cell of it, grown MAX_GROWTH times."""
    mosaic = cv2.morphologyEx(mark.view(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8))
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mosaic, connectivity=8)
    reach = MARK_SPAN * side
    span = np.maximum(stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT])
    seeds = np.flatnonzero(span >= reach)
    seeds = seeds[seeds > 0]
    if not seeds.size:
        return np.zeros(spec.ROWS * spec.COLS, bool)
    # the rest of the same mark: ink within a cell of it (a stamp's date, the next written word), in turn
    members: np.ndarray  # label numbers: from np.flatnonzero, then from np.unique of cv2's labels
    members, kernel = seeds, np.ones((2 * side + 1, 2 * side + 1), np.uint8)
    for _ in range(MAX_GROWTH):
        near = cv2.dilate(np.isin(labels, members).astype(np.uint8), kernel)
        grown = np.unique(labels[(near > 0) & (labels > 0)])
        if grown.size == members.size:
            break
        members = grown
    cover = np.zeros_like(mosaic)
    for i in members:
        pts = cv2.findNonZero((labels == i).astype(np.uint8))
        cv2.fillConvexPoly(cover, cv2.convexHull(pts), 1)
    cover = cv2.dilate(cover, np.ones((9, 9), np.uint8))  # and the ink's soft edge around it
    return cover.reshape(spec.ROWS, side, spec.COLS, side).any(axis=(1, 3)).ravel()


def creases(jumps: dict[str, np.ndarray]) -> np.ndarray:
    """Printed cells (bool per printed position) along a crease, from where the dot track jumps (``GridFit.creases``:
    per side, k where dots k and k + 1 lie apart). Each panel of a folded sheet is mapped by the track on its own
    side of the crease; the row of cells the crease runs through (between the jumps on the left and the right, for a
    crease askew) mixes two panels, as does a column for a crease down the sheet, and CREASE_REACH rows (columns)
    either side are taken too, where the paper beside the crease bulges off the dots' fit. Their cells are compared
    and left out of a field only where one differs (``content.compare``)."""
    out = np.zeros((spec.ROWS, spec.COLS), bool)
    for sides, n, axis in ((("left", "right"), spec.ROWS, 0), (("top", "bottom"), spec.COLS, 1)):
        near, far = (np.asarray(jumps.get(s, ()), dtype=int) for s in sides)
        band = np.zeros(n, bool)
        band[np.concatenate([near, far])] = True
        for k in near:  # a crease askew meets the far side at another row: the rows between are crossed too
            if len(far):
                j = far[np.argmin(np.abs(far - k))]
                if abs(j - k) <= MAX_SKEW_CELLS:
                    band[min(j, k):max(j, k) + 1] = True
        band = np.convolve(band, np.ones(2 * CREASE_REACH + 1), mode="same") > 0  # the paper bulges either side
        if axis == 0:
            out[band, :] = True
        else:
            out[:, band] = True
    return out.ravel()


def follow_strokes(gray: np.ndarray, grid: GridFit, cells: np.ndarray) -> np.ndarray:
    """The printed cells ((ROWS, COLS) bool) that ink (PEN_FAINT on the restored front's scale, from the dots' ink
    to the paper around them) running on from inside ``cells`` reaches, within PEN_REACH cells of them, followed on
    the scan rectified to the printed layout: a pen's stroke is unbroken there, where the restored blocks lose it
    across the guard bands between cells."""
    dark_level = grid.ink + (grid.paper - grid.ink) * PEN_FAINT / 255
    rows, cols = np.nonzero(cells)
    out = np.zeros_like(cells)
    if not rows.size:
        return out
    p, step = spec.PITCH, 4
    r0, r1 = max(0, rows.min() - PEN_REACH), min(spec.ROWS, rows.max() + PEN_REACH + 1)
    c0, c1 = max(0, cols.min() - PEN_REACH), min(spec.COLS, cols.max() + PEN_REACH + 1)
    w, h = (c1 - c0) * p, (r1 - r0) * p  # one pixel a unit
    knots = grid.scan_points(np.arange(c0 * p, c1 * p + step, step, dtype=np.float64),
                             np.arange(r0 * p, r1 * p + step, step, dtype=np.float64)).astype(np.float32)
    size = (knots.shape[1] * step, knots.shape[0] * step)
    maps = [cv2.resize(knots[..., i], size, interpolation=cv2.INTER_LINEAR)[:h, :w] for i in (0, 1)]
    ink = (cv2.remap(gray, maps[0], maps[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE) < dark_level)
    _, labels = cv2.connectedComponents(ink.view(np.uint8), connectivity=8)
    inside = np.kron(cells[r0:r1, c0:c1], np.ones((p, p), bool))
    strokes = np.isin(labels, np.unique(labels[inside & (labels > 0)]))
    out[r0:r1, c0:c1] = strokes.reshape(r1 - r0, p, c1 - c0, p).any(axis=(1, 3))
    return out


def _joined_cells(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Printed cells joined where a thin stroke of ``ink`` (bool, the printed layout) leaves one and enters its
    neighbour at the same place: a label per cell ((ROWS, COLS), 0 for a cell joined to none) and the number of
    cells per label."""
    b = spec.BLOCK
    joins, run = [], np.ones((MAX_PEN_RUN + 1, 1), np.uint8)
    for img in (ink, ink.T):  # boundaries between columns of cells, then between rows
        left, right = img[:, b - 1:-1:b], img[:, b::b]
        rows = img.shape[0] // b
        both = (left & right).reshape(rows, b, -1).sum(1)
        # a rule along the boundary darkens a long unbroken run of it; a note's loops cross it often, each thinly
        # cast: cv2's stubs give an integer-or-float array, on which `|` is not defined; these are uint8
        ruled = cast(np.ndarray, cv2.erode(left.view(np.uint8), run)) | cv2.erode(right.view(np.uint8), run)
        joins.append((both >= 1) & ~ruled.reshape(rows, b, -1).any(1))
    graph = np.zeros((2 * spec.ROWS - 1, 2 * spec.COLS - 1), np.uint8)
    graph[::2, 1::2] = joins[0]  # (ROWS, COLS - 1)
    graph[1::2, ::2] = joins[1].T  # (ROWS - 1, COLS)
    graph[::2, ::2] = (cv2.dilate(graph, np.ones((3, 3), np.uint8))[::2, ::2] > 0)
    count, labels = cv2.connectedComponents(graph, connectivity=4)
    cells = labels[::2, ::2]
    return cells, np.bincount(cells.ravel(), weights=graph[::2, ::2].ravel(), minlength=count)


def _hatch() -> tuple[np.ndarray, np.ndarray]:
    """The hatch ``shade`` lays on a block: per pixel the tint's weight (hatch lines, tinted between), and the tint."""
    b = spec.BLOCK
    yy, xx = np.indices((b, b))
    weight = np.where(((xx + yy) % 8) < 2, 0.5, 0.2).astype(np.float32)[..., None]
    return weight, np.array([90, 140, 230], np.float32)


def shade(front_rgb: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """The restored front with the blocks of ``blocks`` ((ROWS, COLS) bool) hatched in pale blue: what is there
    came through a mark or a crease and may not be the certificate's own."""
    if not blocks.any():
        return front_rgb
    weight, tint = _hatch()
    out = front_rgb.copy()
    view = out.reshape(spec.ROWS, spec.BLOCK, spec.COLS, spec.BLOCK, 3).swapaxes(1, 2)  # (ROWS, COLS, b, b, 3)
    view[blocks] = (view[blocks] * (1 - weight) + tint * weight).astype(np.uint8)
    return out


def unshade(front_rgb: np.ndarray, blocks: np.ndarray) -> np.ndarray:
    """The front ``shade`` hatched in ``blocks``, with the hatch taken out again (to within rounding): the print that
    came through there, for a comparison that must not read the hatch as ink."""
    if not blocks.any():
        return front_rgb
    weight, tint = _hatch()
    out = front_rgb.copy()
    view = out.reshape(spec.ROWS, spec.BLOCK, spec.COLS, spec.BLOCK, 3).swapaxes(1, 2)
    view[blocks] = np.clip((view[blocks] - tint * weight) / (1 - weight) + 0.5, 0, 255).astype(np.uint8)
    return out


def boxes(left_out: dict[str, np.ndarray]) -> dict[str, list[list[int]]]:
    """Per reason, the restored front's blocks left out, as boxes [x0, y0, x1, y1] in restored-front pixels."""
    b = spec.BLOCK
    return {reason: [[int(c) * b, int(r) * b, (int(c) + 1) * b, (int(r) + 1) * b] for r, c in np.argwhere(mask)]
            for reason, mask in left_out.items() if mask.any()}


def pen_marks(luma: np.ndarray, block_map: BlockMap, follow: Callable[[np.ndarray], np.ndarray] | None = None,
              ignore: np.ndarray | None = None) -> np.ndarray:
    """Printed cells (bool per printed position) under a thin stroke in dark ink (a ballpoint note in black, a
    pencil line) drawn across the printed back: where a thin dark stroke leaves one printed cell and enters its
    neighbour at the same place, the two cells are joined, and a chain of at least MIN_PEN_CELLS joined cells is a
    mark, with the shorter and fainter chains around it, every cell within their outlines, the cells its strokes
    run on into (``follow``: ``follow_strokes`` on the scan) and the cells within three of them (a loop of the
    handwriting reaches that far beyond its chain). The scramble puts unrelated blocks side by side, so its own
    strokes meet at a boundary only by chance, and such chance meetings do not chain. Cells of ``ignore`` (a
    crease, whose shadow runs from cell to cell as a stroke does) are not looked at."""
    mosaic = _as_printed(luma, block_map, ignore)
    cells, cells_per = _joined_cells(mosaic < PEN_DARK)
    chains = np.flatnonzero(cells_per >= MIN_PEN_CELLS)
    chains = chains[chains > 0]
    if not chains.size:
        return np.zeros(spec.ROWS * spec.COLS, bool)
    note = np.isin(cells, chains).astype(np.uint8)
    # a note of several lines or words: the chains of three or more cells beside it belong to it, and those beside
    # them in turn (a line written more lightly than the next, a word set apart)
    for _ in range(NOTE_ROUNDS):
        near = cv2.dilate(note, np.ones((7, 7), np.uint8)) > 0
        joined = np.unique(cells[near & (cells > 0) & (cells_per[cells] >= 3)])
        grown = (note > 0) | np.isin(cells, joined)
        if grown.sum() == note.sum():
            break
        note = grown.astype(np.uint8)
    found = np.zeros((spec.ROWS, spec.COLS), np.uint8)
    # the whole of the note: shorter chains within three cells of it (the next word, the line above), and the
    # chains of its lightly pressed strokes within four (only those cells: faint ink chains by chance across the
    # scramble's grey)
    faint, faint_per = _joined_cells(mosaic < PEN_FAINT)
    for labels, per, reach in ((cells, cells_per, 7), (faint, faint_per, 9)):
        near = cv2.dilate(note, np.ones((reach, reach), np.uint8)) > 0
        for i in np.unique(labels[near & (labels > 0) & (per[labels] >= 2)]):  # every cell within each outline
            pts = np.argwhere((labels == i) & near)[:, ::-1].astype(np.int32)
            cv2.fillConvexPoly(found, cv2.convexHull(pts), 1)
    if follow is not None:  # and the cells its strokes run on into, followed on the scan, where a stroke runs on
        found |= follow(found.astype(bool)).astype(np.uint8)  # unbroken across the guard bands between cells
    return cv2.dilate(found, np.ones((7, 7), np.uint8)).astype(bool).ravel()  # a loop reaches cells further
