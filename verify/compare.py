"""Compare the paper front with the restored front: the scan of the front registered to the front as issued by its
own content, the strokes' shapes compared region by region.

The paper carries no markers on its front, so registration goes by what is printed: ORB features of both pages
(scale and rotation invariant, so any turn, 150 to 600 dpi and a phone's perspective) give a homography by MAGSAC;
a grid of tiles then measures what that plane leaves (a fold's panels, a lens, a sheet feeder's stretch) by phase
correlation, smoothed into a displacement field, and each region is aligned once more on its own, in pieces. Both
pages are compared as ink: darkness against the local paper level (so toner, tone and uneven light do not count;
in colour, each channel of the paper is first brought to white, so neither does the light's colour),
with the kiosk's background pattern (地紋), pale and fine, below the ink level. Inside a region a pixel differs
where one side's ink, levelled to the region's strokes, exceeds the other's everywhere within TOLERANCE_PX by SHAPE
and the other has no more than a trace of ink there (TRACE), in a piece of SPECK_PX pixels or more.

Inside each region the signature binds (format v2 on; a v1 back binds none, and the front's printed content is
then compared in coarse cells) the answer is ``matches``, ``differs`` or ``unreadable`` with a reason. Ink on the
paper outside them (a receiving stamp, a note, a punch hole's edge) is listed as a mark and never makes the answer
``differs``. A front that cannot be registered at all is ``unreadable``, not an error; a file that cannot be read is
the same ``InputError`` a back would get.
"""

from __future__ import annotations

import base64
import functools
import time
from dataclasses import dataclass, field
from typing import Any

import cv2
import numpy as np

from . import marks, spec
from .intake import is_bilevel, iter_pages, open_upload
from .locate import shows_a_back
from .model import Limits, Restoration
from .output import FORMATS, encode_image

__all__ = ["FrontComparison", "RegionComparison", "compare_front"]

WORKING_MAX_PIXELS = 24_000_000  # as a back: larger scans are decoded reduced
TOLERANCE_PX = 1  # restored-front pixels (0.16 mm) a stroke may sit off its place after registration
FEATURES = 1500  # ORB features per page for the registration
TILE_PX = 128  # restored-front pixels of a tile measuring what the homography leaves (at half-tile steps)
TILE_REACH = 24  # restored-front pixels a tile's shift may reach
CHUNK_PX = 64  # width of the pieces of a region each aligned on its own before the comparison (at half steps)
CHUNK_REACH = 3.0  # restored-front pixels a piece may move against the page's registration
FIELD_REACH = 13  # restored-front pixels (2 mm) a field that differs is searched for as a whole before it differs
SHAPE = 0.35  # ink one side has more than the other anywhere within TOLERANCE_PX, from which a pixel differs
TRACE = 0.5  # ... where the other side's ink anywhere within TOLERANCE_PX stays below this: a stroke printed fainter
# (a toner streak along the feed takes up to 45 % of it) is that stroke; a changed or removed one leaves no ink there
STRONG = 0.3  # normalised darkness from which a pixel is ink that must have a counterpart
WEAK = 0.22  # ... from which a pixel is ink enough to be that counterpart (the pattern stays below it)
SPECK_PX = 3  # pixels of an 8-connected piece of differing ink below which it is a speck, not a stroke's change
# Differing ink pixels (specks left out) from which a region differs. Measured on genuine fronts (bench/front.py):
# the worst genuine region and the share of this threshold are in docs/security.md.
DIFFERS_PX = 6
PAPER_PERCENTILE = 90  # of each channel over the page: the paper's white (the page is mostly paper)
MIN_INLIERS = 40  # feature matches consistent with one homography below which the front is not registered
MARK_MIN_PX = 30  # extra ink outside the regions from which a component is listed as a mark
MANY_MARKS = 20  # marks from which the page is looked at for specks all over it, which are not listed as marks
MARK_CHROMA = 80  # colour saturation (0-255) of ink from which it is coloured (a stamp's, a red seal's)
MARK_JOIN_PX = 31  # restored-front pixels (5 mm) within which differences are taken together as one mark
MARK_TALL_PX = 120  # ... and the height (19 mm, four rows of the form) from which, holding coloured ink, running
# through the form's lines or lying on a surface that is not the paper, they are something laid over the page: a
# receiving stamp (30 mm), a sticky note (45 mm). A changed character, a removed or pasted resident line,
# correction tape change the black print between the lines, on the paper
RULE_PX = 41  # restored-front pixels (6.5 mm) of straight ink from which it is a ruled line of the form
OVER_PX = 400  # restored-front pixels (10 mm2) of coloured ink or of another surface from which a group lies on it
OVER_PIECE_PX = 100  # ... counted in pieces of this many pixels or more (a stamp's ring, a note: thousands; the
# colour fringes of a halftone print along the issuer's coloured print: dashes of 10 to 60)
TINT = 0.7  # the paper's surface darker than this share of the brightest within SURFACE_MM: not the paper (a grey
# note 0.62; a phone's light falls off by 0.8 over a sheet)
SURFACE_MM = 65  # reach of that brightest: wider than a sticky note, narrower than light changes over a sheet
BROAD_PX = 9  # restored-front pixels (1.4 mm) across from which ink is broad: a highlighter's band (5 mm), a felt-tip
BROAD_INK = 0.15  # ... counted from this darkness (a grey highlighter's band 0.23 to 0.38 at its middle)
BROAD_PIECE_PX = 2000  # ... in pieces of this many pixels or more (50 mm2): a grey highlighter's band 16000 and more;
# the issuer's print, its seal left aside, none in flat scans, halftone prints, phone photographs, specked paper and
# pale inks (at full size at most 400)
RING_PX = (50, 140)  # restored-front pixels of the radius of a stamp's ring (16 to 45 mm across: receiving and date
# stamps, 受付印, 日付印)
RING_SUPPORT = 0.6  # share of a circle's circumference on the paper's extra ink from which it is a stamp's ring (a
# black receiving stamp 0.91; Hough's transform proposes no circle on altered, specked, halftone or phone fronts at
# half size, and at full size none with more than 0.28)
BESIDE = 0.9  # share of a tall group's differing ink that is extra ink outside every field, from which (running
# through the form's lines) it was laid beside them: a pen note beside a name, 1.0, the end of one stroke 2 px into
# the name's box. A changed field's own ink is inside it; a resident line removed is ink missing (0.08 to 0.11 extra),
# one pasted in both (0.51 to 0.69)
STROKE_PX = 400  # pixels (10 mm2) of one piece of extra ink from which it is a pen's stroke (a note's words 550 to
# 2200; specks of grime all over a sheet at most 220)
CROSS_PX = 8  # restored-front pixels above and below a ruled line that extra ink must reach to run through it
CROSSINGS = 8  # places where extra ink runs through the form's lines from which it was laid over them
SPOTS = 5.0  # specks (pieces of extra ink on the blank paper, away from the print) per 1000 mm2 from which the paper
# is specked all over, as grime on rough paper or toner a worn drum scatters leave it (a scan of clean paper: 0 to
# 0.2; specks over 6 % of a sheet: 18 to 33)
SPOT_CEILING = 1.6  # a piece of extra ink in a field is a speck when no darker than this times the blank paper's
# specks (their 99th percentile); black print added over grey specks is darker
BLANK_PX = 10  # restored-front pixels from the issuer's print from which the paper is blank
FAINT = 0.05  # how much darker (0 to 1, in the paper's darkest channel) the fields' ink the paper lacks is than the
# paper just around it, from which the print came out faint rather than not at all (strokes printed in pale inks:
# 0.11 to 0.15; a removed line, a changed character, correction tape: -0.31 to -0.015)
FAINT_PX = 30  # pixels of the fields' ink the paper lacks from which that is measured
CREASE_PX = 2.0  # step between two rows of the registration's tiles, each moving as one, from which it is a crease
CREASE_TILES = 4  # measured tiles a row needs to tell a crease
CREASE_COMPARED = 0.5  # share of a region's ink that must lie outside a crease's band for a difference to count
CREASE_ROWS = 4  # tile steps between two rows that each move as one, at most, for a step between them to be a crease
CREASE_GAIN = 200.0  # ink (pixels at full darkness) two panels must fit the print around a crease better by than either
CREASE_SHARP = 5.0  # ... and by how much worse a cut CREASE_LOCATED_PX + 1 rows off fits, for the crease's row to be told
CREASE_SLOPE = 0.006  # change per column of a crease's row on the aligned paper searched for (0.3 degrees and more)
CREASE_LOCATED_PX = 2  # rows to which a crease's row is told
UPRIGHT_PX = 25  # restored-front pixels (4 mm) of straight ink down from which it is one of the form's upright lines
BESIDE_PX = 6  # ... and how far beside it the paper's extra ink counts as the line moved
BENT_PX = 150  # extra ink beside the upright lines through a field's rows, outside every field, from which the paper
# is bent there (and no less than the ink those lines lack): a sheet folded and held in the hand, 234 to 384 beside
# a name and a date of birth whose strokes the bend smeared; a resident's line removed lacks its lines (128 to 250)
# and has at most 89 beside them
V1_CELL = 4  # blocks per side of the coarse cells a v1 front is compared in


@dataclass
class RegionComparison:
    """One bound region (or, for a v1 front, one coarse cell): where it is on the restored front and its outcome."""

    name: str
    box: tuple[int, int, int, int]  # x0, y0, x1, y1 on the restored front
    outcome: str  # matches | differs | unreadable
    # for unreadable: outside_scan, not_restored (hidden on the back), creased, marked (a stamp or a note laid over
    # it), spotted (specks all over the paper), faded (print come out faint), sealed (print under the issuer's
    # seal, on a gray scan)
    reason: str | None = None
    difference: float = 0.0  # differing ink pixels as a share of DIFFERS_PX (1.0 and more: differs)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "box": list(self.box), "outcome": self.outcome,
                               "difference": round(self.difference, 3)}
        if self.reason:
            out["reason"] = self.reason
        return out


@dataclass
class FrontComparison:
    """The paper front against the restored front: the outcome, per region, the marks and the pictures."""

    outcome: str  # matches | differs | unreadable
    regions: list[RegionComparison] = field(default_factory=list)
    marks: list[tuple[int, int, int, int]] = field(default_factory=list)
    # for unreadable: not_registered, a_back, tones_lost, or why a region could not be compared
    reason: str | None = None
    aligned: np.ndarray | None = None  # the paper front, RGB, in the restored front's geometry
    overlay: np.ndarray | None = None  # the restored front with differences outlined, the paper's own in magenta
    quality: dict[str, float] = field(default_factory=dict)
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def differing(self) -> list[str]:
        """Names of the regions that differ, in order."""
        return [r.name for r in self.regions if r.outcome == "differs"]

    def to_dict(self, image: bool = True, image_format: str = "png", quality: int = 90) -> dict[str, Any]:
        """JSON-ready: outcome, regions, marks, quality and, with ``image``, the overlay as ``overlay_image``
        {media_type, data (base64)}, as the answer embeds the restored front."""
        out: dict[str, Any] = {"outcome": self.outcome}
        if self.reason:
            out["reason"] = self.reason
        out["regions"] = [r.to_dict() for r in self.regions]
        out["marks"] = [list(b) for b in self.marks]
        out["quality"] = {k: round(v, 3) for k, v in self.quality.items()}
        if image and self.overlay is not None:
            data = encode_image(self.overlay, image_format, quality)
            out["overlay_image"] = {"media_type": FORMATS[image_format], "data": base64.b64encode(data).decode()}
        return out


def compare_front(restoration: Restoration, front_bytes: bytes, limits: Limits | None = None, *,
                  page: int = 0) -> FrontComparison:
    """Compare the scan of the paper front (``front_bytes``, any upload format; ``page``: which page of a PDF or
    TIFF, from 0) with ``restoration``'s restored front. A file that cannot be read raises its ``InputError``."""
    started = time.perf_counter()
    held = [_decode(front_bytes, limits or Limits(), page)]  # the only reference: freed once reduced
    return _compare_scan(restoration, held, {"decode": round((time.perf_counter() - started) * 1000, 2)}, bgr=True)


def compare_picture(restoration: Restoration, scan: np.ndarray, timings: dict[str, float] | None = None
                    ) -> FrontComparison:
    """``compare_front`` for a picture already decoded (RGB uint8, or gray): the front page of a stack, which
    ``verify.restore_pages`` hands over as ``PageResult.picture``. ``timings`` (ms by stage) are carried on."""
    return _compare_scan(restoration, [scan], timings)


def _compare_scan(restoration: Restoration, held: list[np.ndarray], timings: dict[str, float] | None,
                  bgr: bool = False) -> FrontComparison:
    """The comparison of the picture in ``held`` (taken out of it, so that a full-size scan the caller does not
    keep is freed as soon as it is reduced to the restored front's scale; ``bgr``: a colour picture's channels are
    in the decoder's order, RGB otherwise)."""
    timings = dict(timings or {})
    started = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal started
        now = time.perf_counter()
        timings[name] = round((now - started) * 1000, 2)
        started = now

    scan = held.pop()
    luma = scan if scan.ndim == 2 else cv2.cvtColor(scan, cv2.COLOR_BGR2GRAY if bgr else cv2.COLOR_RGB2GRAY)
    if is_bilevel(scan):  # a 1-bit scan loses the print's tones and thin strokes: nothing to tell a change by
        lap("register")
        return FrontComparison(outcome="unreadable", reason="a_back" if shows_a_back(luma) else "tones_lost",
                               timings_ms=timings)
    hidden = _hidden_blocks(restoration)
    restored = marks.unshade(restoration.image, hidden)
    h, w = restored.shape[:2]
    colour = not (scan.ndim == 2 or _is_gray(restored) or _is_gray(scan))
    ref_ink = ink(_gray(restored, colour))
    homography, inliers = _register(ref_ink, luma)
    quality: dict[str, float] = {"inliers": float(inliers)}
    if homography is None:
        # a second back sent as the front (or two backs in one upload) has nothing of the front to register by
        a_back = shows_a_back(luma)
        lap("register")
        if a_back:
            return FrontComparison(outcome="unreadable", reason="a_back", timings_ms=timings)
        return FrontComparison(outcome="unreadable", reason="not_registered", quality=quality, timings_ms=timings)
    del luma
    work, homography = _reduce(scan, homography)
    del scan
    if work.ndim == 2 or bgr:
        work = cv2.cvtColor(work, cv2.COLOR_GRAY2RGB if work.ndim == 2 else cv2.COLOR_BGR2RGB)
    lap("register")
    aligned, valid = _warp(work, homography, (w, h))
    del work
    grid, measured = _refine(ref_ink, ink(_gray(aligned, colour)))
    aligned, valid = _remap(aligned, valid, grid)
    paper_ink = ink(_gray(_white_balanced(aligned, valid) if colour else aligned, colour))
    # the only reference: freed once the comparison has taken what it needs
    paper_colour = [_coloured(cv2.cvtColor(aligned, cv2.COLOR_RGB2HSV))]
    lap("refine")
    quality["shift_px"] = float(np.abs(grid).max())
    result = _compare(restoration, hidden, ref_ink, paper_ink, aligned, paper_colour, valid, grid,
                      _creases(measured, w), colour)
    result.quality.update(quality)
    lap("compare")
    result.timings_ms = timings
    return result


# --- reading the scan ------------------------------------------------------------------------------------------


def _decode(data: bytes, limits: Limits, page: int) -> np.ndarray:
    """The page ``page`` of the upload as decoded: BGR uint8 (made RGB once reduced, at 300 dpi a quarter of the
    pixels), or gray."""
    upload = open_upload(data, limits)
    for decoded in iter_pages(data, upload, limits, max_pixels=WORKING_MAX_PIXELS):
        if decoded.page_index == page:
            return decoded.image
    from .errors import NotAPage  # a page the upload does not have: the caller asked for the wrong one

    raise NotAPage(f"the upload has no page {page + 1}", page_count=upload.page_count)


def _luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)


def _is_gray(rgb: np.ndarray) -> bool:
    """Whether a picture has no colour to speak of (a gray scan, or a front restored from one)."""
    r, g, b = cv2.split(np.ascontiguousarray(rgb[::8, ::8]))
    spread = cv2.max(cv2.max(r, g), b) - cv2.min(cv2.min(r, g), b)
    return int(np.percentile(spread, 99)) < 12


def _white_balanced(rgb: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """``rgb`` with each channel brought to white against the paper (the channel's PAPER_PERCENTILE over the page,
    where ``valid``): the colour of the light taken off before the brightest channel is read, so that pale red
    print under a bluish light stays as light as the paper, and does not read as ink beside strokes glare made
    faint."""
    small, inside = np.ascontiguousarray(rgb[::4, ::4]), np.ascontiguousarray(valid[::4, ::4])
    if not inside.any():
        return rgb
    counts = [np.cumsum(cv2.calcHist([small], [c], inside, [256], [0, 256]).ravel()) for c in range(3)]
    white = [int(np.searchsorted(n, n[-1] * PAPER_PERCENTILE / 100)) for n in counts]
    return cv2.transform(rgb, np.diag([255.0 / max(v, 64) for v in white]).astype(np.float32))


def _gray(rgb: np.ndarray, colour: bool) -> np.ndarray:
    """What is compared: in colour the brightest channel (HSV's value, quicker than maxima), in which black and
    blue-black ink are dark and the red seal, red marks and the pale pattern are light (the fields are printed
    black); the luma when a side is gray."""
    if not colour:
        return _luma(rgb)
    return cv2.extractChannel(cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV), 2)


def ink(gray: np.ndarray, stroke_px: int = 15) -> np.ndarray:
    """Darkness against the local paper level, 0 (paper) to 1 (the page's black), float32: the paper's level is the
    local maximum over ``stroke_px`` (wider than a stroke), smoothed, and the page's black the 99th percentile of its
    ink, so tone, toner, a print's contrast and uneven light drop out."""
    h, w = gray.shape
    small = cv2.resize(gray, (w // 4, h // 4), interpolation=cv2.INTER_AREA)  # the paper's level varies slowly
    paper = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_RECT, (stroke_px // 4 + 1, stroke_px // 4 + 1)))
    paper = cv2.GaussianBlur(paper, (0, 0), stroke_px / 4)
    paper = cv2.max(cv2.resize(paper, (w, h), interpolation=cv2.INTER_LINEAR), 60)  # a dark surround is no paper
    # float32 throughout, in place (a page is 10 MB of it), by OpenCV's arithmetic: the same values as NumPy's,
    # in less than half the time
    dark = cv2.divide(gray, paper, dtype=cv2.CV_32F)
    cv2.subtract(1.0, dark, dst=dark)  # type: ignore[call-overload]
    cv2.max(dark, 0.0, dst=dark)
    sample = dark[::2, ::2]  # a quarter of the pixels tell the page's black as well
    inked = sample[sample > WEAK]
    black = float(np.percentile(inked, 99)) if inked.size > 25 else 1.0
    cv2.multiply(dark, float(np.float32(1.0 / max(black, 0.3))), dst=dark)
    return cv2.min(dark, 1.0, dst=dark)


def _hidden_blocks(restoration: Restoration) -> np.ndarray:
    """The restored front's blocks hatched because a mark or a crease on the back covered them ((ROWS, COLS))."""
    hidden = np.zeros((spec.ROWS, spec.COLS), bool)
    for boxes in restoration.content.get("marks", {}).values():
        for x0, y0, _, _ in boxes:
            hidden[y0 // spec.BLOCK, x0 // spec.BLOCK] = True
    return hidden


# --- registration ----------------------------------------------------------------------------------------------


def _features_image(ink_map: np.ndarray) -> np.ndarray:
    """What features are found on: ink only (the pattern, below WEAK, is blank paper), dark on white."""
    gain = 255 / (0.6 - WEAK)  # 255 at WEAK and below, 0 at 0.6 and above (saturated), rounded down
    return cv2.addWeighted(ink_map, -gain, ink_map, 0, 255 + WEAK * gain - 0.5, dtype=cv2.CV_8U)


def _register(ref_ink: np.ndarray, gray: np.ndarray) -> tuple[np.ndarray | None, int]:
    """A homography from the scan's pixels (``gray``: its luma) to the restored front's, from ORB matches on both
    pages at a common scale (half the restored front's), or None when too few matches agree."""
    h, w = ref_ink.shape
    ref_small = cv2.resize(_features_image(ref_ink), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    # the page fills 70 to 95 % of a scan or photo: bring the scan to about the restored front's half scale
    sh, sw = gray.shape
    s = min(1.0, (max(h, w) / 2) / 0.85 / max(sh, sw))
    pre = min(1.0, 2 * s)  # the ink map at twice the matching scale: strokes stay resolved
    gray = cv2.resize(gray, None, fx=pre, fy=pre, interpolation=cv2.INTER_AREA) if pre < 1 else gray
    scan_small = _features_image(ink(gray))
    scan_small = cv2.resize(scan_small, None, fx=s / pre, fy=s / pre, interpolation=cv2.INTER_AREA)
    orb = cv2.ORB_create(nfeatures=FEATURES)  # type: ignore[attr-defined]
    kr, dr = orb.detectAndCompute(ref_small, None)
    ks, ds = orb.detectAndCompute(scan_small, None)
    if dr is None or ds is None or len(kr) < MIN_INLIERS or len(ks) < MIN_INLIERS:
        return None, 0
    matches = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(ds, dr, k=2)
    good = [m for m, n in (p for p in matches if len(p) == 2) if m.distance < 0.85 * n.distance]
    if len(good) < MIN_INLIERS:
        return None, len(good)
    src = np.array([ks[m.queryIdx].pt for m in good], np.float32)
    dst = np.array([kr[m.trainIdx].pt for m in good], np.float32)
    hom, mask = cv2.findHomography(src, dst, cv2.USAC_MAGSAC, 3.0, maxIters=5000, confidence=0.999)
    inliers = int(mask.sum()) if mask is not None else 0
    if hom is None or inliers < MIN_INLIERS or not _plausible(hom):
        return None, inliers
    # scan pixels -> small scan -> small restored -> restored
    to_small = np.diag([s, s, 1.0])
    to_full = np.diag([2.0, 2.0, 1.0])
    return to_full @ hom @ to_small, inliers


def _plausible(hom: np.ndarray) -> bool:
    """A homography a sheet of paper can have: no mirror, no collapse, limited perspective."""
    a = hom[:2, :2] / hom[2, 2]
    det = float(np.linalg.det(a))
    if det <= 0:
        return False
    sv = np.linalg.svd(a, compute_uv=False)
    return bool(sv[0] / sv[1] < 1.6 and abs(hom[2, 0] / hom[2, 2]) < 0.01 and abs(hom[2, 1] / hom[2, 2]) < 0.01)


def _reduce(scan: np.ndarray, hom: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The scan brought near the restored front's scale (halved by a Gaussian pyramid step, then reduced by area,
    so that fine ink and the pattern average as a scanner would) and the homography from its pixels. Halving by
    area instead is twice as quick but sharper: a folded front's one-digit change fell from 1.17 to 0.67 times
    DIFFERS_PX."""
    scale = float(np.sqrt(abs(np.linalg.det(hom[:2, :2] / hom[2, 2]))))
    while scale <= 0.55:
        scan = cv2.pyrDown(scan)
        hom = hom @ np.diag([2.0, 2.0, 1.0])
        scale *= 2
    if scale < 0.8:
        scan = cv2.resize(scan, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        hom = hom @ np.diag([1 / scale, 1 / scale, 1.0])
    return scan, hom


def _warp(scan: np.ndarray, hom: np.ndarray, size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """The scan in the restored front's geometry, and where it had pixels (uint8 mask)."""
    aligned = cv2.warpPerspective(scan, hom, size, flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT,
                                  borderValue=(255, 255, 255))
    valid = cv2.warpPerspective(np.full(scan.shape[:2], 255, np.uint8), hom, size, flags=cv2.INTER_NEAREST)
    return aligned, valid


def _remap(aligned: np.ndarray, valid: np.ndarray, grid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The warped scan and its mask moved by the field the tiles measured (``grid``), each pixel by the field at
    its place. The field is interpolated at every pixel as the thresholds were measured with: computed at the
    centres of 8-pixel blocks and interpolated between them instead (within 0.05 px), one field of a phone photo in
    twenty altered fronts went from 0 to 1.33 times DIFFERS_PX."""
    h, w = valid.shape
    step = TILE_PX / 2  # restored pixels between tile centres, the first at TILE_PX / 2
    cols, rows = np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32)
    at = (rows - TILE_PX / 2) / step
    # remap reads its map to a 32nd of a source pixel (OpenCV's INTER_BITS), here of a tile step: rows that round
    # alike read the same field, computed once (bit for bit the same, in two thirds of the time)
    _, first, alike = np.unique(np.rint(at * 32), return_index=True, return_inverse=True)
    mx, my = np.meshgrid((cols - TILE_PX / 2) / step, at[first])
    field = cv2.remap(grid, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    mx = np.take(np.ascontiguousarray(field[..., 0]), alike, axis=0)
    mx += cols
    my = np.take(np.ascontiguousarray(field[..., 1]), alike, axis=0)
    my += rows[:, None]
    del field
    out = cv2.remap(aligned, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    ok = cv2.remap(valid, mx, my, cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return out, ok


def _refine(ref_ink: np.ndarray, paper_ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """What the homography leaves (a fold's panels, a lens, a sheet feeder's stretch): the offset of each restored
    pixel into the aligned paper, from a grid of tiles of TILE_PX at half-tile steps, each shift measured by phase
    correlation at half scale (within TILE_REACH), filled and smoothed across tiles. A tile is measured only where
    both sides have ink in like amounts: where one side has ink and the other little (a line removed or added) the
    two do not correlate and the tile measures nothing. Returns the grid of tile shifts in restored pixels (rows,
    cols, 2; ``_field`` spreads it over the page) and the tiles' own measures (NaN where none)."""
    h, w = ref_ink.shape
    a_half = cv2.resize(ref_ink, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    b_half = cv2.resize(paper_ink, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    tile, step = TILE_PX // 2, TILE_PX // 4
    ys = list(range(0, h // 2 - tile + 1, step))
    xs = list(range(0, w // 2 - tile + 1, step))
    shifts = np.full((len(ys), len(xs), 2), np.nan, np.float32)
    window = cv2.createHanningWindow((tile, tile), cv2.CV_32F)
    ref_sum = cv2.integral((a_half > STRONG).astype(np.uint8))
    paper_sum = cv2.integral((b_half > STRONG).astype(np.uint8))

    def share(sums: np.ndarray, y: int, x: int) -> float:
        return float(sums[y + tile, x + tile] - sums[y, x + tile] - sums[y + tile, x] + sums[y, x]) / tile**2

    for i, y in enumerate(ys):
        for j, x in enumerate(xs):
            # too little ink, or ink on one side the other lacks (a line removed or added): no measure
            ref_share, paper_share = share(ref_sum, y, x), share(paper_sum, y, x)
            if ref_share < 0.01 or paper_share < 0.005 or not 0.5 < paper_share / ref_share < 2.0:
                continue
            (dx, dy), response = cv2.phaseCorrelate(a_half[y:y + tile, x:x + tile], b_half[y:y + tile, x:x + tile],
                                                    window)
            if response < 0.08 or abs(dx) > TILE_REACH / 2 or abs(dy) > TILE_REACH / 2:
                continue
            shifts[i, j] = (2 * dx, 2 * dy)
    if np.isnan(shifts).all():
        return np.zeros((1, 1, 2), np.float32), shifts
    filled = _fill(shifts)
    grid = np.dstack([cv2.medianBlur(np.ascontiguousarray(filled[..., k]), 3) for k in range(2)])
    return grid, shifts


def _field(grid: np.ndarray, at: np.ndarray) -> np.ndarray:
    """The tiles' shifts (``grid``, at the tile centres TILE_PX / 2 + k * TILE_PX / 2) interpolated at the
    restored-front points ``at`` (..., 2) float32: (..., 2)."""
    step = TILE_PX / 2
    cells = (at - np.float32(TILE_PX / 2)) / np.float32(step)
    return cv2.remap(grid, cells[..., 0], cells[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _fill(shifts: np.ndarray) -> np.ndarray:
    """Tiles without a measurement take the mean of their measured neighbours, growing outwards."""
    out = shifts.copy()
    known = ~np.isnan(out[..., 0])
    while not known.all():
        vals = np.where(known[..., None], out, 0).astype(np.float32)
        count = cv2.boxFilter(known.astype(np.float32), -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
        sums = np.dstack([cv2.boxFilter(vals[..., k], -1, (3, 3), normalize=False, borderType=cv2.BORDER_CONSTANT)
                          for k in range(2)])
        grow = ~known & (count > 0)
        out[grow] = sums[grow] / count[grow][:, None]
        known |= grow
    return out


# --- comparison ------------------------------------------------------------------------------------------------


def _regions(restoration: Restoration, printed: np.ndarray) -> list[tuple[str, tuple[int, int, int, int]]]:
    """The bound regions, or for a front that binds none, coarse cells around its printed content (``printed``:
    the restored front's strong ink, bool)."""
    if restoration.regions:
        return list(restoration.regions.items())
    cell = V1_CELL * spec.BLOCK
    h, w = printed.shape
    cells = []
    for y in range(0, h, cell):
        for x in range(0, w, cell):
            inked = np.argwhere(printed[y:y + cell, x:x + cell])
            if len(inked) < 20:
                continue
            (y0, x0), (y1, x1) = inked.min(0), inked.max(0)
            cells.append((f"cell-{y // cell + 1:02d}-{x // cell + 1:02d}",
                          (x + int(x0), y + int(y0), x + int(x1) + 1, y + int(y1) + 1)))
    return cells


def differences(ref_ink: np.ndarray, paper_ink: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ink on the paper that the restored front has not (``extra``) and ink of the restored front the paper has
    not (``missing``), uint8 masks: strong ink of one side with no ink at all of the other within TOLERANCE_PX,
    one-pixel slivers (a stroke's edge a little off) removed."""
    size = 2 * TOLERANCE_PX + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    ref_near = cv2.dilate((ref_ink > WEAK).astype(np.uint8), kernel)
    paper_near = cv2.dilate((paper_ink > WEAK).astype(np.uint8), kernel)
    opening = np.ones((2, 2), np.uint8)
    extra = cv2.morphologyEx(((paper_ink > STRONG) & (ref_near == 0)).astype(np.uint8), cv2.MORPH_OPEN, opening)
    missing = cv2.morphologyEx(((ref_ink > STRONG) & (paper_near == 0)).astype(np.uint8), cv2.MORPH_OPEN, opening)
    return extra, missing


def _coloured(hsv: np.ndarray) -> np.ndarray:
    """Coloured ink (a red seal, a stamp, a coloured pen) in a picture given in HSV, as a bool mask."""
    return cv2.inRange(hsv, (0, MARK_CHROMA, 0), (255, 255, 234)) > 0


def _compare(restoration: Restoration, hidden: np.ndarray, ref_ink: np.ndarray, paper_ink: np.ndarray,
             aligned: np.ndarray, coloured: list[np.ndarray], valid: np.ndarray, grid: np.ndarray,
             creases: list[_Crease], colour: bool) -> FrontComparison:
    """The comparison of the two ink maps region by region, the marks and the overlay (``coloured``: the aligned
    paper's coloured ink, taken out of the list, so that it is freed once used)."""
    h, w = ref_ink.shape
    issued = _coloured(cv2.cvtColor(restoration.image, cv2.COLOR_RGB2HSV))
    red = cv2.dilate(issued.astype(np.uint8), np.ones((7, 7), np.uint8)) > 0
    extra, missing = differences(ref_ink, paper_ink)
    inside = valid > 0
    extra &= inside
    missing &= inside
    # the paper's coloured ink where the restored front has none (a stamp, a coloured pen): a mark
    chroma = coloured.pop() & ~red
    chroma = cv2.morphologyEx(chroma.astype(np.uint8), cv2.MORPH_OPEN, np.ones((2, 2), np.uint8)) > 0
    # where the back's marks hid the print, the restored front may show the mark: no evidence against the paper
    not_restored = hidden.repeat(spec.BLOCK, axis=0).repeat(spec.BLOCK, axis=1)
    covered = cv2.erode(valid, np.ones((5, 5), np.uint8)) > 0
    # in colour the comparison reads the brightest channel, where the issuer's red seal is paper and the black
    # print under it stays black; a gray side shows the seal in tones the comparison does not measure: not compared,
    # and a field with print under it is never a match
    sealed = red if not colour else np.zeros_like(red)
    ignored = not_restored | sealed
    @functools.cache  # found once a field differs: a page that matches costs nothing for it
    def over_page() -> np.ndarray:
        # what lies over the page: coloured ink or another surface; near the issuer's own coloured print only in
        # pieces larger than the dashes of colour a halftone print leaves along its edges
        over = (chroma | _tinted(aligned, colour) | _rings(extra)) & inside & ~red
        fringed = cv2.dilate(issued.astype(np.uint8), np.ones((MARK_JOIN_PX, MARK_JOIN_PX), np.uint8)) > 0
        near = over & fringed
        if near.any():
            over[near] = _pieces(over, OVER_PIECE_PX, near)
        return _laid_over(extra, missing, over, _crossing(extra, _ruled(ref_ink)),
                          _broad(paper_ink, ref_ink, inside & ~red), in_region)

    boxes = [(name, box, (max(0, box[0] - 3), max(0, box[1] - 3), min(w, box[2] + 3), min(h, box[3] + 3)))
             for name, box in _regions(restoration, (ref_ink > STRONG) & ~red)]
    in_region = np.zeros((h, w), bool)
    for _, _, (x0, y0, x1, y1) in boxes:
        in_region[y0:y1, x0:x1] = True

    @functools.cache  # the same: found once a field differs
    def spotless() -> np.ndarray | None:
        blank = ~in_region & (cv2.erode(valid, np.ones((17, 17), np.uint8)) > 0) & (cv2.dilate(
            (ref_ink > WEAK).astype(np.uint8), np.ones((2 * BLANK_PX + 1,) * 2, np.uint8)) == 0)
        return _without_specks(ref_ink, paper_ink, blank)

    @functools.cache  # the same: found once a field differs
    def unfaded() -> np.ndarray | None:
        # the paper's ink with the issuer's wherever it is fainter, when the print came out faint rather than not at
        # all: a field it lacks only ink in then matches
        return cv2.max(paper_ink, ref_ink) if _faint(ref_ink, aligned, (missing > 0) & in_region) else None

    def matches_on(paper: np.ndarray | None, box: tuple[int, int, int, int],
                   panels: tuple[np.ndarray, np.ndarray, int | None] | None) -> bool:
        """Whether the field ``box`` matches once the paper's ink is ``paper`` (a cleaned copy; None: none made)."""
        if paper is None:
            return False
        x0, y0, x1, y1 = box
        return int((_region_difference(ref_ink, paper, box, panels)[0] & ~ignored[y0:y1, x0:x1]).sum()) < DIFFERS_PX

    @functools.cache  # each crease's row, found once for the fields near it
    def located(i: int) -> tuple[float, float] | None:
        return _crease_line(ref_ink, paper_ink, grid, creases[i], ~in_region)

    @functools.cache  # the same: found once a field differs away from the creases the tiles tell
    def upright_lines() -> tuple[np.ndarray, np.ndarray]:
        # per row: the paper's extra ink beside the form's upright lines, and the ink the lines lack, outside fields
        upright = cv2.morphologyEx((ref_ink > STRONG).astype(np.uint8), cv2.MORPH_OPEN,
                                   np.ones((UPRIGHT_PX, 1), np.uint8))
        beside = (cv2.dilate(upright, np.ones((1, 2 * BESIDE_PX + 1), np.uint8)) > 0) & (upright == 0)
        off = ((extra > 0) & beside & ~in_region).sum(axis=1)
        return off, ((missing > 0) & (upright > 0) & ~in_region).sum(axis=1)

    def bent(y0: int, y1: int) -> bool:
        """Whether the form's upright lines through rows ``y0`` to ``y1`` moved off their place (BENT_PX): the
        paper is bent there, and a field's strokes the bend smeared are no evidence against it."""
        off, lacking = upright_lines()
        moved = int(off[y0:y1].sum())
        return moved >= BENT_PX and moved >= int(lacking[y0:y1].sum())

    regions = []
    changed = np.zeros((h, w), bool)  # the pixels the differing fields differ by, for the overlay
    for name, box, (x0, y0, x1, y1) in boxes:
        crease = next((c for c in creases if c.top - 16 < y1 and y0 < c.bottom + 16), None)
        panels = None
        if crease is not None:  # each panel's shift against the field the page was warped by here, and the row
            # of the restored front where the panel below starts, as the page's print tells it (None: not told)
            here = _field(grid, np.array([[[(x0 + x1) // 2, (y0 + y1) // 2]]], np.float32))[0, 0]
            middle = (x0 + x1) / 2
            below, row = _Crease.shift(crease.below, middle), None
            if (line := located(creases.index(crease))) is not None:
                seen = line[0] + line[1] * middle  # the aligned paper's row where the panel below starts here
                row = int(np.ceil(seen - below[1] + _field(grid, np.array([[[middle, seen]]], np.float32))[0, 0, 1]))
            panels = (_Crease.shift(crease.above, middle) - here, below - here, row)
        shape, compared = _region_difference(ref_ink, paper_ink, (x0, y0, x1, y1), panels)
        evidence = int((shape & ~ignored[y0:y1, x0:x1]).sum()) / DIFFERS_PX
        if evidence >= 1.0 and (offset := _field_offset(ref_ink, paper_ink, (x0, y0, x1, y1))) is not None:
            # the field as a whole where its ink fits best: a crease's panel or a lens may move it further than
            # the page's registration and its pieces' own reach
            moved = _piece_difference(ref_ink, paper_ink, (x0, y0, x1, y1), offset)
            if (again := int((moved & ~ignored[y0:y1, x0:x1]).sum()) / DIFFERS_PX) < evidence:
                shape, evidence, compared = moved, again, 1.0
        reason = None
        if not covered[y0:y1, x0:x1].all():
            reason = "outside_scan"
        elif int(shape.sum()) >= DIFFERS_PX > int((shape & ~not_restored[y0:y1, x0:x1]).sum()):
            reason = "not_restored"
        elif evidence >= 1.0 and int((shape & ~ignored[y0:y1, x0:x1] & ~over_page()[y0:y1, x0:x1]).sum()) < DIFFERS_PX:
            reason = "marked"  # what differs is part of a mark laid over the page: not compared, never a match
        elif evidence >= 1.0 and matches_on(spotless(), (x0, y0, x1, y1), panels):
            reason = "spotted"  # the field matches once the specks the blank paper carries all over are taken off
        elif evidence >= 1.0 and matches_on(unfaded(), (x0, y0, x1, y1), panels):
            reason = "faded"  # the field lacks only ink, on a page whose print came out faint where it lacks it
        elif compared < (CREASE_COMPARED if evidence >= 1.0 else 1.0):
            # a difference counts where most of the field was compared; a match only where all of its ink was (the
            # cut may be put anywhere in the field, and rows left out there can hold the one stroke that changed)
            reason = "creased"  # a fold's crease runs through the field's strokes: too little of it lies on a panel
        elif evidence >= 1.0 and crease is None and bent(y0, y1):
            # no row of tiles told a crease here, but the paper is bent across the field's rows: the form's own
            # lines moved there too
            reason = "creased"
        if reason is None and evidence < 1.0 and int((sealed[y0:y1, x0:x1] & (ref_ink[y0:y1, x0:x1] > STRONG)).sum()
                                                     ) >= DIFFERS_PX:
            reason = "sealed"  # what is compared matches, but print under the seal could not be
        if evidence >= 1.0 and reason not in ("outside_scan", "creased", "marked", "spotted", "faded"):
            outcome, reason = "differs", None
        else:
            outcome = "unreadable" if reason else "matches"
        regions.append(RegionComparison(name, (int(box[0]), int(box[1]), int(box[2]), int(box[3])), outcome, reason,
                                        evidence))
        if outcome == "differs":
            changed[y0:y1, x0:x1] |= shape & ~ignored[y0:y1, x0:x1]

    page_edge = cv2.erode(valid, np.ones((17, 17), np.uint8)) == 0  # where a page edge a little off shows as ink
    laid = ((extra > 0) | chroma) & inside
    found = _marks(laid, in_region | page_edge)
    if len(found) > MANY_MARKS and (clean := spotless()) is not None:  # specks all over the paper are not marks
        found = _marks(laid & ~(clean < paper_ink), in_region | page_edge)
    if any(r.outcome == "differs" for r in regions):
        outcome, why = "differs", None
    elif all(r.outcome == "matches" for r in regions):
        outcome, why = "matches", None
    else:
        outcome = "unreadable"
        why = next(r.reason for r in regions if r.outcome == "unreadable")
    if changed.any():  # a field's own count reaches strokes the page's masks leave out (a changed hairline)
        more = paper_ink > ref_ink
        extra |= (changed & more).view(np.uint8)
        missing |= (changed & ~more).view(np.uint8)
    overlay = _overlay(restoration.image, extra, missing, regions, found)
    worst = max((r.difference for r in regions), default=0.0)
    return FrontComparison(outcome=outcome, regions=regions, marks=found, reason=why, aligned=aligned,
                           overlay=overlay, quality={"difference": worst})


def _region_difference(ref_ink: np.ndarray, paper_ink: np.ndarray, box: tuple[int, int, int, int],
                       panels: tuple[np.ndarray, np.ndarray, int | None] | None = None) -> tuple[np.ndarray, float]:
    """The pixels of ``box`` where the two sides' strokes differ in shape (bool, the box's shape), and the share of
    the region's ink compared (0 where it matches only with each part aligned on its own). Near a crease
    (``panels``: the shift of the panel above and of the one below against the page's field here, and the row where
    the panel below starts as the page's print tells it, ``_crease_line``, or None) the region is cut at the
    crease's row, each part aligned with its own panel. Where that row is told, the one cut there is compared with
    every row (``_seam_difference``): where no pixel differs, the region is compared whole. Otherwise the rows the
    panel below hides (as many as it moved up against the one above) are left out, 2 px either side, and the cut is
    where the parts differ least (or, when it differs less, the region is aligned as away from creases)."""
    if panels is None:
        return _piece_difference(ref_ink, paper_ink, box, (0.0, 0.0)), 1.0
    x0, y0, x1, y1 = box
    above, below = (float(panels[0][0]), float(panels[0][1])), (float(panels[1][0]), float(panels[1][1]))
    # where the panel below lies over the one above (it moved up against it) the rows it covers are lost; where it
    # moved down the scan repeats rows and every row of the region is still on one panel
    hidden = int(np.ceil(max(0.0, above[1] - below[1])))
    inked = (ref_ink[y0:y1, x0:x1] > STRONG).sum(axis=1)
    if panels[2] is not None and not (out := _seam_difference(ref_ink, paper_ink, box, (above, below), panels[2],
                                                               hidden)).any():
        # at the row the print tells, not one searched for, no row left out: a match where no pixel differs (the
        # rows about the cut may fit either panel, so what differs below DIFFERS_PX may be a change there)
        return out, 1.0
    whole = _piece_difference(ref_ink, paper_ink, box, (0.0, 0.0))  # the page's own field, as away from creases
    best: tuple[int, float, np.ndarray] = (int(whole.sum()), 1.0, whole)
    for cut in range(y0 - hidden - 2, y1 + 3, 2):
        out, share = _cut_difference(ref_ink, paper_ink, box, (above, below), cut, hidden, inked)
        if (int(out.sum()), -share) < (best[0], -best[1]):
            best = (int(out.sum()), share, out)
    if best[0] >= DIFFERS_PX:
        # the tiles straddle the crease and measure each panel's shift a few rows away from it, where a panel
        # turned a little has moved otherwise. Where the region matches once cut with each part aligned where its
        # own ink fits best, the crease may explain what differs: the region is not compared. Never a match: so
        # many cuts and shifts tried would let an alteration beside a crease through
        for cut in range(y0 - hidden - 2, y1 + 3, 2):
            out, _ = _cut_difference(ref_ink, paper_ink, box, (above, below), cut, hidden, inked, own=True)
            if int(out.sum()) < DIFFERS_PX:
                return out, 0.0
    return best[2], best[1]


def _seam_difference(ref_ink: np.ndarray, paper_ink: np.ndarray, box: tuple[int, int, int, int],
                     panels: tuple[tuple[float, float], tuple[float, float]], cut: int, hidden: int) -> np.ndarray:
    """``box`` cut at the row ``cut`` where the paper's print shows the panel below to start: where the two sides
    differ (bool, the box's shape), every row compared. The part above is aligned with the panel above, the part
    below with the one below, each reaching over the rows ``_cut_difference`` leaves out (the ``hidden`` rows the
    panel below may cover, and TOLERANCE_PX + 1 either side), and there a pixel differs only where it differs on
    both: a stroke at the crease fits one panel or the other. Rows the panel below covers lack their ink on both,
    and a stroke changed there fits neither. (Reaching CREASE_LOCATED_PX further let one digit changed from 8 to 6
    beside a crease match: a pixel that may fit either panel over more rows is a change hidden in more rows.)"""
    x0, y0, x1, y1 = box
    reach = TOLERANCE_PX + 1
    lo = min(max(y0, cut - hidden - reach), y1)
    hi = min(max(y0, cut + reach), y1)
    on_above = np.ones((y1 - y0, x1 - x0), bool)
    on_below = np.ones((y1 - y0, x1 - x0), bool)
    if hi > y0:
        on_above[:hi - y0] = _piece_difference(ref_ink, paper_ink, (x0, y0, x1, hi), panels[0])
    if lo < y1:
        on_below[lo - y0:] = _piece_difference(ref_ink, paper_ink, (x0, lo, x1, y1), panels[1])
    return on_above & on_below


def _cut_difference(ref_ink: np.ndarray, paper_ink: np.ndarray, box: tuple[int, int, int, int],
                    panels: tuple[tuple[float, float], tuple[float, float]], cut: int, hidden: int,
                    inked: np.ndarray, own: bool = False) -> tuple[np.ndarray, float]:
    """``box`` cut at row ``cut``: the part above aligned with the panel above, the part below with the one below
    (with ``own``, each part where its own ink fits best, ``_field_offset``, where it is tall enough to tell),
    ``hidden`` rows above the cut (and TOLERANCE_PX either side) left out. Where the two differ (bool, the box's
    shape) and the share of the region's ink (``inked``: per row) compared."""
    x0, y0, x1, y1 = box
    lo = min(max(y0, cut - hidden - TOLERANCE_PX - 1), y1)
    hi = min(max(y0, cut + TOLERANCE_PX + 1), y1)
    out = np.zeros((y1 - y0, x1 - x0), bool)
    compared = np.zeros(y1 - y0, bool)
    for part, (a, b) in zip(panels, ((y0, lo), (hi, y1)), strict=True):
        if b - a < 4:
            continue
        shift = (_field_offset(ref_ink, paper_ink, (x0, a, x1, b)) if own and b - a >= 6 else None) or part
        out[a - y0:b - y0] = _piece_difference(ref_ink, paper_ink, (x0, a, x1, b), shift)
        compared[a - y0:b - y0] = True
    return out, float(inked[compared].sum()) / max(1, int(inked.sum()))


def _field_offset(ref_ink: np.ndarray, paper_ink: np.ndarray, box: tuple[int, int, int, int]
                  ) -> tuple[float, float] | None:
    """Where the paper's piece of ``box`` fits the restored one best as a whole, within FIELD_REACH pixels each way
    (normalised cross-correlation of the two ink maps): (dx, dy) to shift the paper's piece by, or None for a field
    too near the page's edge or with too little ink to tell."""
    h, w = ref_ink.shape
    x0, y0, x1, y1 = box
    r = FIELD_REACH
    if x0 < r or y0 < r or x1 + r > w or y1 + r > h:
        return None
    template = np.ascontiguousarray(ref_ink[y0:y1, x0:x1])
    if float((template > STRONG).mean()) < 0.02:
        return None
    fit = cv2.matchTemplate(np.ascontiguousarray(paper_ink[y0 - r:y1 + r, x0 - r:x1 + r]), template,
                            cv2.TM_CCORR_NORMED)
    _, _, _, (dx, dy) = cv2.minMaxLoc(fit)
    return float(dx - r), float(dy - r)


def _piece_difference(ref_ink: np.ndarray, paper_ink: np.ndarray, box: tuple[int, int, int, int],
                      pre: tuple[float, float]) -> np.ndarray:
    """The pixels of ``box`` where the two sides' strokes differ in shape (bool, the box's shape): the paper's
    piece of the region, shifted by ``pre``, is aligned to the restored one in pieces of CHUNK_PX across (each by phase correlation,
    within CHUNK_REACH of the page's registration: a fold or a lens bends the page under a long field), both are
    smoothed alike, and a pixel differs where one side's ink exceeds the other's everywhere within TOLERANCE_PX by
    SHAPE while the other's stays below TRACE there, in a piece of SPECK_PX pixels or more: a thin stroke's change,
    one pixel across at this scale, counts."""
    h, w = ref_ink.shape
    m = int(np.ceil(CHUNK_REACH + max(abs(pre[0]), abs(pre[1])))) + 2
    x0, y0, x1, y1 = box
    X0, Y0, X1, Y1 = max(0, x0 - m), max(0, y0 - m), min(w, x1 + m), min(h, y1 + m)
    a = ref_ink[Y0:Y1, X0:X1]
    b = paper_ink[Y0:Y1, X0:X1]
    ph, pw = a.shape
    cols = np.arange(pw, dtype=np.float32)
    mx, my = np.meshgrid(cols, np.arange(ph, dtype=np.float32))
    if pre != (0.0, 0.0):
        b = cv2.remap(b, mx + pre[0], my + pre[1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    chunk = min(CHUNK_PX, pw)
    starts = sorted(set(list(range(0, pw - chunk + 1, chunk // 2)) + [pw - chunk]))
    window = cv2.createHanningWindow((chunk, ph), cv2.CV_32F)
    # each piece's share of strong ink from running sums over the columns, not a mean of its own
    inked_a = np.concatenate([[0], np.cumsum((a > STRONG).sum(axis=0))])
    inked_b = np.concatenate([[0], np.cumsum((b > STRONG).sum(axis=0))])
    area = ph * chunk
    centres, shifts = [], []
    for c in starts:
        if (inked_a[c + chunk] - inked_a[c]) / area < 0.02 or (inked_b[c + chunk] - inked_b[c]) / area < 0.01:
            continue
        pa, pb = a[:, c:c + chunk], b[:, c:c + chunk]
        (dx, dy), response = cv2.phaseCorrelate(np.ascontiguousarray(pa), np.ascontiguousarray(pb), window)
        if response < 0.1 or abs(dx) > CHUNK_REACH or abs(dy) > CHUNK_REACH:
            continue
        centres.append(c + chunk / 2)
        shifts.append((dx, dy))
    if shifts:
        # a piece's shift is the median of it and its neighbours': a changed character cannot pull its piece
        sx = _running_median([s[0] for s in shifts])
        sy = _running_median([s[1] for s in shifts])
        dx_col = np.interp(cols, centres, sx).astype(np.float32)
        dy_col = np.interp(cols, centres, sy).astype(np.float32)
        b = cv2.remap(b, mx + dx_col[None, :], my + dy_col[None, :], cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_REPLICATE)
    a = _level(cv2.GaussianBlur(a, (0, 0), 0.7))
    b = _level(cv2.GaussianBlur(b, (0, 0), 0.7))
    size = 2 * TOLERANCE_PX + 1
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (size, size))
    near_a, near_b = cv2.dilate(a, kernel), cv2.dilate(b, kernel)
    differs = (((b - near_a) > SHAPE) & (near_a < TRACE)) | (((a - near_b) > SHAPE) & (near_b < TRACE))
    if differs.any():
        differs[differs] = _pieces(differs, SPECK_PX, differs)
    return differs[y0 - Y0:y1 - Y0, x0 - X0:x1 - X0]


def _level(patch: np.ndarray) -> np.ndarray:
    """A region's ink scaled so that its strokes' cores are 1: a blurred scan's thin strokes, which never reach the
    page's black, weigh as the restored front's do."""
    inked = patch[patch > WEAK]
    core = float(np.percentile(inked, 90)) if inked.size > 20 else 1.0
    return np.clip(patch / max(core, 0.3), 0.0, 1.0)


def _running_median(values: list[float]) -> np.ndarray:
    v = np.asarray(values, np.float32)
    if len(v) < 3:
        return v
    padded = np.concatenate([v[:1], v, v[-1:]])
    return np.median(np.stack([padded[:-2], padded[1:-1], padded[2:]]), axis=0)


@dataclass
class _Crease:
    """Where a fold's panels part: between rows ``top`` and ``bottom`` of the restored front (the crease lies in
    between), the panel above and the one below each shifted along the row as a line (``shift``)."""

    top: float
    bottom: float
    above: np.ndarray  # (2, 2): the shift (dx, dy) at column 0 and its change per column
    below: np.ndarray

    @staticmethod
    def shift(line: np.ndarray, x: float) -> np.ndarray:
        return np.asarray(line[0] + line[1] * x, np.float32)


def _row_line(xs: np.ndarray, vals: np.ndarray) -> np.ndarray | None:
    """The shifts of one row of tiles as a line along the row (a panel turned a little moves so), or None when the
    row does not move as one: fewer than CREASE_TILES tiles, or a fifth of them more than 1.5 px off the line."""
    keep = np.ones(len(xs), bool)
    for _ in range(2):
        if keep.sum() < CREASE_TILES:
            return None
        design = np.stack([np.ones(keep.sum()), xs[keep]], axis=1)
        line, *_ = np.linalg.lstsq(design, vals[keep], rcond=None)
        off = np.abs(vals - (line[0] + np.outer(xs, line[1]))).max(axis=1)
        keep = off <= 1.5
    return line if keep.mean() >= 0.8 and keep.sum() >= CREASE_TILES else None


def _creases(measured: np.ndarray, width: int) -> list[_Crease]:
    """The creases the tiles show: a step of more than CREASE_PX somewhere along the page between two rows of tiles
    no further apart than CREASE_ROWS tile steps, each moving as one (a line along the row, as a panel turned a little
    moves). A line removed or added is no crease: its tiles, with ink on one side only, measure nothing."""
    step = TILE_PX / 2
    rows = []
    for i, row in enumerate(measured):
        ok = ~np.isnan(row[:, 0])
        xs = (TILE_PX / 2 + np.arange(len(row)) * step)[ok]
        line = _row_line(xs, row[ok])
        if line is not None:
            rows.append((i, line))
    ends = np.array([[1.0, 0.0], [1.0, float(width)]])
    found = []
    for (i, above), (j, below) in zip(rows, rows[1:], strict=False):
        if j - i <= CREASE_ROWS and float(np.abs(ends @ (below - above)).max()) > CREASE_PX:
            found.append(_Crease(TILE_PX / 2 + i * step, TILE_PX / 2 + j * step, above, below))
    return found


def _crease_line(ref_ink: np.ndarray, paper_ink: np.ndarray, grid: np.ndarray, crease: _Crease,
                 evidence: np.ndarray) -> tuple[float, float] | None:
    """Where the panel below starts at ``crease`` on the aligned paper, as its own print tells it (``evidence``, bool:
    where its ink may be used, away from the fields, whose ink a forger may have changed): the row at column 0 and
    its change per column (a straight fold, its panels turned a little), or None where it cannot be told to
    CREASE_LOCATED_PX. Each panel moves the page's print its own way (sideways: the form's long vertical lines step;
    up or down: the rows of print do), so the paper's ink is compared with the restored front as the panel above
    would show it and as the one below would, and the crease is the line from which the one below fits better. It is
    told where the two panels so parted fit the band of the crease better by CREASE_GAIN than either alone, and a
    line CREASE_LOCATED_PX + 1 rows above or below fits worse by CREASE_SHARP."""
    h, w = ref_ink.shape
    y0, y1 = int(max(0, crease.top - 24)), int(min(h, crease.bottom + 24))
    ys, xs = np.mgrid[y0:y1, 0:w].astype(np.float32)
    here = _field(grid, np.dstack([xs, ys]))
    kernel = np.ones((5, 5), np.uint8)  # either panel as the tiles measure it, within 2 px
    paper = paper_ink[y0:y1]
    paper_near = cv2.dilate(paper, kernel)
    errors = []
    for line in (crease.above, crease.below):
        dx = (line[0][0] + line[1][0] * xs - here[..., 0]).astype(np.float32)
        dy = (line[0][1] + line[1][1] * xs - here[..., 1]).astype(np.float32)
        shown = cv2.remap(ref_ink, xs - dx, ys - dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
        misfit = np.maximum(paper - cv2.dilate(shown, kernel), 0) + np.maximum(shown - paper_near, 0)
        errors.append(np.where(evidence[y0:y1], misfit, 0).ravel())
    alone = min(float(errors[0].sum()), float(errors[1].sum()))
    telling = np.flatnonzero(errors[0] != errors[1])  # pixels that fit both panels alike do not move a cut
    if not len(telling):
        return None
    at_y, at_x = ys.ravel()[telling], xs.ravel()[telling]
    above_misfit, below_misfit = errors[0][telling], errors[1][telling]
    best: tuple[float, float, float, np.ndarray] | None = None
    reach = CREASE_LOCATED_PX + 1
    for slope in np.linspace(-CREASE_SLOPE, CREASE_SLOPE, 13):
        rows = np.rint(at_y - slope * at_x).astype(np.int64)
        first = int(rows.min()) - reach
        rows -= first
        size = int(rows.max()) + reach + 1
        above = np.concatenate([[0.0], np.cumsum(np.bincount(rows, above_misfit, size))])
        below = np.concatenate([[0.0], np.cumsum(np.bincount(rows, below_misfit, size))])
        fit = above + (below[-1] - below)  # the rows before each cut on the panel above, the others below
        cut = int(np.argmin(fit))
        if reach <= cut < len(fit) - reach and (best is None or fit[cut] < best[0]):
            best = (float(fit[cut]), float(first + cut), float(slope), fit[cut - reach:cut + reach + 1:2 * reach])
    if best is None or alone - best[0] < CREASE_GAIN or float(best[3].min()) - best[0] < CREASE_SHARP:
        return None
    return best[1], best[2]


def _without_specks(ref_ink: np.ndarray, paper_ink: np.ndarray, blank: np.ndarray) -> np.ndarray | None:
    """The paper's ink with its specks taken off, when its ``blank`` part (bool: inside the scan, away from the
    issuer's print and the fields) carries SPOTS specks per 1000 mm2 or more (None otherwise). A speck is a piece of
    the paper's ink beyond the issuer's anywhere within TOLERANCE_PX (more than half WEAK, with a pixel above WEAK:
    its pale rim belongs to it, and so does a speck on a stroke's edge) no darker than SPOT_CEILING times the
    specks on the blank paper (their darkest pixel's 99th percentile). Taking specks off only lightens the paper:
    ink the paper lacks stays missing."""
    h, w = paper_ink.shape
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * TOLERANCE_PX + 1,) * 2)
    beyond = cv2.subtract(paper_ink, cv2.dilate(ref_ink, kernel))
    own = (beyond > WEAK / 2).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(own, 8, cv2.CV_32S, cv2.CCL_GRANA)
    peak = np.zeros(count, np.float32)
    np.maximum.at(peak, labels[own > 0].astype(np.intp), beyond[own > 0])
    on_blank = np.zeros(count, bool)
    on_blank[labels[blank & (own > 0)]] = True
    on_blank &= (stats[:, cv2.CC_STAT_AREA] >= 4) & (peak > WEAK) & (np.arange(count) > 0)
    if 1000 * int(on_blank.sum()) < SPOTS * float(blank.sum()) / (w / 210) ** 2:
        return None
    speck = peak <= SPOT_CEILING * float(np.percentile(peak[on_blank], 99))
    speck[0] = False
    return paper_ink - np.where(speck[labels], beyond, 0).astype(np.float32)


def _faint(ref_ink: np.ndarray, aligned: np.ndarray, lacking: np.ndarray) -> bool:
    """Whether the paper shows the issuer's ink it lacks (``lacking``: bool, in the fields) faintly rather than not
    at all: FAINT_PX pixels or more, FAINT darker in the paper's darkest channel (where ink in a pale colour shows
    most) than the paper around them, away from the issuer's print. Ink removed, covered or printed over with the
    page's pattern leaves the paper there as light as around it."""
    if int(lacking.sum()) < FAINT_PX:
        return False
    r, g, b = cv2.split(aligned)
    darkest = ink(cv2.min(cv2.min(r, g), b))
    near = cv2.dilate((ref_ink > WEAK).astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    around = (cv2.dilate(lacking.astype(np.uint8), np.ones((9, 9), np.uint8)) > 0) & ~near
    return bool(around.any()) and float(darkest[lacking].mean() - darkest[around].mean()) >= FAINT


def _ruled(ref_ink: np.ndarray) -> np.ndarray:
    """The restored front's ruled lines across (uint8): its ink straight for RULE_PX or more."""
    return cv2.morphologyEx((ref_ink > STRONG).astype(np.uint8), cv2.MORPH_OPEN, np.ones((1, RULE_PX), np.uint8))


def _tinted(aligned: np.ndarray, colour: bool) -> np.ndarray:
    """Where the paper's surface is not the page's paper (bool): a sticky note or a slip over the page, grey (its
    brightest within 6 mm under TINT of the brightest within SURFACE_MM) or, in colour, coloured all over (its
    saturation MARK_CHROMA above the page's: a colour cast tints the paper too)."""
    h, w = aligned.shape[:2]
    small = cv2.resize(aligned, (w // 4, h // 4), interpolation=cv2.INTER_AREA)
    surface = cv2.dilate(_luma(small), np.ones((9, 9), np.uint8))  # brighter than any stroke: what lies under it
    reach = int(SURFACE_MM * w / 210 / 4) | 1
    tinted = surface < TINT * cv2.dilate(surface, np.ones((reach, reach), np.uint8)).astype(np.float32)
    if colour:
        hsv = cv2.cvtColor(small, cv2.COLOR_RGB2HSV)
        saturation = cv2.medianBlur(cv2.extractChannel(hsv, 1), 9)
        tinted |= saturation >= np.median(saturation) + MARK_CHROMA
    return cv2.resize(tinted.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0


def _broad(paper_ink: np.ndarray, ref_ink: np.ndarray, where: np.ndarray) -> np.ndarray:
    """The paper's broad ink ``where`` (bool): a square of BROAD_PX fits in its ink of BROAD_INK or more and not in
    the restored front's, in pieces of BROAD_PIECE_PX or more (measured at half size: a band is wide)."""
    h, w = paper_ink.shape
    square = np.ones((BROAD_PX // 2 + 1,) * 2, np.uint8)
    paper, ref = (cv2.morphologyEx((cv2.resize(m, (w // 2, h // 2), interpolation=cv2.INTER_AREA) >= BROAD_INK
                                    ).astype(np.uint8), cv2.MORPH_OPEN, square) for m in (paper_ink, ref_ink))
    broad = (paper > 0) & (ref == 0)
    if not broad.any():
        return np.zeros((h, w), bool)
    broad[broad] = _pieces(broad, BROAD_PIECE_PX // 4, broad)
    return (cv2.resize(broad.astype(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0) & where


def _rings(extra: np.ndarray) -> np.ndarray:
    """The discs a stamp's ring in any ink encloses (bool): circles of RING_PX whose circumference lies on the
    paper's ``extra`` ink (uint8, 0 or 1) for RING_SUPPORT of its length or more, as Hough's transform proposes
    them (at half size: a ring is large)."""
    h, w = extra.shape
    half = cv2.resize(extra * np.uint8(255), (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    lo, hi = RING_PX[0] // 2, RING_PX[1] // 2
    found = cv2.HoughCircles(cv2.GaussianBlur(half, (0, 0), 1), cv2.HOUGH_GRADIENT, dp=1, minDist=lo, param1=100,
                             param2=40, minRadius=lo, maxRadius=hi)
    discs = np.zeros(extra.shape, np.uint8)
    if found is None:
        return discs > 0
    near = cv2.dilate(half, np.ones((3, 3), np.uint8))
    turn = np.linspace(0, 2 * np.pi, 180, endpoint=False)
    for x, y, r in found[0]:
        xs = np.clip(np.round(x + r * np.cos(turn)).astype(int), 0, half.shape[1] - 1)
        ys = np.clip(np.round(y + r * np.sin(turn)).astype(int), 0, half.shape[0] - 1)
        if (near[ys, xs] > 0).mean() >= RING_SUPPORT:
            cv2.circle(discs, (round(2 * x), round(2 * y)), round(2 * r) + 3, 1, cv2.FILLED)
    return discs > 0


def _crossing(extra: np.ndarray, across: np.ndarray) -> np.ndarray:
    """Where the paper's extra ink runs through a ruled line across (uint8): extra ink within CROSS_PX above and
    below the line at the same column, as a stamp's ring or a stroke laid over the form does; print stays between
    the lines."""
    k = np.ones((CROSS_PX, 1), np.uint8)
    above = cv2.dilate(extra, k, anchor=(0, CROSS_PX - 1))  # extra ink within CROSS_PX above (or below) it
    below = cv2.dilate(extra, k, anchor=(0, 0))
    return across & above & below


def _laid_over(extra: np.ndarray, missing: np.ndarray, over: np.ndarray, crossing: np.ndarray, broad: np.ndarray,
               fields: np.ndarray) -> np.ndarray:
    """Where the differing pixels (uint8: ``extra`` ink of the paper's own, ink ``missing`` from it) belong to
    something laid over the page (bool). Taken together with ``over`` (bool: coloured ink, a stamp's; a surface
    that is not the paper, a sticky note's; a stamp's ring in any ink) and ``broad`` (bool: the paper's broad ink,
    a highlighter's band) within MARK_JOIN_PX, they form groups; a group was laid over the page where it is
    MARK_TALL_PX tall or more and holds OVER_PX pixels or more of ``over``, or runs extra ink through the form's
    lines at CROSSINGS places or more (``crossing``: a black stamp's ring), or is BESIDE extra ink outside the
    ``fields`` (bool) that runs through the form's lines at 2 places or more and holds a pen's stroke (a pen note
    beside a name that touches it); or where it is as long in any direction and holds OVER_PX pixels of ``broad``
    (a highlighter's stroke runs along a line of the form). The issuer prints the fields in thin black strokes
    between the form's lines: a changed field changes that print, on the paper, inside the field."""
    join = np.ones((MARK_JOIN_PX, MARK_JOIN_PX), np.uint8)
    differing = extra | missing
    joined = cv2.dilate(cv2.bitwise_or(differing, (over | broad).astype(np.uint8)), join)
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(joined, 8, cv2.CV_32S, cv2.CCL_GRANA)
    tall = stats[:, cv2.CC_STAT_HEIGHT] >= MARK_TALL_PX + MARK_JOIN_PX - 1
    long = tall | (stats[:, cv2.CC_STAT_WIDTH] >= MARK_TALL_PX + MARK_JOIN_PX - 1)
    tall[0] = long[0] = False  # the background
    if not long.any():
        return np.zeros(differing.shape, bool)
    held = np.bincount(labels[over], minlength=count)
    crossed = _places(crossing, labels, count)
    banded = np.bincount(labels[broad], minlength=count)
    total = np.bincount(labels[differing > 0], minlength=count)
    outside = (extra > 0) & ~fields
    beside = np.bincount(labels[outside], minlength=count)
    stroked = np.zeros(count, bool)  # holding a pen's stroke: a piece of extra ink of STROKE_PX or more
    if outside.any():
        stroked[labels[outside][_pieces(outside, STROKE_PX, outside)]] = True
    apart = (total > 0) & (beside >= BESIDE * total) & (crossed >= 2) & stroked
    over = np.flatnonzero((tall & ((held >= OVER_PX) | (crossed >= CROSSINGS) | apart)) | (long & (banded >= OVER_PX)))
    if not over.size:
        return np.zeros(differing.shape, bool)
    # with what each group spans (its convex hull): a stamp's ring, broken where it is faint, holds its date
    outlines, _ = cv2.findContours(np.isin(labels, over).astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    hulls = [cv2.convexHull(o) for o in outlines]
    return cv2.drawContours(np.zeros(differing.shape, np.uint8), hulls, -1, 1, cv2.FILLED) > 0


def _pieces(mask: np.ndarray, least: int, at: np.ndarray) -> np.ndarray:
    """Whether each pixel ``at`` (bool, of ``mask``'s shape) lies in an 8-connected piece of ``mask`` (bool) of
    ``least`` pixels or more (looked up only there: a page-sized lookup costs as much as the labelling)."""
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask.astype(np.uint8), 8, cv2.CV_32S,
                                                                            cv2.CCL_GRANA)
    large = stats[:, cv2.CC_STAT_AREA] >= least
    large[0] = False
    return large[labels[at]]


def _places(mask: np.ndarray, labels: np.ndarray, count: int) -> np.ndarray:
    """Per label of ``labels``, the separate places (8-connected pieces) of ``mask`` in it."""
    pieces, at = cv2.connectedComponents(mask, connectivity=8)
    if pieces <= 1:
        return np.zeros(count, np.int64)
    first = np.zeros(pieces, np.int64)  # one pixel of each piece: its label
    ys, xs = np.nonzero(at)
    first[at[ys, xs]] = labels[ys, xs]
    return np.bincount(first[1:], minlength=count)


def _marks(extra: np.ndarray, in_region: np.ndarray) -> list[tuple[int, int, int, int]]:
    """Boxes of the paper's extra ink outside every region, nearby strokes taken together."""
    outside = ((extra > 0) & ~in_region).astype(np.uint8)
    x, y, bw, bh = cv2.boundingRect(outside)
    if bw == 0:
        return []
    # only the part of the page the strokes and their joining reach is labelled: the same components, in the same
    # order (Grana's labelling goes by 2 x 2 blocks: the part starts on even rows and columns)
    h, w = outside.shape
    x0, y0, x1, y1 = max(0, x - 8) & ~1, max(0, y - 8) & ~1, min(w, x + bw + 7), min(h, y + bh + 7)
    outside = outside[y0:y1, x0:x1]
    joined = cv2.dilate(outside, np.ones((15, 15), np.uint8))
    # Grana's labelling: the same components, its statistics three times quicker than the default's
    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(joined, 8, cv2.CV_32S, cv2.CCL_GRANA)
    ink_px = np.bincount(labels[outside > 0], minlength=count)  # each component's own extra ink, in one pass
    return [(x0 + int(x) + 7, y0 + int(y) + 7, x0 + int(x + bw) - 7, y0 + int(y + bh) - 7)
            for k, (x, y, bw, bh, _) in enumerate(stats) if k > 0 and ink_px[k] >= MARK_MIN_PX]


def _overlay(front: np.ndarray, extra: np.ndarray, missing: np.ndarray, regions: list[RegionComparison],
             marks: list[tuple[int, int, int, int]]) -> np.ndarray:
    """The restored front, paled, with the paper's own extra strokes in magenta, the issued strokes the paper lacks
    in orange, differing regions outlined in red, unreadable ones in grey and marks in blue."""
    out = cv2.convertScaleAbs(front, alpha=0.55, beta=255 * 0.45)
    for mask, paint in ((missing, (255, 140, 0, 0)), (extra, (220, 0, 200, 0))):
        # black, then the colour, under the mask: a quarter of the time of boolean indexing
        cv2.subtract(out, (255, 255, 255, 0), dst=out, mask=mask)  # type: ignore[call-overload]
        cv2.add(out, paint, dst=out, mask=mask)  # type: ignore[call-overload]
    colours = {"differs": (220, 0, 0), "unreadable": (120, 120, 120)}
    for r in regions:
        if r.outcome in colours:
            x0, y0, x1, y1 = r.box
            cv2.rectangle(out, (x0 - 4, y0 - 4), (x1 + 4, y1 + 4), colours[r.outcome], 3)
    for x0, y0, x1, y1 in marks:
        cv2.rectangle(out, (x0 - 4, y0 - 4), (x1 + 4, y1 + 4), (40, 90, 230), 2)
    return out
