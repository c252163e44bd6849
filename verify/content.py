"""The content fingerprint of formats v2 and v3: what the issuer printed in the regions that matter, small enough
for the data strip, and the verifier's region-by-region comparison with the restored front. Format v3 adds each
region's text and encrypts the whole payload.

A region is a named box of the front in restored-front pixels (FRONT_W x FRONT_H), snapped outwards to whole
cells of ``cell`` pixels. The fingerprint of a region is the darkness of each cell of the softened front:

    soft  = min(GaussianBlur(gray, sigma = 0.375 * cell), WHITE)      (gray: ITU-R 601 luma of the front)
    level = clip(round((WHITE - mean of soft over the cell) / STEP), 0, 15)

Softening first makes a level depend on how much ink a cell holds, not on where exactly a stroke edge falls, so
the restoration's sub-pixel misregistration and blur move levels much less than a changed character does; the
cap at WHITE ignores the faint background pattern. The issuer picks the smallest cell of CELL_SIZES whose
serialized fingerprint fits the strip; the verifier flags a region when any of its cells differs from the
signed level by more than DARKER levels darker or LIGHTER levels lighter.

Serialized (``docs/format.md`` section 9): an LZMA2 raw stream (dictionary 64 KiB) of
u8 cell || u8 region count || per region (u8 name length || name ASCII || u16be x, y, w, h in cells) ||
the levels of every region, row by row, one byte each || v3 only: per region, u16be length || its text in UTF-8.
In v3 that stream is encrypted (section 10): ChaCha20-Poly1305 under the certificate's strip key.
"""

from __future__ import annotations

import lzma
import math
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from . import spec
from .derive import length_prefixed
from .errors import ScrambleMismatch

WHITE = 220  # softened gray above this is paper (and the faint background pattern)
STEP = 28  # gray levels per fingerprint level
CELL_SIZES = (5, 6, 8, 10, 12, 16, 24, 32)  # 4 px cells measured noisier than a changed digit
SIGMA_PER_CELL = 0.375
# Levels a cell of a genuine restoration stays within (measured: bench/forgery.py, bench/field.py). Ink where the
# issuer printed none is what a changed character adds: a field whose cells come out more than DARKER levels
# darker than signed is not confirmed (the answer asks for a better scan), and one more than ACCUSE levels darker
# is called altered. A cell the scan prints lighter than signed by more than LIGHTER (faded or streaky toner,
# ink under a note) leaves its field unchecked, never accused: the fingerprint cannot tell ink a scan lost from ink
# a forger removed, and the signed text (format v3) shows what the field says.
DARKER = 1.3
ACCUSE = 1.6
LIGHTER = 1.6
MAX_TONE_CHANGE = 0.3  # the most a scan's ink may be strengthened or weakened, as a fraction
SURFACE_CELLS = 60  # inked cells from which the ink gain is fitted as a surface over the back (``_gain_surface``)
SURFACE_ROUNDS = 5  # rounds of reweighting in that fit
SURFACE_FIT = 0.92  # the surface replaces the page's one gain where it leaves the cells' log ratios spread less
# than this share of what one gain leaves (median absolute deviation): 0.73 to 0.89 under glare; 0.95 to 1.0 on the
# flat scans of every class of tests/simulate.py, forged backs included; 0.91 to 0.99 on folded sheets. Where the
# cells' ratios are noisy (fields of faint levels) glare leaves them at 0.91 to 0.98; where the dots show the light
# uneven (UNEVEN_DOTS) the surface is used wherever it can be fitted
INKED_LEVEL = 1  # signed levels from which a cell counts as inked
# A scan that kept the print's tones shows ink in flat middle greys (colour ink, tints, grey type): of the pixels
# darker than paper, 7 to 15 % in genuine scans of the sample, half faded red included. A scan thresholded to black
# and white (a scanner's text mode saved in grey) keeps them only along stroke edges: 0.5 to 2.6 %.
MID_TONES = (60, 200)  # levels of a middle grey on the restored front
FLAT = 6.0  # levels per pixel below which the front is flat there (Sobel magnitude / 8)
MIN_MID_TONES = 0.045  # share of the ink in flat middle greys below which the scan lost the print's tones
# The blank paper beside the scrambled area, processed as the front is, must read as blank paper: no cell of a
# genuine scan of a clean print reads there as ink (every class of tests/simulate.py and of tests/field.py). A
# textured or speckled print (Augraphy's paper and ink models), toner spots or grime do, and what specks the margin
# specks the scrambled area too, where it makes fields read darker: an accusation needs a field darker than ACCUSE
# by more than the darkest cell of that paper, and from SPOT_LEVEL there the paper counts as spotted: a field that
# comes out darker than DARKER but within ACCUSE plus that level is then not checked (reason ``spotted``).
# Along a crease a block may restore a little out of place, but most do not: the cells there are compared too, and
# left out (reason ``creased``) in a region where one of them differs by more than MATCHING of either threshold.
MATCHING = 0.7
SPOT_LEVEL = 0.5
BLACK_REACH = 3  # blocks either side of a block among which the darkest ink is the scan's black there
FADED_FROM = 2  # signed levels from which a cell's ink can be said to have faded
FADED_INK = 0.5  # of its signed ink, under which a cell's ink has faded
STREAK_CELLS = 12  # inked cells a column of printed blocks needs for its ink to be measured (streak_depth)
STREAK_DEPTH = 0.33  # log ratio from which a column printed paler than the page (28 %): streaky toner, which
# leaves the other columns darker than signed. Flat scans (grey paper, black toner faded) 0.11 to 0.28; toner
# streaks 0.13 to 0.40, the one streaky back a page gain made 1.62 levels darker than signed 0.40
FADED_CELLS = 0.2  # share of faded inked cells from which the scan did not carry the print's ink (every class of
# tests/simulate.py and tests/field.py at most 0.095, red ink half faded; forged backs 0.014; Augraphy's inks swapped
# for pale ones 0.54 to 0.74, tests/field.py's inks-swapped 0.2 to 0.55)
UNEVEN_BLACK = 60  # levels of spread in that black from which a scan's light is too uneven to accuse (40 to 48
# measured on flat scans of the sample; 50 to 89 under a glare that veils 40 % at its brightest)
UNEVEN_DOTS = 20  # levels of spread in the dots' darkness (10th to 90th percentile) from which, too: the dots are
# printed alike all round the area (at most 8 levels apart on flat scans and photographs of every class of
# tests/simulate.py and tests/field.py, 13 on its textured paper; 15 to 54 under that glare; 77 in toner streaks)
_FILTERS = [{"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME, "dict_size": 1 << 16}]
MAX_RAW = spec.FRONT_W * spec.FRONT_H // 16 + 65_536  # a bound on a serialized fingerprint, for decompression
SEAL_LABEL = b"certverify/v3/strip\x00"  # v3: associated data of the strip's encryption
SEAL_NONCE = bytes(12)  # each strip key encrypts one payload only


@dataclass(frozen=True)
class Region:
    """A named part of the front and its fingerprint levels (rows x cols, uint8)."""

    name: str
    x: int  # in cells
    y: int
    levels: np.ndarray
    text: str = ""  # format v3: the field's text as the issuer printed it

    def box(self, cell: int) -> tuple[int, int, int, int]:
        """(x0, y0, x1, y1) in restored-front pixels."""
        h, w = self.levels.shape
        return self.x * cell, self.y * cell, (self.x + w) * cell, (self.y + h) * cell


@dataclass(frozen=True)
class Fingerprint:
    cell: int
    regions: tuple[Region, ...]

    def to_bytes(self, version: int = 2) -> bytes:
        """The LZMA2-compressed serialization; from version 3 on with each region's text."""
        head = bytearray([self.cell, len(self.regions)])
        for r in self.regions:
            name = r.name.encode("ascii")
            head += bytes([len(name)]) + name + struct.pack(">4H", r.x, r.y, r.levels.shape[1], r.levels.shape[0])
        body = b"".join(r.levels.astype(np.uint8).tobytes() for r in self.regions)
        if version >= 3:
            body += b"".join(length_prefixed(r.text) for r in self.regions)
        return lzma.compress(bytes(head) + body, format=lzma.FORMAT_RAW, filters=_FILTERS)

    @classmethod
    def from_bytes(cls, data: bytes, version: int = 2) -> Fingerprint:
        """Parse a fingerprint; ValueError when malformed (only signed strips reach here)."""
        try:
            raw = lzma.LZMADecompressor(format=lzma.FORMAT_RAW, filters=_FILTERS).decompress(data, MAX_RAW)
            cell, count, pos = raw[0], raw[1], 2
            shapes = []
            for _ in range(count):
                n = raw[pos]
                name = raw[pos + 1:pos + 1 + n].decode("ascii")
                x, y, w, h = struct.unpack(">4H", raw[pos + 1 + n:pos + 9 + n])
                shapes.append((name, x, y, w, h))
                pos += 9 + n
            levels = []
            for _, _, _, w, h in shapes:
                levels.append(np.frombuffer(raw, np.uint8, w * h, pos).reshape(h, w))
                pos += w * h
            texts = []
            for _ in shapes if version >= 3 else ():
                (n,) = struct.unpack(">H", raw[pos:pos + 2])
                if pos + 2 + n > len(raw):
                    raise ValueError("a text runs past the end")
                texts.append(raw[pos + 2:pos + 2 + n].decode("utf-8"))
                pos += 2 + n
        except (lzma.LZMAError, IndexError, ValueError, struct.error, UnicodeDecodeError) as exc:
            raise ValueError(f"malformed content fingerprint: {exc}") from exc
        if cell not in CELL_SIZES:
            raise ValueError(f"cell size {cell} is not one of {CELL_SIZES}")
        texts = texts or [""] * len(shapes)
        return cls(cell, tuple(Region(name, x, y, lv, text)
                               for (name, x, y, _, _), lv, text in zip(shapes, levels, texts, strict=True)))

    def signed_text(self) -> list[dict[str, Any]]:
        """The regions that carry text (format v3), in the issuer's order, with their boxes on the restored front:
        what the result shows beside the front."""
        return [{"name": r.name, "text": r.text, "box": list(r.box(self.cell))} for r in self.regions if r.text]


def seal(packed: bytes, version: int, key: bytes | None) -> bytes:
    """The strip's payload: from version 3 on the serialized fingerprint encrypted under the strip key."""
    if version < 3:
        return packed
    if key is None:  # the TypeError ChaCha20Poly1305(None) would raise, with a clearer message
        raise TypeError("a version 3 seal needs the strip key")
    return ChaCha20Poly1305(key).encrypt(SEAL_NONCE, packed, SEAL_LABEL)


def unseal(payload: bytes, version: int, key: bytes | None) -> Fingerprint:
    """The fingerprint from a strip's payload whose digest the signed code vouches for.

    ``ScrambleMismatch`` when a v3 payload does not open with the strip key: the site's scramble secret for this
    key id is not the one the back was made with, so neither the strip nor the blocks can be read. ``ValueError``
    when the payload opens but is malformed (an issuing fault)."""
    if version >= 3:
        if key is None:  # the TypeError ChaCha20Poly1305(None) would raise, with a clearer message
            raise TypeError("a version 3 payload needs the strip key")
        try:
            payload = ChaCha20Poly1305(key).decrypt(SEAL_NONCE, payload, SEAL_LABEL)
        except InvalidTag as exc:
            raise ScrambleMismatch("the signed data strip does not open with this key's scramble secret") from exc
    return Fingerprint.from_bytes(payload, version)


@dataclass(frozen=True)
class RegionCheck:
    name: str
    box: tuple[int, int, int, int]  # restored-front pixels
    darker: float  # how much darker than signed the darkest-going compared cell is, in levels
    lighter: float  # and the lightest-going compared cell
    cells: int = 0  # cells of the region
    left_out: int = 0  # of them, cells not compared: under a mark or along a crease
    reason: str = ""  # why cells were left out: "marked" or "creased"
    spotted: bool = False  # darker than signed on paper specked enough to make it so: not checked

    @property
    def outcome(self) -> str:
        """``differs`` (an accusation), ``unconfirmed`` (darker than a genuine scan prints, not by enough to
        accuse), ``unchecked`` (cells left out, fainter than signed, or darker on spotted paper) or ``matches``."""
        if self.spotted:
            return "unchecked"
        if self.darker > ACCUSE:
            return "differs"
        if self.darker > DARKER:
            return "unconfirmed"
        if self.left_out or self.lighter > LIGHTER:
            return "unchecked"
        return "matches"

    @property
    def altered(self) -> bool:
        return self.outcome == "differs"

    @property
    def refused(self) -> bool:
        """Darker than signed by more than a genuine scan prints it: ``differs`` or ``unconfirmed``."""
        return self.outcome in ("differs", "unconfirmed")

    @property
    def why_unchecked(self) -> str:
        """The reason a field is unchecked: ``spotted``, ``marked``, ``creased`` or ``faded``."""
        return "spotted" if self.spotted else self.reason if self.left_out else "faded"


def _soft(gray: np.ndarray, cell: int) -> np.ndarray:
    return np.minimum(cv2.GaussianBlur(gray.astype(np.float32), (0, 0), SIGMA_PER_CELL * cell), WHITE)


def _cell_levels(soft: np.ndarray, box: tuple[int, int, int, int], cell: int) -> np.ndarray:
    """Continuous levels (WHITE - cell mean) / STEP of the cells in ``box``."""
    x0, y0, x1, y1 = box
    patch = soft[y0:y1, x0:x1]
    means = patch.reshape((y1 - y0) // cell, cell, (x1 - x0) // cell, cell).mean(axis=(1, 3))
    return (WHITE - means) / STEP


def _snap(box: tuple[float, float, float, float], cell: int) -> tuple[int, int, int, int]:
    """The box grown to whole cells and clipped to the front."""
    c0, r0 = max(0, math.floor(box[0] / cell)), max(0, math.floor(box[1] / cell))
    c1, r1 = min(spec.FRONT_W // cell, math.ceil(box[2] / cell)), min(spec.FRONT_H // cell, math.ceil(box[3] / cell))
    return c0 * cell, r0 * cell, c1 * cell, r1 * cell


def whole_page() -> dict[str, tuple[int, int, int, int]]:
    """The default regions when the issuer names none: the front in four horizontal bands."""
    band = spec.FRONT_H // 4
    return {f"band{i + 1}": (0, i * band, spec.FRONT_W, (i + 1) * band) for i in range(4)}


def fingerprint(front_gray: np.ndarray, regions: Mapping[str, tuple[float, float, float, float]], cell: int,
                texts: dict[str, str] | None = None) -> Fingerprint:
    """The fingerprint of ``regions`` (boxes in restored-front pixels) of a front at the restored size, with the
    text of those named in ``texts`` (format v3)."""
    texts = texts or {}
    soft = _soft(front_gray, cell)
    out = []
    for name, box in regions.items():
        snapped = _snap(box, cell)
        if snapped[2] <= snapped[0] or snapped[3] <= snapped[1]:
            raise ValueError(f"region {name!r} lies outside the front")
        levels = np.clip(np.round(_cell_levels(soft, snapped, cell)), 0, 15).astype(np.uint8)
        out.append(Region(name, snapped[0] // cell, snapped[1] // cell, levels, texts.get(name, "")))
    return Fingerprint(cell, tuple(out))


def fitting_fingerprint(front_gray: np.ndarray, regions: Mapping[str, tuple[float, float, float, float]],
                        capacity: int, *, texts: dict[str, str] | None = None, version: int = 2,
                        key: bytes | None = None) -> tuple[Fingerprint, bytes]:
    """The finest fingerprint of ``regions`` whose strip payload (sealed with ``key`` from version 3 on) fits
    ``capacity`` bytes."""
    for cell in CELL_SIZES:
        fp = fingerprint(front_gray, regions, cell, texts)
        data = seal(fp.to_bytes(version), version, key)
        if len(data) <= capacity:
            return fp, data
    raise ValueError("the regions do not fit the data strip even at the coarsest cell size: name fewer or smaller, "
                     "or shorten their text")


def compare(fp: Fingerprint, front_gray: np.ndarray, left_out: dict[str, np.ndarray] | None = None,
            printed: np.ndarray | None = None, uneven: bool = False) -> list[RegionCheck]:
    """Each region of ``fp`` against the restored front (gray, FRONT_H x FRONT_W).

    Only the regions (and the reach of the softening around them) are softened, as the whole front would be. The
    restored levels are first scaled by how much fainter or darker the scan printed the well-inked cells, which
    takes out what a scan does to the page and leaves what a changed character does to a few cells: one gain for
    the page, or, given where each front block was ``printed`` (``BlockMap.perm``), a gain that varies smoothly
    over the back (``_gain_surface``), as light and toner do: where it fits the cells better than one gain, or
    wherever it can be fitted when the light is known to be ``uneven`` over the back (``uneven_light``).

    ``left_out`` maps a reason (``marked``, ``creased``) to a (ROWS, COLS) mask of the front's blocks not to
    compare: every cell within the softening's reach of such a block is left out of the ink gain and of the
    comparison, and counted per region. Cells near ``creased`` blocks alone are compared all the same, and left out
    only in a region where one of them differs by more than MATCHING of either threshold."""
    measured, skipped, kept = _measure(fp, front_gray, left_out)
    gains = _gains(fp, measured, kept, printed, uneven)
    checks = []
    for r, m, k, s, gain in zip(fp.regions, measured, kept, skipped, gains, strict=True):
        diff = m / gain - r.levels
        if "creased" in s:  # a crease's cells (under no mark) count as compared where they all match
            cells = s["creased"] & ~s["marked"] if "marked" in s else s["creased"]
            if (diff[cells] <= MATCHING * DARKER).all() and (-diff[cells] <= MATCHING * LIGHTER).all():
                k, s = k | cells, {**s, "creased": s["creased"] & ~cells}
        diff = diff[k]
        reasons = [reason for reason, cells in s.items() if cells.any()]
        checks.append(RegionCheck(r.name, r.box(fp.cell), round(max(0.0, float(diff.max(initial=0.0))), 2),
                                  round(max(0.0, float(-diff.min(initial=0.0))), 2), int(k.size),
                                  int(k.size - k.sum()), reasons[0] if reasons else ""))
    return checks


def _measure(fp: Fingerprint, front_gray: np.ndarray, left_out: dict[str, np.ndarray] | None
             ) -> tuple[list[np.ndarray], list[dict[str, np.ndarray]], list[np.ndarray]]:
    """Per region of ``fp``: its cells' levels on the restored front, the cells near each reason's blocks of
    ``left_out`` (``compare``), and the cells near none of them."""
    reach = int(np.ceil(4 * SIGMA_PER_CELL * fp.cell))
    h, w = front_gray.shape
    measured, skipped = [], []
    masks = {reason: blocks for reason, blocks in (left_out or {}).items() if blocks.any()}
    for r in fp.regions:
        box = r.box(fp.cell)
        x0, y0 = max(0, box[0] - reach), max(0, box[1] - reach)
        x1, y1 = min(w, box[2] + reach), min(h, box[3] + reach)
        soft = _soft(front_gray[y0:y1, x0:x1], fp.cell)  # the page's own edge is reflected, as for the whole
        measured.append(_cell_levels(soft, (box[0] - x0, box[1] - y0, box[2] - x0, box[3] - y0), fp.cell))
        skipped.append({reason: _cells_near(mask, box, fp.cell, reach) for reason, mask in masks.items()})
    kept = [~np.logical_or.reduce([*s.values(), np.zeros(m.shape, bool)]) for s, m in zip(skipped, measured,
                                                                                          strict=True)]
    return measured, skipped, kept


def _kept_cells(fp: Fingerprint, measured: list[np.ndarray], kept: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """The measured and the signed levels of every region's kept cells, as two flat arrays."""
    return (np.concatenate([m[k] for m, k in zip(measured, kept, strict=True)]),
            np.concatenate([r.levels[k] for r, k in zip(fp.regions, kept, strict=True)]).astype(np.float32))


def faded_share(fp: Fingerprint, front_gray: np.ndarray, left_out: dict[str, np.ndarray] | None = None) -> float:
    """The share of the bound regions' inked cells (signed FADED_FROM levels or more, under no mark or crease) that
    the restored front shows with less than FADED_INK of their signed ink: where the scan did not carry the
    issuer's ink (toner run out in places, inks printed pale or in another colour), one ink gain cannot bring the
    rest to its signed level, and the strokes printed as signed come out darker than signed."""
    measured, _, kept = _measure(fp, front_gray, left_out)
    ink, signed = _kept_cells(fp, measured, kept)
    inked = signed >= FADED_FROM
    return float(np.mean(ink[inked] < FADED_INK * signed[inked])) if inked.any() else 0.0


def _cells_near(blocks: np.ndarray, box: tuple[int, int, int, int], cell: int, reach: int) -> np.ndarray:
    """Per cell of ``box``, whether a block marked in ``blocks`` (ROWS, COLS) lies within ``reach`` pixels of it
    (counted on an integral image of the blocks, so each cell costs four look-ups)."""
    b = spec.BLOCK
    total = np.pad(blocks.astype(np.int32).cumsum(0).cumsum(1), ((1, 0), (1, 0)))
    x0, y0, x1, y1 = box
    xs, ys = np.arange(x0, x1, cell), np.arange(y0, y1, cell)
    bx0 = np.clip((xs - reach) // b, 0, spec.COLS - 1)
    bx1 = np.clip((xs + cell - 1 + reach) // b, 0, spec.COLS - 1) + 1
    by0 = np.clip((ys - reach) // b, 0, spec.ROWS - 1)[:, None]
    by1 = np.clip((ys + cell - 1 + reach) // b, 0, spec.ROWS - 1)[:, None] + 1
    return (total[by1, bx1] - total[by0, bx1] - total[by1, bx0] + total[by0, bx0]) > 0


def tones_lost(front_gray: np.ndarray) -> bool:
    """Whether the restored front lost the print's middle tones (``MIN_MID_TONES``): thresholded to black and
    white, where red ink turns black and tints turn white, so it cannot show that ink was added."""
    f = front_gray.astype(np.float32)
    slope = cv2.magnitude(cv2.Sobel(f, cv2.CV_32F, 1, 0), cv2.Sobel(f, cv2.CV_32F, 0, 1)) / 8
    ink = front_gray < MID_TONES[1]
    flat_mid = ink & (front_gray > MID_TONES[0]) & (slope < FLAT)
    return int(np.count_nonzero(flat_mid)) < MIN_MID_TONES * max(1, int(np.count_nonzero(ink)))


def black_spread(front_gray: np.ndarray, printed: np.ndarray, excluded: np.ndarray) -> float:
    """How unevenly the scan printed black over the scrambled area, in gray levels of the restored front: the spread
    (2nd to 98th percentile) of the darkest ink within BLACK_REACH blocks of each block where the blocks lie on the
    back (``printed``: the front block at each printed position, ``BlockMap.perm``), over the blocks not
    ``excluded`` (front order, (ROWS, COLS): under a mark) and away from the area's edge.

    Paper is brought to white block by block, so light that shades the page leaves black where it was; light that
    veils part of the page (glare off a photographed sheet, a lamp's reflection) adds to ink and paper alike and
    lifts black there. The shuffle spreads every part of the front evenly over the back, so on a flat scan the
    darkest ink around each place varies only as much as the front's strokes do."""
    b, r = spec.BLOCK, BLACK_REACH
    darkest = cv2.blur(front_gray, (3, 3)).reshape(spec.ROWS, b, spec.COLS, b).min(axis=(1, 3))
    on_back = darkest.ravel()[printed].reshape(spec.ROWS, spec.COLS)
    kept = ~excluded.ravel()[printed].reshape(spec.ROWS, spec.COLS)
    floor = cv2.erode(np.where(kept, on_back, 255).astype(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8))
    values = floor[r:-r, r:-r][kept[r:-r, r:-r]]
    if values.size < 4 * (2 * r + 1) ** 2:  # too little of the back left to tell
        return 0.0
    low, high = np.percentile(values, [2, 98])
    return float(high - low)


def paper_level(paper: list[np.ndarray], cell: int = CELL_SIZES[0]) -> float:
    """The darkest cell of ``paper`` (blank paper of the back at the restored front's scale and tones, from
    ``restore.paper_bands``), in levels: 0 where it reads as paper throughout."""
    darkest = 0.0
    for band in paper:
        h, w = (band.shape[0] // cell) * cell, (band.shape[1] // cell) * cell
        darkest = max(darkest, float(_cell_levels(_soft(band, cell), (0, 0, w, h), cell).max(initial=0.0)))
    return darkest


def _cell_blocks(region: Region, cell: int) -> np.ndarray:
    """The front block (row-major index) each cell of ``region`` has its centre in."""
    h, w = region.levels.shape
    ys, xs = np.mgrid[0:h, 0:w]
    cx, cy = (region.x + xs) * cell + cell // 2, (region.y + ys) * cell + cell // 2
    return (cy // spec.BLOCK) * spec.COLS + cx // spec.BLOCK


def _gains(fp: Fingerprint, measured: list[np.ndarray], kept: list[np.ndarray], printed: np.ndarray | None,
           uneven: bool = False) -> list[np.ndarray | float]:
    """Per region, the ink gain its cells are divided by: the gain surface over the back where ``printed`` is
    given and enough cells carry ink to fit it (and, unless the light is known to be ``uneven``, it fits them
    better than one gain), else the one gain of the page."""
    page = _ink_gain(*_kept_cells(fp, measured, kept))
    if printed is None:
        return [page] * len(fp.regions)
    blocks = [_cell_blocks(r, fp.cell) for r in fp.regions]
    surface = _gain_surface(fp, measured, kept, blocks, printed, 0.0 if uneven else SURFACE_FIT)
    return [page] * len(fp.regions) if surface is None else [surface[b] for b in blocks]


def _surface_terms(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """The terms of a quadratic in u, v (positions across and down the scrambled area, -0.5 to 0.5)."""
    return np.stack([np.ones_like(u), u, v, u * u, u * v, v * v], axis=1)


def _gain_surface(fp: Fingerprint, measured: list[np.ndarray], kept: list[np.ndarray], blocks: list[np.ndarray],
                  printed: np.ndarray, fit: float = SURFACE_FIT) -> np.ndarray | None:
    """The ink gain of every front block (flat, ROWS * COLS) from a quadratic surface over the back: light that
    veils part of a photographed sheet (glare), a lamp's fall-off or toner that weakens across the feed changes
    how dark ink prints smoothly over the sheet, where one gain for the page leaves the fields whose blocks lay
    outside the pool of light darker than signed (up to 1.85 levels, against 1.0 with the surface, bench/field.py's
    glare). The surface is fitted to the log ratio of measured to signed level of every inked cell that carries at
    least FADED_INK of its ink, at the printed position of its block, by least squares reweighted against cells
    far off it; it has six terms, and the shuffle scatters a field's blocks over the whole back, so a changed
    character (a few cells among hundreds, in blocks far apart on the back) cannot bend it towards itself. Within
    MAX_TONE_CHANGE either way, as the page's gain. None where fewer than SURFACE_CELLS cells carry ink, or where
    the surface leaves the cells' log ratios spread more than ``fit`` of what one gain leaves: a flat scan, whose
    one gain keeps every cell's full weight against a change (``fit`` 0: the surface whenever it can be fitted)."""
    position = _positions(printed)
    y, at = _carried_logs(fp, measured, kept, blocks, position)
    if y.size < SURFACE_CELLS:
        return None
    terms = _surface_terms(at % spec.COLS / spec.COLS - 0.5, at // spec.COLS / spec.ROWS - 0.5)
    weight = np.ones_like(y)
    for _ in range(SURFACE_ROUNDS):
        coef = np.linalg.lstsq(terms * weight[:, None], y * weight, rcond=None)[0]
        off = y - terms @ coef
        scale = 1.4826 * _spread(off) + 1e-6
        weight = 1 / np.sqrt(1 + (off / (2 * scale)) ** 2)
    if fit and _spread(off) > fit * _spread(y - np.median(y)):  # no smooth change of tone to follow
        return None
    every = position.astype(np.float64)
    gain = np.exp(_surface_terms(every % spec.COLS / spec.COLS - 0.5, every // spec.COLS / spec.ROWS - 0.5) @ coef)
    return np.clip(gain, 1 - MAX_TONE_CHANGE, 1 + MAX_TONE_CHANGE)


def _positions(printed: np.ndarray) -> np.ndarray:
    """Per front block, where it is printed on the back (flat index), from ``BlockMap.perm``."""
    position = np.empty(spec.ROWS * spec.COLS, np.int64)
    position[printed] = np.arange(printed.size)
    return position


def _carried_logs(fp: Fingerprint, measured: list[np.ndarray], kept: list[np.ndarray], blocks: list[np.ndarray],
                  position: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The log ratio of measured to signed level of every inked cell that carries at least FADED_INK of its ink, and
    the printed position (flat) of its block."""
    logs, where = [], []
    for r, m, k, b in zip(fp.regions, measured, kept, blocks, strict=True):
        ratio = m / np.maximum(r.levels, 1)
        carried = k & (r.levels >= INKED_LEVEL) & (ratio >= FADED_INK)
        logs.append(np.log(ratio[carried]))
        where.append(position[b[carried]])
    return np.concatenate(logs), np.concatenate(where)


def streak_depth(fp: Fingerprint, front_gray: np.ndarray, printed: np.ndarray,
                 left_out: dict[str, np.ndarray] | None = None) -> float:
    """How much paler than the page the palest column of the back printed its ink (log ratio, 0 when even): toner
    that runs short in bands along the feed pales the columns of blocks under them, and one ink gain for the page
    leaves the other columns' cells darker than signed. Per column of printed blocks with STREAK_CELLS inked cells or
    more, the median log ratio of measured to signed level, against the median over all."""
    measured, _, kept = _measure(fp, front_gray, left_out)
    y, at = _carried_logs(fp, measured, kept, [_cell_blocks(r, fp.cell) for r in fp.regions], _positions(printed))
    columns = at % spec.COLS
    counts = np.bincount(columns, minlength=spec.COLS)
    medians = [float(np.median(y[columns == c])) for c in np.flatnonzero(counts >= STREAK_CELLS)]
    return max(0.0, float(np.median(y)) - min(medians)) if medians else 0.0


def _spread(values: np.ndarray) -> float:
    """The median absolute value of ``values``."""
    return float(np.median(np.abs(values)))


def _ink_gain(measured: np.ndarray, signed: np.ndarray) -> float:
    """How much fainter or darker than signed the scan prints ink: the median ratio over the inked cells that
    carry at least FADED_INK of their signed ink, within MAX_TONE_CHANGE either way. A changed character moves a
    few cells, not the median of hundreds, so what this takes out is what the scan did to every stroke: weak toner,
    or the sharpening of a blurred scan, which darkens where strokes meet. Cells whose ink the scan lost (strokes
    printed pale or in another colour, toner run out in places) say nothing of how the rest printed: counted, they
    would pull the gain down and make every stroke that printed as signed read darker than signed."""
    inked = signed >= INKED_LEVEL
    ratio = measured[inked] / signed[inked]
    carried = ratio[ratio >= FADED_INK]
    if carried.size < 10:
        return 1.0
    return float(np.clip(np.median(carried), 1 - MAX_TONE_CHANGE, 1 + MAX_TONE_CHANGE))


def tamper_map(front_rgb: np.ndarray, altered: list[RegionCheck], scale: int = 8) -> np.ndarray:
    """A coarse view of the restored front (1/``scale``, too coarse to read), with the altered regions outlined in
    red, shown instead of the front so that a rebuilt back teaches its maker nothing."""
    h, w = front_rgb.shape[:2]
    small = cv2.resize(front_rgb, (w // scale, h // scale), interpolation=cv2.INTER_AREA)
    view = cv2.resize(small, (w // scale * 2, h // scale * 2), interpolation=cv2.INTER_NEAREST)
    view = cv2.addWeighted(view, 0.6, np.full_like(view, 255), 0.4, 0)  # faded, so the outlines stand out
    f = 2 / scale
    for check in altered:
        x0, y0, x1, y1 = check.box
        cv2.rectangle(view, (int(x0 * f) - 2, int(y0 * f) - 2), (int(x1 * f) + 2, int(y1 * f) + 2), (200, 0, 0), 2)
    return view
