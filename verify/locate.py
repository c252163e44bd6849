"""Finding the printed back in a scan: corner markers, the QR code, and the sub-pixel block grid.

Geometry convention: a homography maps continuous page units (``spec``) to scan pixel-centre coordinates, the
convention of ``cv2.remap``. Markers give a first homography; the dot track around the scrambled area refines it
to every block boundary, and a Coons patch carries the boundary's residual distortion (sheet-feeder stretch,
lens bulge) into the interior.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import functools
import itertools
import math
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np
import zxingcpp

from . import spec
from .derive import BlockMap
from .errors import (
    BlankPage,
    CodeUnreadable,
    GridNotFound,
    MarkersNotFound,
    NotTheBack,
    ResolutionTooLow,
    SheetNotFlat,
)
from .scramble import turn

DETECT_LONG_SIDES = (1000, 2000)  # marker search sizes, cheapest first
SQUARE_RATIO = 1.5  # a code's outline: longest side (and diagonal) at most this times the shortest (a phone's slant)
CODE_SHARE = 0.2  # and at most this share of the picture's long side (on a whole back: 265 of 2806 units, 0.094)
DOT_SEARCH = 14  # units each side of a dot's predicted centre
MIN_DOT_FRACTION = 0.8  # of each side's dots that must be measured
MAX_PLAIN_RESIDUAL_PX = 0.3  # below this a plain homography maps the grid well enough
OPPOSITE = {"left": "right", "right": "left", "top": "bottom", "bottom": "top"}
JUMP_OVER_NOISE = 6  # a crease's jump is this many times the jitter of the track's dots, at least (1-bit scans
# measure dots coarsely)
SLIP_NEIGHBOURS = 3  # dots either side of a dot whose move along the track says which dot it found
MIN_PANEL = 4  # dots between creases from which a track's run is a panel of a folded sheet
PANEL_STEP = 4.0  # units the track moves at least from one dot to the next where one panel ends and the next begins
# (a 0.7 mm fold moves a panel 6.6 units; the paper lifting beside a crease bends the track by under 3 a dot)
MAX_JUMP = 24.0  # units a panel may lie from the one beside it along a track: a 2 mm shift (19), and the turn
# that goes with it (4 units at the sides)
SLIP_AGREE = 24.0  # units the two tracks either side of a panel may differ along their length: each panel turns
# against the one before it (up to 0.3 degrees, 8 units across the area), and the paper lifts beside a crease
MAX_READINGS = 16  # readings of a folded sheet's track tried at most
CREASE_STEP = 0.6  # layout units two neighbouring dots of the track may jump apart before it counts as a crease
# Bounds on the marker search, which no hostile picture can stretch: ArUco's thorough pass takes seconds on some
# fine repetitive patterns even on images of a few hundred pixels, so pictures that cannot be a scan of the back are
# screened out before it runs, and the search of one upload stops when its time budget is spent.
SCREEN_MARGIN = 0.75  # of the corner marks' span at the minimum resolution: room for perspective and estimate
GAP_CLOSE = (2, 3)  # pixels (units) across the light gaps filled in a code's modules: under a module (5)
PALE_CUTS = (0.75, 0.8, 0.85, 0.9)  # thresholds between the code's ink (0) and paper (1) for a code printed pale
QR_REACH = 40  # units (8 modules) around the QR box also read when the code is not found in it
QR_ROW_REACH = 2  # modules above and below a row of the QR box among which its edge modules are looked for
# (blur in modules, strength) of the unsharp masks that take a blur away from a code: printed or scanned doubled (0.6),
# printed blurred (1.0: a fax, Augraphy's Faxify; its codes read at 0.8 to 1.0 and not at 0.6, some of them only
# at five times the blur taken back, others only at twice)
UNSHARP = ((0.6, 2.0), (1.0, 2.0), (1.0, 5.0))
# Light streaks through a code (toner running low along lines across or along the feed: Augraphy's LowInkPeriodicLines,
# 1 to 3 px wide at 300 dpi, every 40 to 80 px) lift a column of modules each to paper, more than its parity repairs.
STREAK_WIDTH = 0.6  # of a module: light lines narrower than this are streaks (a light module is a whole module wide)
STREAK_RUN = 3  # modules a streak runs straight at least (light modules in the data run shorter where both sides ink)
STREAK_LEVELS = 10  # grey levels a streak stands above the print either side of it (on the kept scans, 25 to 60)
BUSY_LEVELS = 64  # neighbouring pixels further apart than this are "busy" (ink against paper, or noise)
MAX_BUSY_FRACTION = 0.5  # a scan of paper is mostly blank: more busy pixels than this is no scan of the back
INK_CONTRAST = 80  # levels under the paper from which a pixel is printed ink, for telling a blank page
BLANK_INK = 0.0005  # share of printed pixels under which a picture holds nothing printed
MIN_SHEET = 0.4  # share of the picture that paper takes at least, for it to be called a blank page (a flatbed
# scan: all of it; a sheet photographed on a table: about half)
MARKER_GAP = 0.6  # of a marker's module: the widest light gap through a mark filled when the marks are not found
MARKER_READ_PX = 8  # window pixels a module when a missing marker is read where the found ones put it
MARKER_READ_REACH = 10  # modules each way from that place the read searches
MARKER_READ_CONTRAST = 40  # grey levels between its dark and light modules, at least
MARKER_READ_WRONG = 2  # of its 49 modules that may read otherwise than printed, at most
MARKER_OUTLINES = 12  # squares ArUco outlined but could not read, the largest, read again as markers when it read none
MARKER_OUTLINE_WRONG = 4  # of their modules that may read otherwise than printed: a hollowed print turns a few dark
# modules light; the 24 of the border are dark on any such square, and 4 of the 25 inside match a random pattern
# once in 2,000 (per marker and turn), and a false one still has to agree with two others and carry the code
OUTLINE_CUT = 0.8  # of the way from ink to paper below which a pixel is outline, when hollowed marks are filled in:
# a line a pixel or two wide, blurred by the scan, never gets as dark as the ink it was printed in
SEARCH_SECONDS = 8.0  # marker search (every page of one upload together); no further detector pass starts after it
_SEARCH_DEADLINE: contextvars.ContextVar[float | None] = contextvars.ContextVar("marker_search_deadline", default=None)


@dataclass
class PageFit:
    """Where the page lies in the scan, from its corner markers."""

    homography: np.ndarray  # page units -> scan pixels
    corners: list[str]
    marker_error_px: float
    preview: np.ndarray | None = None  # the reduced gray image the markers were found in
    preview_factor: int = 1  # scan pixels per preview pixel
    found: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # the markers' corners it was fitted to
    mirrored: bool = False  # found in the picture turned over left to right (``locate_markers``)
    by_track: bool = False  # placed by two marks and the dot track (``_fit_by_track``), not by three marks or four

    def alternatives(self) -> list[PageFit]:
        """Fits to three of the four markers, each leaving one out: a marker half covered (a staple, a thumb) can
        agree with the others within tolerance yet shift the page enough that every dot is measured one place
        off."""
        fits = []
        for drop in sorted(self.found) if len(self.found) == 4 else ():
            fit = _fit_markers({k: v for k, v in self.found.items() if k != drop})
            if fit is not None:
                fit.preview, fit.preview_factor = self.preview, self.preview_factor
                fits.append(fit)
        return fits

    def project(self, pts: np.ndarray) -> np.ndarray:
        """Map N x 2 page points to scan pixels."""
        return project(self.homography, pts)

    @property
    def px_per_unit(self) -> float:
        """Local scale at the centre of the page."""
        return local_scale(self.homography, (spec.PAGE_W / 2, spec.PAGE_H / 2))

    @property
    def dpi(self) -> float:
        return self.px_per_unit * spec.UNITS_PER_INCH

    @property
    def rotation_deg(self) -> float:
        """Rotation of the page in the scan, degrees counter-clockwise, in (-180, 180]."""
        a, b = self.project(np.array([[0.0, 0.0], [100.0, 0.0]]))
        angle = math.degrees(math.atan2(-(b[1] - a[1]), b[0] - a[0]))
        return 180.0 if angle == -180.0 else angle


def project(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Apply homography ``h`` to N x 2 points."""
    p = np.asarray(pts, dtype=np.float64).reshape(-1, 1, 2)
    return cv2.perspectiveTransform(p, h).reshape(-1, 2)


def _cross2(a: np.ndarray, b: np.ndarray) -> float:
    """z of the cross product of two 2-D vectors (numpy 2 deprecates np.cross on 2-D vectors)."""
    return float(a[0] * b[1] - a[1] * b[0])


def local_scale(h: np.ndarray, at: tuple[float, float]) -> float:
    """Square root of the area scale of ``h`` at page point ``at`` (pixels per unit)."""
    x, y = at
    p = project(h, np.array([[x, y], [x + 1, y], [x, y + 1]]))
    return math.sqrt(abs(_cross2(p[1] - p[0], p[2] - p[0])))


@functools.cache
def _detector(quick: bool) -> cv2.aruco.ArucoDetector:
    """ArUco's detector for the format's markers. The quick one thresholds once, with a window of about two and a
    half modules at the reduced sizes searched, and skips outlines shorter than a third of a marker's on a whole
    page: about a third of the thorough one's time, which tries three windows and every outline."""
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.MARKER_DICT))
    params = cv2.aruco.DetectorParameters()
    params.cornerRefinementMethod = cv2.aruco.CORNER_REFINE_SUBPIX
    if quick:
        params.adaptiveThreshWinSizeMin = params.adaptiveThreshWinSizeMax = 13
        params.minMarkerPerimeterRate = 0.05
    return cv2.aruco.ArucoDetector(dictionary, params)


def _reduce(gray: np.ndarray, long_side: int) -> tuple[np.ndarray, int]:
    """The scan halved until its long side is about ``long_side``, and the reduction factor."""
    small, factor = gray, 1
    while max(small.shape) > long_side * 1.3:  # halving with a Gaussian is antialiased and much cheaper than area
        small, factor = cv2.pyrDown(small), factor * 2
    return small, factor


def _detect(small: np.ndarray, factor: int, quick: bool) -> dict[str, np.ndarray]:
    """Corners (4 x 2, scan pixels) of the expected markers found in the reduced scan ``small``, by corner name.
    Squares ArUco outlined but whose modules it could not read are read again as the format's markers
    (``_read_outlined``) when it read none."""
    corners, ids, rejected = _detector(quick).detectMarkers(small)
    by_id = {v: k for k, v in spec.MARKER_IDS.items()}
    found: dict[str, np.ndarray] = {}
    named = [] if ids is None else [(quad, by_id.get(int(i))) for quad, i in zip(corners, ids.ravel(), strict=True)]
    if not named:
        named = _read_outlined(small, rejected)
    for quad, name in named:
        if name is None:
            continue
        pts = quad.reshape(4, 2).astype(np.float64) * factor  # pyrDown keeps pixel centre 2i over pixel i
        if name not in found or cv2.contourArea(pts.astype(np.float32)) > cv2.contourArea(found[name].astype(np.float32)):
            found[name] = pts
    return found


def _read_outlined(small: np.ndarray, outlines: Sequence[np.ndarray]) -> list[tuple[np.ndarray, str | None]]:
    """The format's markers among squares ArUco outlined and rejected (at most MARKER_OUTLINES, the largest), with
    their corners in ArUco's order: a print that hollows large dark areas (Augraphy's Hollow: the inside of the
    marks' dark modules grey, their edges dark) leaves modules ArUco's own threshold reads wrong, and no marker at
    all is found. Each outline is resampled upright at MARKER_READ_PX a module in each of its four turns, and kept as
    the marker whose pattern it shows best when its modules read as in ``_read_missing`` (dark and light at least
    MARKER_READ_CONTRAST apart) with no more than MARKER_OUTLINE_WRONG of 49 otherwise than printed."""
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.MARKER_DICT))
    s, n = MARKER_READ_PX, spec.MARKER_MODULES
    side = n * s
    square = np.array([[0, 0], [side, 0], [side, side], [0, side]], np.float32)
    patterns = {name: cv2.aruco.generateImageMarker(dictionary, marker_id, side)[s // 2::s, s // 2::s] < 128
                for name, marker_id in spec.MARKER_IDS.items()}
    largest = sorted(outlines, key=lambda q: -cv2.contourArea(q.reshape(4, 2).astype(np.float32)))[:MARKER_OUTLINES]
    out: list[tuple[np.ndarray, str | None]] = []
    for outline in largest:
        quad = outline.reshape(4, 2).astype(np.float32)
        for quarter in range(4):
            corners = np.roll(quad, -quarter, axis=0)
            window = cv2.warpPerspective(small, cv2.getPerspectiveTransform(corners, square), (side, side),
                                         flags=cv2.INTER_LINEAR)
            means = window.reshape(n, s, n, s)[:, s // 4:-s // 4, :, s // 4:-s // 4].mean(axis=(1, 3))
            wrong, name = min((_misread(means, dark), k) for k, dark in patterns.items())
            if wrong <= MARKER_OUTLINE_WRONG:
                out.append((corners.reshape(1, 4, 2), name))
                break
    return out


def _misread(means: np.ndarray, printed_dark: np.ndarray) -> int:
    """How many modules of mean levels ``means`` (7 x 7) read otherwise than a marker printed dark at
    ``printed_dark``, against the midpoint of the two medians; all 49 when dark and light lie less than
    MARKER_READ_CONTRAST apart."""
    dark, light = np.median(means[printed_dark]), np.median(means[~printed_dark])
    if light - dark < MARKER_READ_CONTRAST:
        return printed_dark.size
    return int(np.count_nonzero((means < (dark + light) / 2) != printed_dark))


MARKER_FIT = 0.08  # root mean square distance of the marks' corners from where a fit puts them, as a share of a mark's
# size, beyond which the fit is not the page's


def _marker_misfit(h: np.ndarray, found: dict[str, np.ndarray]) -> tuple[float, float]:
    """How far the homography ``h`` puts the corners of the marks ``found`` from where they were found (root mean
    square, scan pixels), and the distance allowed (MARKER_FIT of a mark's size there)."""
    rects = spec.marker_rects()
    names = sorted(found)
    page = np.array([c for n in names for c in rects[n].corners()], dtype=np.float64)
    err = np.linalg.norm(project(h, page) - np.concatenate([found[n] for n in names]), axis=1)
    return float(np.sqrt(np.mean(err**2))), MARKER_FIT * local_scale(h, (spec.PAGE_W / 2, spec.PAGE_H / 2)) * spec.MARKER_SIZE


def _fit_markers(found: dict[str, np.ndarray]) -> PageFit | None:
    """A homography from three or four markers, or None when they do not form a plausible page."""
    if len(found) < 3:
        return None
    rects = spec.marker_rects()
    names = sorted(found)
    page = np.array([c for n in names for c in rects[n].corners()], dtype=np.float64)
    scan = np.concatenate([found[n] for n in names])
    h, _ = cv2.findHomography(page, scan, 0)
    if h is None:
        return None
    err, allowed = _marker_misfit(h, found)
    if err > allowed and len(found) == 4:
        # one marker may be a false detection: keep the three that agree best
        tried = [_fit_markers({k: v for k, v in found.items() if k != drop}) for drop in found]
        fits = [f for f in tried if f is not None]
        return min(fits, key=lambda f: f.marker_error_px) if fits else None
    page_quad = project(h, np.array(spec.Rect(0, 0, spec.PAGE_W, spec.PAGE_H).corners()))
    if err > allowed or not cv2.isContourConvex(page_quad.astype(np.float32)):
        return None
    if _cross2(page_quad[1] - page_quad[0], page_quad[3] - page_quad[0]) <= 0:  # mirrored
        return None
    return PageFit(h, names, err, found=dict(found))


def locate_markers(gray: np.ndarray) -> PageFit:
    """Find the corner markers at any rotation and scale: ``MarkersNotFound`` unless three or four agree, or when
    the search budget of ``search_budget`` is spent before they are found. When ArUco finds one or two, the others
    are read where those say they lie (``_read_missing``).

    A mirrored picture (a phone's front camera, a scanner set to mirror, an image flipped in an editor) shows no
    marker, as a marker's mirror image is not one of the format's: when fewer than three are found, and the quick
    detector finds more in the smallest picture turned over than the search found, the search runs again on the
    turned picture and the fit says ``mirrored``: its homography is the turned picture's (``numpy.fliplr`` of the
    scan)."""
    try:
        return _located(gray)
    except MarkersNotFound as exc:
        small = _reduce(gray, DETECT_LONG_SIDES[0])[0]
        if len(_detect(np.fliplr(small), 1, True)) <= len(exc.context.get("found") or ()):
            raise
    fit = _located(np.ascontiguousarray(np.fliplr(gray)))
    fit.mirrored = True
    return fit


def _located(gray: np.ndarray) -> PageFit:
    """``locate_markers`` on the picture as it stands."""
    best: dict[str, np.ndarray] = {}
    best_small, best_factor = gray, 1
    corners: dict[str, np.ndarray] = {}  # the markers found in the largest picture that found as many as any
    finest = 1 << 30
    for small, factor, quick, fill in _marker_passes(gray):
        _check_search_budget(len(best))
        found = _detect(fill(small) if fill else small, factor, quick)
        fit = _fit_markers(found)
        if fit is not None:
            fit.preview, fit.preview_factor = small, factor
            return fit
        if len(found) > len(best):
            best, best_small, best_factor = found, small, factor
        if len(found) == len(best) and factor < finest:  # the same markers found larger: their corners finer
            corners, finest = found, factor
    seen = corners if len(corners) == len(best) else best
    if best and (fit := _fit_markers(_read_missing(gray, seen))) is not None:
        fit.preview, fit.preview_factor = best_small, best_factor
        return fit
    # the largest reduced picture the search used: enough to read a code and tell what the picture shows, and quick
    largest, factor = _reduce(gray, DETECT_LONG_SIDES[-1])
    codes = zxingcpp.read_barcodes(largest, formats=zxingcpp.BarcodeFormat.QRCode)  # type: ignore[arg-type]
    if (anchor := _code_anchor(codes, factor)) is not None:  # read the marks where the code, and those found, put them
        read = _read_missing(gray, seen, anchor)
        if (fit := _fit_markers(read)) is not None:
            fit.preview, fit.preview_factor = (best_small, best_factor) if best else _reduce(gray, DETECT_LONG_SIDES[0])
            return fit
        best = read if len(read) > len(best) else best
    if not best:
        raise _unlike_a_back(largest, bool(codes))
    if len(best) == 2 and (fit := _fit_by_track(gray, best, anchor)) is not None:
        fit.preview, fit.preview_factor = best_small, best_factor
        return fit
    missing = sorted(set(spec.MARKER_IDS) - set(best))
    if len(best) >= 3:  # enough, but not where the corners of a flat sheet lie (a sheet bent as a book's page)
        raise SheetNotFlat(f"found {len(best)} of the 4 corner marks, not where the corners of a flat sheet lie",
                           found=sorted(best), missing=missing, reason="not_flat")
    raise MarkersNotFound(f"found {len(best)} of the 4 corner marks", found=sorted(best), missing=missing)


TRACK_DOTS = 0.95  # of the dot track's dots that must be found where two marks put the page, for them to place it


def _fit_by_track(gray: np.ndarray, found: dict[str, np.ndarray], anchor: tuple[np.ndarray, np.ndarray] | None
                  ) -> PageFit | None:
    """The page placed by the dot track, when only two corner marks are found (a glitch that shifts a band of the
    print through the other two, as Augraphy's GlitchEffect does, leaves them misshapen past reading) and no third
    can be read where they put it: the two (and the code's corners, the ``anchor``, where the code reads) give a
    similarity, TRACK_DOTS of the track's dots must be found where it puts them, and the homography fitted to the
    dots is the page's, kept only when it puts both marks where they were found (within the tolerance of a fit to
    three or four marks: a track read a dot off puts them half a dot pitch away). None otherwise. A page so placed
    is never told that its blocks are another back's (``restore``): no third mark confirms the track's count."""
    rough = PageFit(np.vstack([_page_similarity(found, anchor), [0, 0, 1]]), sorted(found), 0.0, found=dict(found))
    try:
        grid = measure_dots(gray, rough)
    except GridNotFound:
        return None
    if grid.dots_found < TRACK_DOTS:
        return None
    err, allowed = _marker_misfit(grid.homography, found)
    if err > allowed:
        return None
    return PageFit(grid.homography, sorted(found), err, found=dict(found), by_track=True)


def _marker_passes(gray: np.ndarray) -> Iterator[tuple[np.ndarray, int, bool, Callable[[np.ndarray], np.ndarray] | None]]:
    """The searches for the markers, cheapest first: (reduced scan, reduction, quick, what is filled first or None).
    The quick then the thorough detector at each size of DETECT_LONG_SIDES the scan reaches; only once those fail,
    the quick one again on the smallest size with the light gaps through the marks filled (``_gaps_filled``), then
    on the largest with hollowed marks filled in (``_outlines_filled``)."""
    small, factor = gray, 1
    for long_side in DETECT_LONG_SIDES:
        small, factor = _reduce(gray, long_side)
        yield small, factor, True, None
        yield small, factor, False, None
        if long_side * 1.3 >= max(gray.shape):
            break
    yield *_reduce(gray, DETECT_LONG_SIDES[0]), True, _gaps_filled
    yield small, factor, True, _outlines_filled


def _gaps_filled(small: np.ndarray) -> np.ndarray:
    """The reduced scan with light gaps narrower than MARKER_GAP of a marker's module filled, as if the sheet filled
    the picture: a kiosk's low-ink banding draws pale lines through the marks, which break their outlines."""
    module = spec.MARKER_SIZE / spec.MARKER_MODULES * max(small.shape) / spec.PAGE_H
    side = max(2, round(MARKER_GAP * module))
    return cv2.morphologyEx(small, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))


def _outlines_filled(small: np.ndarray) -> np.ndarray:
    """The reduced scan with every region enclosed by an outline filled as the print had it, for a print that
    hollowed its large dark areas to their outlines (Augraphy's Hollow: a marker becomes a square line with lines
    round its light modules inside). Crossing an outline changes the colour: the paper around the page is light, a
    region inside one outline is the hollowed ink of a mark, one inside two is a light module of it again. The light
    regions are told apart with their outlines first thickened by a pixel each way (an outline printed with gaps
    must still enclose), and each is filled dark or light by how many outlines enclose it (the depth of its contour
    in the tree of the light areas' contours, two levels an outline)."""
    ink, paper = (float(v) for v in np.percentile(small, (1, 99)))
    if paper - ink < MARKER_READ_CONTRAST:
        return small
    light = cv2.erode((small > ink + OUTLINE_CUT * (paper - ink)).view(np.uint8), np.ones((3, 3), np.uint8))
    contours, hierarchy = cv2.findContours(light, cv2.RETR_TREE, cv2.CHAIN_APPROX_SIMPLE)
    if hierarchy is None:
        return small
    parents = [int(p) for p in hierarchy[0][:, 3]]
    depth = np.zeros(len(contours), int)
    for i in range(len(contours)):
        j = parents[i]
        while j >= 0:
            depth[i] += 1
            j = parents[j]
    hollowed = np.zeros_like(light)
    for i in sorted((int(k) for k in np.flatnonzero(depth % 2 == 0)), key=lambda k: depth[k]):  # light areas, outside in
        # inside an odd number of outlines: ink the print hollowed; inside an even number: paper again
        cv2.drawContours(hollowed, contours, i, 1 if depth[i] // 2 % 2 else 0, thickness=cv2.FILLED)
    out = small.copy()
    out[cv2.dilate(hollowed, np.ones((3, 3), np.uint8)).view(bool)] = round(ink)  # the pixel the erosion took
    return out


def shows_a_back(gray: np.ndarray) -> bool:
    """Whether a picture shows a certificate's back: two or more of its corner marks found by the quick search of
    the smallest reduced picture (about 50 ms on a 300 dpi page). For telling a second back from a front, not for
    locating: a back whose marks are covered or cut off is not recognised by it."""
    small, factor = _reduce(gray, DETECT_LONG_SIDES[0])
    return len(_detect(small, factor, True)) >= 2


def _unlike_a_back(small: np.ndarray, code_read: bool) -> MarkersNotFound:
    """Why a picture in which no corner mark was found is not a back, as the common wrong uploads show it (the
    reduced picture of the marker search is enough): a sheet of paper with nothing printed on it (``BlankPage``:
    the paper scanned the wrong way up, or an empty sheet; ink is what lies darker than the paper inside it, thin
    enough that closing 4 mm gaps joins it to the paper), or no QR code anywhere (``NotTheBack``: the front uploaded
    by mistake, another document, a photograph). A back whose marks are cut off or covered still shows its code:
    the usual ``MarkersNotFound`` (``code_read``: zxing-cpp read one in ``small`` already)."""
    paper = float(np.percentile(small, 90))
    near = max(3, round(max(small.shape) * 0.015)) | 1  # 4 mm across an A4 page: the gaps between strokes
    sheet = cv2.morphologyEx((small >= paper - INK_CONTRAST // 2).view(np.uint8), cv2.MORPH_CLOSE,
                             cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (near, near))).view(bool)
    ink = float(np.count_nonzero(sheet & (small < paper - INK_CONTRAST))) / max(1, int(np.count_nonzero(sheet)))
    if ink < BLANK_INK and sheet.mean() >= MIN_SHEET:
        return BlankPage(f"{ink:.3%} of the picture is darker than its paper: nothing is printed on it",
                         found=[], missing=sorted(spec.MARKER_IDS), reason="blank")
    if not code_read:
        found, outline = cv2.QRCodeDetector().detect(small)
        code_read = bool(found) and _square(outline, small.shape)
    if not code_read:
        return NotTheBack("no corner mark and no QR code anywhere in the picture", found=[],
                          missing=sorted(spec.MARKER_IDS), reason="no_back")
    return MarkersNotFound("found none of the 4 corner marks", found=[], missing=sorted(spec.MARKER_IDS))


def _square(outline: np.ndarray | None, shape: tuple[int, ...]) -> bool:
    """Whether a QR detector's outline could be the back's code: a square seen nearly head on, no larger than
    CODE_SHARE of the picture's long side. OpenCV's detector also outlines three finder-like spots of a busy front
    (a seal, the background pattern), whose quadrilateral is anything: sides 0.3 to 5 times each other, or a
    near-square across a third of the page."""
    if outline is None:
        return False
    quad = outline.reshape(4, 2).astype(np.float64)
    sides = np.linalg.norm(quad - np.roll(quad, 1, axis=0), axis=1)
    diagonals = np.linalg.norm(quad[:2] - quad[2:], axis=1)
    return bool(0 < sides.min() and sides.max() / sides.min() <= SQUARE_RATIO
                and diagonals.max() / max(diagonals.min(), 1e-9) <= SQUARE_RATIO
                and sides.max() <= CODE_SHARE * max(shape))


def _page_similarity(found: dict[str, np.ndarray], anchor: tuple[np.ndarray, np.ndarray] | None = None
                     ) -> np.ndarray:
    """The least-squares similarity (2 x 3: turn, one scale, shift; page units -> scan pixels) of the markers
    found, from one marker's four corners or more, and of the ``anchor`` (page points, scan points: the code's
    corners, ``_code_anchor``). Not an affine: the corners of markers along one edge of the page say nothing of its
    scale across."""
    rects = spec.marker_rects()
    page = np.array([c for n in sorted(found) for c in rects[n].corners()], dtype=np.float64).reshape(-1, 2)
    scan = np.concatenate([found[n] for n in sorted(found)]) if found else np.zeros((0, 2))
    if anchor is not None:
        page, scan = np.concatenate([page, anchor[0]]), np.concatenate([scan, anchor[1]])
    x, y, one, zero = page[:, 0], page[:, 1], np.ones(len(page)), np.zeros(len(page))
    rows = np.concatenate([np.column_stack([x, -y, one, zero]), np.column_stack([y, x, zero, one])])
    (c, d, tx, ty), *_ = np.linalg.lstsq(rows, np.concatenate([scan[:, 0], scan[:, 1]]), rcond=None)
    return np.array([[c, -d, tx], [d, c, ty]])


def _code_anchor(codes: Sequence[zxingcpp.Barcode], factor: int) -> tuple[np.ndarray, np.ndarray] | None:
    """The QR code's four corners on the page (units) and in the scan (pixels), from the ``codes`` zxing-cpp read in
    the picture reduced ``factor`` times: enough to say where the corner marks lie when none of them is found (a
    torn or dark edge running into all four). The symbol is centred in its box (``spec.QR_BOX``), 17 + 4 x version
    modules wide."""
    for result in codes:
        version = str(getattr(result, "extra", {}).get("Version", ""))
        if not result.valid or not version.isdigit():
            continue
        p = result.position
        scan = np.array([[c.x, c.y] for c in (p.top_left, p.top_right, p.bottom_right, p.bottom_left)], float)
        side = (17 + 4 * int(version)) * spec.QR_MODULE
        x0, y0, x1, y1 = spec.QR_BOX
        qx, qy = x0 + (x1 - x0 - side) / 2, y0 + (y1 - y0 - side) / 2
        page = np.array([[qx, qy], [qx + side, qy], [qx + side, qy + side], [qx, qy + side]], float)
        return page, (scan + 0.5) * factor - 0.5
    return None


def _read_missing(gray: np.ndarray, found: dict[str, np.ndarray], anchor: tuple[np.ndarray, np.ndarray] | None = None
                  ) -> dict[str, np.ndarray]:
    """``found`` with the markers ArUco missed that can be read where the found ones (and the ``anchor``, the code's
    corners: ``_code_anchor``) say they lie, nearest first.

    ArUco needs a light ring around a marker; a dark mark touching one (the edge of a dark scanner lid, a stamp, a
    pen stroke, a toner smear) joins it to the marker's border and ArUco sees no square. Here each missing marker's
    neighbourhood is resampled upright at MARKER_READ_PX a module from the markers found, the marker's own pattern
    is matched within MARKER_READ_REACH modules of where they put it, and the match is kept only when every one of
    its 7 x 7 modules but MARKER_READ_WRONG read as printed. The markers are refitted after each one read, and
    those missed so far are tried again."""
    rects, found = spec.marker_rects(), dict(found)
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.MARKER_DICT))
    s, n = MARKER_READ_PX, spec.MARKER_MODULES
    module = spec.MARKER_SIZE / n
    centre = {k: np.array(r.corners()).mean(axis=0) for k, r in rects.items()}
    tried: set[str] = set()
    while missing := [name for name in spec.MARKER_IDS if name not in found and name not in tried]:
        a = np.vstack([_page_similarity(found, anchor), [0, 0, 1]])
        near = [centre[f] for f in found] or ([anchor[0].mean(axis=0)] if anchor is not None else [])
        name = min(missing, key=lambda k: min(np.linalg.norm(centre[k] - c) for c in near))
        tried.add(name)
        x0, y0 = rects[name].x - MARKER_READ_REACH * module, rects[name].y - MARKER_READ_REACH * module
        size = (n + 2 * MARKER_READ_REACH) * s
        # window pixel (u, v) -> page (x0 + (u + 0.5) module / s, ...) -> scan: the map warpAffine takes inverted
        to_page = np.array([[module / s, 0, x0 + 0.5 * module / s], [0, module / s, y0 + 0.5 * module / s], [0, 0, 1]])
        window_to_scan = (a @ to_page)[:2]
        shrink = math.sqrt(abs(np.linalg.det(window_to_scan[:, :2])))  # scan pixels per window pixel
        outline = window_to_scan @ np.array([[0, 0, 1], [size, 0, 1], [size, size, 1], [0, size, 1]]).T
        (cx0, cy0), (cx1, cy1) = np.floor(outline.min(axis=1)) - 4, np.ceil(outline.max(axis=1)) + 4
        cx0, cy0 = int(max(cx0, 0)), int(max(cy0, 0))
        crop = gray[cy0:max(int(cy1), cy0 + 1), cx0:max(int(cx1), cx0 + 1)]
        if crop.size == 0:
            continue
        to_crop = window_to_scan - [[0, 0, cx0], [0, 0, cy0]]
        if shrink > 1.5:  # area-average down to about the window's scale first, so the warp does not alias
            f = shrink / 1.2
            crop = cv2.resize(crop, (max(round(crop.shape[1] / f), 1), max(round(crop.shape[0] / f), 1)),
                              interpolation=cv2.INTER_AREA)
            to_crop = (to_crop + [[0, 0, 0.5], [0, 0, 0.5]]) / f - [[0, 0, 0.5], [0, 0, 0.5]]
        window = cv2.warpAffine(crop, to_crop, (size, size), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                                borderMode=cv2.BORDER_REPLICATE)
        template = cv2.aruco.generateImageMarker(dictionary, spec.MARKER_IDS[name], n * s)
        score = cv2.matchTemplate(window, template, cv2.TM_CCOEFF_NORMED)
        _, _, _, (du, dv) = cv2.minMaxLoc(score)
        cells = window[dv:dv + n * s, du:du + n * s].reshape(n, s, n, s)[:, s // 4:-s // 4, :, s // 4:-s // 4]
        if _misread(cells.mean(axis=(1, 3)), template[s // 2::s, s // 2::s] < 128) > MARKER_READ_WRONG:
            continue
        edges = np.array([[du, dv], [du + n * s, dv], [du + n * s, dv + n * s], [du, dv + n * s]]) - 0.5  # pixel edges
        found[name] = (window_to_scan @ np.column_stack([edges, np.ones(4)]).T).T
        tried.clear()  # the refit may place a marker missed so far better
    return found


@contextlib.contextmanager
def search_budget(seconds: float = SEARCH_SECONDS) -> Iterator[None]:
    """Within the block, marker searches (in this thread) start no detector pass once ``seconds`` have passed."""
    token = _SEARCH_DEADLINE.set(time.monotonic() + seconds)
    try:
        yield
    finally:
        _SEARCH_DEADLINE.reset(token)


def search_budget_spent() -> bool:
    """Whether the current ``search_budget`` has run out."""
    deadline = _SEARCH_DEADLINE.get()
    return deadline is not None and time.monotonic() > deadline


def _check_search_budget(found: int) -> None:
    if search_budget_spent():
        raise MarkersNotFound(f"the search for the corner marks ran out of time ({found} of 4 found)",
                              reason="search_budget")


def screen_page(gray: np.ndarray, scale: float, min_dpi: float) -> None:
    """Refuse, in milliseconds, a picture that cannot be a scan of the back, before the costly marker search: one
    too small to hold the corner marks at ``min_dpi`` (``ResolutionTooLow``; ``scale`` is the decoded size over the
    scan's), or one busy all over, which no picture of paper is (``MarkersNotFound``)."""
    rects = spec.marker_rects()
    span_w = max(r.x + r.w for r in rects.values()) - min(r.x for r in rects.values())
    span_h = max(r.y + r.h for r in rects.values()) - min(r.y for r in rects.values())
    height, width = gray.shape[:2]
    short, long = sorted((width / scale, height / scale))
    dpi = min(short / min(span_w, span_h), long / max(span_w, span_h)) * spec.UNITS_PER_INCH  # at most this
    if dpi < min_dpi * SCREEN_MARGIN:
        raise ResolutionTooLow(f"the picture has {width} x {height} pixels, too few to hold the back at "
                               f"{min_dpi:g} dpi", dpi=round(dpi))
    step = max(1, height // 256)  # pairs of neighbouring rows, about 256 of them
    rows = gray[: height - 1 : step].astype(np.int16)
    below = gray[1:height:step][: len(rows)].astype(np.int16)
    across = np.abs(rows[:, 1:] - rows[:, :-1]) > BUSY_LEVELS
    down = np.abs(below - rows)[:, :-1] > BUSY_LEVELS
    busy = float(np.count_nonzero(across & down)) / max(1, across.size)
    if busy > MAX_BUSY_FRACTION:
        raise MarkersNotFound(f"{busy:.0%} of the picture changes sharply from pixel to pixel: no scan of paper "
                              "looks like this", reason="not_paper")


# --- the code ------------------------------------------------------------------------------------------------


def rectify(gray: np.ndarray, h: np.ndarray, box: tuple[float, float, float, float], px_per_unit: float) -> np.ndarray:
    """The page region ``box`` (units) resampled upright at ``px_per_unit`` from the scan."""
    x0, y0, x1, y1 = box
    w, hgt = round((x1 - x0) * px_per_unit), round((y1 - y0) * px_per_unit)
    out_to_page = np.array([[1 / px_per_unit, 0, x0 + 0.5 / px_per_unit], [0, 1 / px_per_unit, y0 + 0.5 / px_per_unit],
                            [0, 0, 1]])
    return cv2.warpPerspective(gray, h @ out_to_page, (w, hgt), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                               borderMode=cv2.BORDER_REPLICATE)


def read_code(gray: np.ndarray, fit: PageFit) -> tuple[bytes, bool]:
    """The bytes of the QR code in its box, and whether they were read only once the symbol was repaired
    (``repaired_read``): ``CodeUnreadable`` when no certverify code can be decoded there. Error correction can
    decode a repaired symbol to wrong bytes, so a signature that fails on them says nothing against the paper."""
    x0, y0, x1, y1 = spec.QR_BOX
    # the box at 5 pixels a module, at 8 where the scan has them, and then around the box: a sheet bent or folded
    # between the corner marks and the code puts the code off its box
    tries = [(spec.QR_BOX, 1.0), *([(spec.QR_BOX, 1.6)] if fit.px_per_unit >= 1.2 else []),
             ((x0 - QR_REACH, y0 - QR_REACH, x1 + QR_REACH, y1 + QR_REACH), 1.0)]
    first = None
    for box, ppu in tries:
        region = rectify(gray, fit.homography, box, ppu)
        first = region if first is None else first
        for img in (region, cv2.GaussianBlur(region, (0, 0), 0.8)):
            if (data := _decode_qr(img)) is not None:
                return data, False
    assert first is not None
    if (data := repaired_read(first)) is not None:
        return data, True
    raise CodeUnreadable("no certverify QR code could be decoded in its box")


def repaired_read(region: np.ndarray) -> bytes | None:
    """The bytes of the certverify QR code in ``region`` (its box at 1 pixel a unit, 5 a module) read only once the symbol
    is repaired, or None. Light gaps narrower than a module filled (toner missing along a few rows, the paper's
    texture showing through the modules), and read as they are or cut at one threshold for the whole box (paper
    textured or tinted all over); modules smeared into their neighbours by a doubled print or a scanner's colour
    fringes (Augraphy's ColorShift), or blurred into them (a fax), which an unsharp mask separates again; modules
    printed pale, grey beside black (toner running low, an ink swapped for a lighter one), which a QR reader's own
    threshold takes for paper, and a pale finder pattern hides the whole symbol: cut near the paper; then, with the
    three finder patterns redrawn where a symbol of each size centred in the box has them; last, with the rows a
    crease moved sideways moved back (``_rows_aligned``). And when none of these reads it, all of them again once
    thin light streaks through the modules are painted over (``_streaks_filled``)."""
    if (data := _repairs(region)) is not None:
        return data
    filled = _streaks_filled(region, spec.QR_MODULE)
    return _decode_qr(filled) or _repairs(filled)


def _repairs(region: np.ndarray) -> bytes | None:
    """The reads of ``repaired_read``, streaks aside."""
    for side in GAP_CLOSE:
        opened = cv2.morphologyEx(region, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
        smooth = cv2.GaussianBlur(opened, (0, 0), 0.8)
        # and one threshold for the whole box (Otsu's): on paper textured or tinted all over, a QR reader's own
        # threshold follows the texture from place to place and cuts modules apart where the paper darkens
        cut = cv2.threshold(smooth, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1]
        if any((data := _decode_qr(img)) is not None for img in (opened, smooth, cut)):
            return data
    for sigma, strength in UNSHARP:
        blurred = cv2.GaussianBlur(region, (0, 0), sigma * spec.QR_MODULE)
        unsharp = cv2.addWeighted(region, 1.0 + strength, blurred, -strength, 0)
        if (sharpened := _decode_qr(unsharp)) is not None:
            return sharpened
    soft = cv2.GaussianBlur(region, (0, 0), 0.8)
    ink, paper = np.percentile(soft, (5, 95))
    cuts: list[np.ndarray] = [np.where(soft < ink + share * (paper - ink), 0, 255).astype(np.uint8)
                              for share in PALE_CUTS]
    for img in cuts:
        if (data := _decode_qr(img)) is not None:
            return data
    dark = np.argwhere(soft < (ink + paper) / 2)
    across = (dark.max(axis=0) - dark.min(axis=0) + 1).max() / spec.QR_MODULE if len(dark) else 0
    for modules in sorted(range(21, 58, 4), key=lambda n: abs(n - across)):  # versions 1 to 10: all that fit
        for img in (soft, *cuts):
            if (data := _decode_qr(_finders_redrawn(img, modules, ink, paper))) is not None:
                return data
    aligned = _rows_aligned(soft, ink, paper)
    return next((data for img in (aligned, cv2.threshold(aligned, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)[1])
                 if (data := _decode_qr(img)) is not None), None)


def _streaks_filled(image: np.ndarray, module_px: float) -> np.ndarray:
    """``image`` (a code or the data strip, its modules ``module_px`` pixels wide) with thin light streaks painted
    over from either side: lines narrower than STREAK_WIDTH of a module that stand STREAK_LEVELS above the ink
    beside them (a top-hat) and run straight for STREAK_RUN modules, down the image and then across it."""
    across = max(3, round(STREAK_WIDTH * module_px)) | 1
    run = max(3, round(STREAK_RUN * module_px))
    out = image
    for narrow, long in (((1, across), (run, 1)), ((across, 1), (1, run))):  # streaks down, then across
        lifted = cv2.morphologyEx(out, cv2.MORPH_TOPHAT, np.ones(narrow, np.uint8)) > STREAK_LEVELS
        streaks = cv2.morphologyEx(lifted.astype(np.uint8), cv2.MORPH_OPEN, np.ones(long, np.uint8))
        if streaks.any():
            out = cv2.inpaint(out, cv2.dilate(streaks, np.ones((3, 3), np.uint8)), 3, cv2.INPAINT_TELEA)
    return out


def _rows_aligned(soft: np.ndarray, ink: float, paper: float) -> np.ndarray:
    """The QR box ``soft`` (1 px a unit, softened) with each row moved across by how far the symbol's edges lie
    there from where they lie over the symbol: a crease through the code shifts a band of its rows sideways, and a
    QR reader, which maps the whole symbol from its finder patterns, reads none of them. A row's own edge module
    may be light, so the symbol's edge at a row is the outermost ink within QR_ROW_REACH modules above or below;
    where the left and right edges disagree by more than a module, the smaller move is taken."""
    dark = soft < (ink + paper) / 2
    h, w = dark.shape
    inked = dark.any(axis=1)
    reach = np.ones((2 * QR_ROW_REACH * spec.QR_MODULE + 1, 1), np.uint8)
    left = cv2.erode(np.where(inked, dark.argmax(axis=1), w).astype(np.float32)[:, None], reach).ravel()
    right = cv2.dilate(np.where(inked, w - 1 - dark[:, ::-1].argmax(axis=1), -1).astype(np.float32)[:, None],
                       reach).ravel()
    rows = np.flatnonzero((left < w) & (right >= 0))
    shift = np.zeros(h, np.float32)
    if rows.size:
        top, bottom = rows.min(), rows.max() + 1
        moves = np.stack([left - np.median(left[top:bottom]), right - np.median(right[top:bottom])])
        smaller = np.where(np.abs(moves[0]) < np.abs(moves[1]), moves[0], moves[1])
        agree = np.abs(moves[0] - moves[1]) <= spec.QR_MODULE
        shift[top:bottom] = np.where(agree, moves.mean(axis=0), smaller)[top:bottom]
    xs = np.arange(w, dtype=np.float32)[None, :] + np.convolve(shift, np.ones(3, np.float32) / 3, "same")[:, None]
    ys = np.repeat(np.arange(h, dtype=np.float32)[:, None], w, axis=1)
    return cv2.remap(soft, xs, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _finders_redrawn(img: np.ndarray, modules: int, ink: float, paper: float) -> np.ndarray:
    """``img`` (the QR box at 1 px a unit) with the three finder patterns of a symbol ``modules`` across, centred
    in the box as issued, drawn in ``ink`` and ``paper`` with their one-module separators."""
    m = spec.QR_MODULE
    out = img.copy()
    origin = (spec.QR_BOX[2] - spec.QR_BOX[0] - modules * m) / 2
    rings = np.maximum(np.abs(np.arange(-4, 5))[:, None], np.abs(np.arange(-4, 5))[None, :])  # 0 at the centre
    light = (rings == 2) | (rings == 4)  # the white ring and the separator; the centre 3 x 3 and the ring 3: ink
    for row, col in ((0, 0), (0, modules - 7), (modules - 7, 0)):
        for (i, j), is_light in np.ndenumerate(light):
            y, x = origin + (row + i - 1) * m, origin + (col + j - 1) * m
            ys, xs = slice(max(round(y), 0), max(round(y + m), 0)), slice(max(round(x), 0), max(round(x + m), 0))
            out[ys, xs] = paper if is_light else ink
    return out


def _decode_qr(img: np.ndarray) -> bytes | None:
    """The bytes of a certverify QR code in ``img``, or None."""
    # zxing-cpp accepts one BarcodeFormat as well as BarcodeFormats (its docstring says so; its stub does not)
    qr = zxingcpp.BarcodeFormat.QRCode
    for result in zxingcpp.read_barcodes(img, formats=qr, try_rotate=False):  # type: ignore[arg-type]
        if result.valid and result.bytes[:2] == b"CV":
            return bytes(result.bytes)
    return None


# --- the dot track and the refined grid ------------------------------------------------------------------------


@dataclass
class GridFit:
    """The measured dot track and the mapping from design units of the scrambled area to scan pixels."""

    homography: np.ndarray  # page units -> scan pixels, fitted to every measured dot
    residuals: dict[str, np.ndarray]  # per side: (N, 2) scan-pixel residuals of the dots after the homography
    dots_found: float  # fraction of dots measured
    rms_px: float  # residual RMS before the boundary correction
    ink: float  # the print's black: the median dot darkness, or the scrambled area's darkest ink where the dots print
    # paler than it by more than DOTS_PALER (0-255 gray level)
    paper: float  # median paper level around the dots
    blur_px: float  # Gaussian blur of the scan (sigma, scan pixels) measured on the dots' edges
    ink_spread: float = 0.0  # how far apart the dots' darkness lies (10th to 90th percentile, gray levels)
    creases: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)  # per side, k where dots k, k + 1
    # jump apart: a fold crosses the track there

    def scan_points(self, xs: np.ndarray, ys: np.ndarray, correct: bool = True) -> np.ndarray:
        """Scan coordinates (ny, nx, 2) of the grid of design points xs x ys (units from the scrambled area's
        top-left corner): the homography, plus (unless ``correct`` is false) the boundary correction where the
        dots call for it."""
        gx, gy = np.meshgrid(xs, ys)
        pts = project(self.homography, np.stack([gx.ravel() + spec.GRID_X, gy.ravel() + spec.GRID_Y], 1))
        pts = pts.reshape(len(ys), len(xs), 2)
        return pts + self._coons(xs, ys) if correct and self.needs_correction else pts

    def _coons(self, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        """Boundary residuals blended into the interior (a Coons patch over the dot-track rectangle)."""
        d, w, h = spec.DOT_OFFSET, spec.GRID_W, spec.GRID_H
        kx = np.arange(spec.COLS + 1) * spec.PITCH
        ky = np.arange(spec.ROWS + 1) * spec.PITCH
        r = self.residuals

        def along(side: str, knots: np.ndarray, at: np.ndarray) -> np.ndarray:
            return np.stack([np.interp(at, knots, r[side][:, 0]), np.interp(at, knots, r[side][:, 1])], -1)

        top, bottom = along("top", kx, xs), along("bottom", kx, xs)  # (nx, 2)
        left, right = along("left", ky, ys), along("right", ky, ys)  # (ny, 2)
        c00 = (r["top"][0] + r["left"][0]) / 2
        c10 = (r["top"][-1] + r["right"][0]) / 2
        c01 = (r["bottom"][0] + r["left"][-1]) / 2
        c11 = (r["bottom"][-1] + r["right"][-1]) / 2
        s = ((xs + d) / (w + 2 * d))[None, :, None]
        t = ((ys + d) / (h + 2 * d))[:, None, None]
        return ((1 - t) * top[None] + t * bottom[None] + (1 - s) * left[:, None] + s * right[:, None]
                - ((1 - s) * (1 - t) * c00 + s * (1 - t) * c10 + (1 - s) * t * c01 + s * t * c11))

    @property
    def px_per_unit(self) -> float:
        """Scan pixels per layout unit at the centre of the scrambled area."""
        return local_scale(self.homography, (spec.GRID_X + spec.GRID_W / 2, spec.GRID_Y + spec.GRID_H / 2))

    @property
    def needs_correction(self) -> bool:
        """Whether the dots stray from the homography enough to matter (sheet-feeder stretch, lens bulge)."""
        return max(float(np.abs(r).max()) for r in self.residuals.values()) > MAX_PLAIN_RESIDUAL_PX

    def block_affines(self, block_map: BlockMap) -> np.ndarray:
        """Per printed cell, the affine map (cells, 2, 3; float32) from the upright front block's pixel coordinates
        to scan pixels: the cell's local affine map composed with the inverse of its turn. Row p maps front block
        ``perm[p]``; x, then y: scan = m[0] * u + m[1] * v + m[2]."""
        g, b, pitch = spec.GUARD, spec.BLOCK, spec.PITCH
        xs = (np.arange(spec.COLS)[:, None] * pitch + [g, g + b]).ravel().astype(np.float64)
        ys = (np.arange(spec.ROWS)[:, None] * pitch + [g, g + b]).ravel().astype(np.float64)
        corners = self.scan_points(xs, ys).reshape(spec.ROWS, 2, spec.COLS, 2, 2)
        origin = corners[:, 0, :, 0].reshape(-1, 2)  # per printed cell, where its content starts
        ex = ((corners[:, 0, :, 1] - corners[:, 0, :, 0]) / b).reshape(-1, 2)  # scan step per content unit, x
        ey = ((corners[:, 1, :, 0] - corners[:, 0, :, 0]) / b).reshape(-1, 2)  # and y
        turn = _turn_affines()[block_map.transform]  # (cells, 2, 3): front block coords -> printed cell coords
        m = np.empty((len(block_map.perm), 2, 3))
        for k in range(3):
            m[:, :, k] = ex * turn[:, 0, k, None] + ey * turn[:, 1, k, None]
        m[:, :, 2] += origin
        return m.astype(np.float32)

    def slipped_readings(self) -> list[GridFit]:
        """The readings of a folded sheet's dot track where a panel may have slipped a dot; none for a track that
        shows no such panel.

        The dots repeat every PITCH units along each side, so a window that looks for a dot finds the one nearest
        its prediction: where a fold moved a panel along the track by half a pitch or more (2 mm is 19 units, and
        panels add up), the panel's dots are found one place off. A panel is rigid, so all its dots moved alike
        (``_unslipped`` has put back single dots found off their panel's move). Panels end where a track jumps at
        a crease (``_panels``). A panel at either end of a track meets the track across it at the corner, where
        that track's move across itself (which a slip cannot change) is this one's move along itself: the panel is
        read to agree. A track that no crease crosses (the top and bottom of a sheet folded for an envelope) lies on
        one panel, which may have moved a pitch or more against the panel the fit follows (two folds add up): it
        is read to agree with both its corners when they agree. A panel between creases has no such anchor: its
        move is read as measured and every other way that keeps it within MAX_JUMP units of an end panel beside
        it, or else of the one before it (their medians, clear of the paper's lift beside the crease), and the
        tracks either side of it within SLIP_AGREE of each other (at most MAX_READINGS readings, the longest panels
        first). The blocks' fit tells the readings and the track as measured apart (``restore``); a reading says
        where the cells are and nothing about what they hold, so a back rebuilt from other cells fits no better
        under any."""
        residuals = {side: r.copy() for side, r in self.residuals.items()}
        choices: list[list[tuple[tuple[str, int, int, np.ndarray], ...]]] = []
        anchored = False
        for pair, ends in ((("left", "right"), ("top", "bottom")), (("top", "bottom"), ("left", "right"))):
            step = _pitch_step(self.homography, pair[0])
            along = {side: residuals[side] @ step / float(step @ step) for side in (*pair, *ends)}  # in pitches
            n = len(along[pair[0]])
            panels = self._panels(pair)
            if not panels:
                continue
            # the end panels, each from its corner (a dot or two there may be strays, which move with it); a track no
            # crease crosses is one panel between two corners, moved as they say when both say the same
            first = panels[0] if panels[0][0] < MIN_PANEL else None
            last = panels[-1] if panels[-1][1] > n - MIN_PANEL else None
            corners: list[tuple[tuple[int, int], tuple[int, int], str]] = []  # dots moved, the panel, the track across
            if first is not None:
                corners.append(((0, first[1]), first, ends[0]))
            if last is not None:
                corners.append(((last[0], n), last, ends[1]))
            for i, side in enumerate(pair):
                moves: dict[tuple[int, int], set[int]] = {}
                for reach, panel, end in corners:
                    moves.setdefault(reach, set()).add(round(float(along[end][-i] - np.median(along[side][slice(*panel)]))))
                for (a, b), ks in moves.items():
                    if len(ks) == 1 and (k := ks.pop()):
                        residuals[side][a:b] += k * step
                        along[side][a:b] += k
                        anchored = True
            for j, (a, b) in enumerate(panels):  # the panels between, from an end panel beside them or else the
                # one before
                if (a, b) in (first, last):
                    continue
                beside = [q for q in (panels[j - 1] if j else None, panels[j + 1] if j + 1 < len(panels) else None)
                          if q is not None]
                near = next((q for q in beside if q in (first, last)), beside[0] if beside else None)
                if near is None:
                    continue
                ways = [way for way in itertools.product((-1, 0, 1), repeat=2)
                        if way == (0, 0)  # as measured
                        or (all(abs(np.median(along[side][a:b]) + k - np.median(along[side][slice(*near)]))
                                * spec.PITCH <= MAX_JUMP for side, k in zip(pair, way, strict=True))
                            and abs(along[pair[0]][a:b].mean() + way[0] - along[pair[1]][a:b].mean() - way[1])
                            * spec.PITCH <= SLIP_AGREE)]
                if ways and ways != [(0, 0)]:
                    choices.append([tuple((side, a, b, k * step) for side, k in zip(pair, way, strict=True))
                                    for way in ways])
        if not choices:
            return [dataclasses.replace(self, residuals=residuals)] if anchored else []
        choices.sort(key=lambda ways: ways[0][0][1] - ways[0][0][2])  # the longest panels first
        readings: list[GridFit] = []
        for combination in itertools.product(*choices):
            if len(readings) == MAX_READINGS:
                break
            shifts = list(itertools.chain.from_iterable(combination))
            if not anchored and not any(move.any() for *_, move in shifts):
                continue  # the track as measured, which ``restore`` has tried already
            moved = {side: r.copy() for side, r in residuals.items()}
            for side, a, b, move in shifts:
                moved[side][a:b] += move
            readings.append(dataclasses.replace(self, residuals=moved))
        return readings

    def _panels(self, pair: tuple[str, str]) -> list[tuple[int, int]]:
        """The panels of a folded sheet along the tracks ``pair`` (left and right, or top and bottom): the runs of
        at least MIN_PANEL dots between the creases either track shows where it moves PANEL_STEP units or more
        from one dot to the next (the paper's lift beside a crease bends the track less steeply), as (first dot,
        one past the last)."""
        cuts = np.zeros(0, int)
        for side in pair:
            k = self.creases.get(side, np.zeros(0, int))
            moves = np.linalg.norm(np.diff(self.residuals[side], axis=0), axis=1)[k] / self.px_per_unit
            cuts = np.union1d(cuts, k[moves >= PANEL_STEP] + 1)
        n = len(self.residuals[pair[0]])
        return [(int(a), int(b)) for a, b in zip(np.r_[0, cuts], np.r_[cuts, n], strict=True) if b - a >= MIN_PANEL]

    @property
    def interpolation(self) -> int:
        """Cubic when upsampling a low-resolution scan; at 300 dpi and above bilinear is as good and cheaper."""
        return cv2.INTER_CUBIC if self.px_per_unit < 1.1 else cv2.INTER_LINEAR


SAMPLE_CHUNK = 128  # cells whose sampling maps are made at once: 1 MB, which stays in the processor's cache


def sample_blocks(image: np.ndarray, affines: np.ndarray, interpolation: int, step: int = 1, divisor: float = 1.0
                  ) -> np.ndarray:
    """Every pixel of every front block sampled from its printed cell of ``image`` through ``affines``
    (``GridFit.block_affines``), in printed order: (cells, (BLOCK / step) ** 2[, channels]). Reading the cells in
    printed order keeps the scan's memory access sequential. With ``step`` 2 every block is sampled at half
    resolution, at the centres of its 2 x 2 pixel groups; ``divisor`` samples an image reduced by that factor.
    The maps for ``cv2.remap`` are made a few cells at a time, so that they never leave the cache."""
    side = spec.BLOCK // step
    local = (np.arange(side, dtype=np.float32) + 0.5) * step
    out = np.empty((len(affines), side * side, *image.shape[2:]), image.dtype)
    for start in range(0, len(affines), SAMPLE_CHUNK):
        m = affines[start:start + SAMPLE_CHUNK]
        maps = []
        for i in range(2):  # x, then y, at pixel centres (u, v) of the block
            rows = m[:, i, 1, None, None] * local[None, :, None] + m[:, i, 2, None, None]
            coords = (rows + m[:, i, 0, None, None] * local[None, None, :]).reshape(len(m), -1)
            maps.append(coords / divisor if divisor != 1 else coords)
        cv2.remap(image, maps[0], maps[1], interpolation, dst=out[start:start + len(m)],
                  borderMode=cv2.BORDER_REPLICATE)
    return out


@functools.cache
def _turn_affines() -> np.ndarray:
    """For each of the 8 turns, the affine map (2 x 3) from a front block's pixel-centre coordinates to the printed
    block's, derived from ``scramble.turn`` itself so the two can never disagree."""
    size = spec.BLOCK
    out = np.zeros((8, 2, 3))
    index = np.arange(size * size).reshape(1, size, size)
    for t in range(8):
        turned = turn(index, t)[0]
        where = {int(f): (x + 0.5, y + 0.5) for (y, x), f in np.ndenumerate(turned) if f in (0, 1, size)}
        p0, px, py = (np.array(where[f]) for f in (0, 1, size))
        dx, dy = px - p0, py - p0
        out[t, :, 0], out[t, :, 1] = dx, dy
        out[t, :, 2] = p0 - 0.5 * dx - 0.5 * dy
    return out


def _dot_centroids(gray: np.ndarray, guesses: np.ndarray, r: int, dot_px: float) -> np.ndarray:
    """Ink-weighted centroids of the dots near each guess, all at once: rows of (x, y, ink level, paper level),
    NaN where a window holds no dot or leaves the image. In a colour image (BGR) the windows are read on their
    darkest channel."""
    out = np.full((len(guesses), 4), np.nan)
    if not len(guesses):
        return out
    centre = np.round(guesses).astype(np.int64)
    offsets = np.arange(-r, r + 1)
    ys, xs = centre[:, 1:2] + offsets, centre[:, 0:1] + offsets  # (N, 2r + 1) each
    inside = (ys[:, 0] >= 0) & (xs[:, 0] >= 0) & (ys[:, -1] < gray.shape[0]) & (xs[:, -1] < gray.shape[1])
    ys, xs = ys[inside], xs[inside]
    side = 2 * r + 1  # slicing window by window is several times faster than one fancy-indexed gather
    patch = np.stack([gray[y:y + side, x:x + side] for y, x in zip(ys[:, 0], xs[:, 0], strict=True)]
                     ).astype(np.float32) if len(ys) else np.zeros((0, side, side, *gray.shape[2:]), np.float32)
    if patch.ndim == 4:
        patch = patch.min(axis=3)
    ring = np.concatenate([patch[:, 0], patch[:, -1], patch[:, 1:-1, 0], patch[:, 1:-1, -1]], axis=1)
    paper = np.median(ring, axis=1)  # the window's edge is paper
    darkest = patch.min(axis=(1, 2))
    peak = paper - darkest
    w = np.clip((paper - 0.3 * peak)[:, None, None] - patch, 0, None)
    area = np.count_nonzero(w, axis=(1, 2)) / dot_px**2
    total = w.sum(axis=(1, 2))
    good = (peak >= 25) & (area > 0.2) & (area < 3.5) & (total > 0)
    total = np.where(good, total, 1.0)
    cx = (w.sum(axis=1) * xs).sum(axis=1) / total
    cy = (w.sum(axis=2) * ys).sum(axis=1) / total
    found = np.stack([cx, cy, darkest, paper], axis=1)
    found[~good] = np.nan
    out[inside] = found
    return out


def _dot_window(ppu: float) -> tuple[int, float]:
    """At ``ppu`` scan pixels a unit: the half-width of the window a dot is searched in, and a dot's side, in
    scan pixels."""
    return max(3, round(DOT_SEARCH * ppu)), spec.DOT_SIZE * ppu


def measure_dots(gray: np.ndarray, fit: PageFit, colour: np.ndarray | None = None) -> GridFit:
    """Measure every dot of the track to sub-pixel precision: all at their predicted places first, then the
    missing ones again where their measured neighbours say they have moved. Where a colour scan (BGR) is given,
    a dot still missing is looked for again on its darkest channel: a dot printed in a pale ink (an ink swapped
    for another, as Augraphy's InkColorSwap prints it) stands out from the paper in one colour only. Such a dot
    places the track; the print's black, the paper and the dots' spread are measured on the dots printed dark."""
    ppu = fit.px_per_unit
    r, dot_px = _dot_window(ppu)
    centres = spec.dot_centres()
    design = np.concatenate([np.array(c, dtype=np.float64) for c in centres.values()])
    bounds = np.cumsum([0] + [len(c) for c in centres.values()])
    predicted = fit.project(design)
    hits = _dot_centroids(gray, predicted, r, dot_px)
    near_edge = np.abs(hits[:, :2] - predicted).max(axis=1) > r - dot_px
    if near_edge.any():  # centre the window on the dot so none of it is cut off
        hits[near_edge] = _dot_centroids(gray, hits[near_edge, :2], r, dot_px)
    for nearest in (False, True):  # a run of dots beyond a crease has moved as its nearest measured neighbour has
        missing = np.isnan(hits[:, 0])
        if not missing.any():
            break
        shifted = predicted.copy()
        for a, b in zip(bounds[:-1], bounds[1:], strict=True):
            ok = ~missing[a:b]
            if ok.any():
                idx = np.arange(b - a)
                known = idx[ok]
                if nearest:
                    pick = known[np.abs(idx[:, None] - known[None, :]).argmin(axis=1)]
                    shifted[a:b] += hits[a:b, :2][pick] - predicted[a:b][pick]
                    continue
                for c in range(2):
                    shifted[a:b, c] += np.interp(idx, known, hits[a:b, c][ok] - predicted[a:b, c][ok])
        hits[missing] = _dot_centroids(gray, shifted[missing], r, dot_px)
        pale = np.isnan(hits[:, 0]) & missing
        if colour is not None and pale.any():
            again = _dot_centroids(colour, shifted[pale], r, dot_px)
            again[:, 2:] = np.nan  # a pale dot's darkness is its ink's, not the print's black
            hits[pale] = again
    span = dict(zip(centres, zip(bounds[:-1], bounds[1:], strict=True), strict=True))
    h, residuals, creases = _fit_track(design, hits, span, ppu, strict=False)
    broken = [side for side, (a, b) in span.items() if len(creases[side]) or np.isnan(hits[a:b, 0]).any()]
    if broken:  # a fold or a mark: measure that side's dots again by their shape, where the fit says they lie
        # and where the track as first measured puts them (a panel beyond a crease may lie further from the fit,
        # which follows another panel, than the shape search reaches), keeping of the two the one more like a dot
        for side in broken:
            a, b = span[side]
            along = 1 if side in ("left", "right") else 0
            fitted = project(h, design[a:b])
            again, contrast = _dots_by_shape(gray, fitted, along, ppu)
            tracked, tracked_contrast = _dots_by_shape(gray, fitted + residuals[side], along, ppu)
            closer = tracked_contrast > contrast
            again[closer] = tracked[closer]
            found = ~np.isnan(again[:, 0])
            hits[a:b][found] = again[found]
        h, residuals, creases = _fit_track(design, hits, span, ppu)
    ok_all = ~np.isnan(hits[:, 0])
    page_all, scan_all = design[ok_all], hits[ok_all, :2]
    rms = float(np.sqrt(np.mean(np.sum((scan_all - project(h, page_all)) ** 2, 1))))
    dark = ~np.isnan(hits[:, 2])
    if not dark.any():
        raise GridNotFound("no dot of the track printed dark enough to tell the print's black")
    ink, paper = float(np.median(hits[dark, 2])), float(np.median(hits[dark, 3]))
    low, high = np.percentile(hits[dark, 2], [10, 90])
    blur = _edge_blur(gray, hits[dark, :2][:: max(1, int(dark.sum()) // 48)], dot_px, ink, paper)
    ink = min(ink, _area_black(gray, h) + DOTS_PALER)
    return GridFit(h, residuals, float(ok_all.mean()), rms, ink, paper, blur, float(high - low), creases)


def _area_black(gray: np.ndarray, h: np.ndarray) -> float:
    """The darkest ink of the scrambled area (the AREA_BLACK quantile of the box around it, every other pixel):
    the front's black strokes. Dots that print paler than the strokes beside them (solid squares a printer left
    hollow, or a toner that fills large solids badly) would otherwise be taken for the print's black, and every
    stroke restored darker than the issuer printed it: such a genuine back was answered ``altered``."""
    corners = project(h, np.array([[0, 0], [spec.GRID_W, 0], [spec.GRID_W, spec.GRID_H], [0, spec.GRID_H]], float))
    x0, y0 = np.clip(corners.min(axis=0), 0, None).astype(int)
    x1, y1 = corners.max(axis=0).astype(int)
    box = np.ascontiguousarray(gray[y0:y1:2, x0:x1:2])
    if box.size == 0:
        return 255.0
    share = cv2.calcHist([box], [0], None, [256], [0, 256]).ravel().cumsum() / box.size
    return float(np.searchsorted(share, AREA_BLACK))


AREA_BLACK = 0.005  # quantile of the scrambled area taken as its darkest ink (the front's strokes cover more)
DOTS_PALER = 32  # levels the dots may print paler than that ink before it (plus these levels), not they, is taken
# as black: the dots print 5 to 18 levels darker on scans of every class of tests/simulate.py and tests/field.py,
# up to 28 paler under glare, which lifts them where it falls; 128 paler on a print whose dots came out hollow
DOT_REACH = 30  # units across its track a dot is looked for again by its shape, when the track is broken


def _dots_by_shape(gray: np.ndarray, guesses: np.ndarray, along: int, ppu: float) -> tuple[np.ndarray, np.ndarray]:
    """The dots near ``guesses`` found by their shape, as ``_dot_centroids`` gives them: the place within DOT_SEARCH
    units along the track (axis ``along`` of the scan) and DOT_REACH across it where a dark square of a dot's size
    stands out most from the ring of paper around it, then the centroid there; and how far it stands out (levels,
    0 where none does). The panel of a folded sheet can lie further across the track than the first search
    reaches, and there the nearest dark ink is the scrambled area's own, whose strokes are thinner than a dot."""
    out = np.full((len(guesses), 4), np.nan)
    contrast = np.zeros(len(guesses))
    dot_px = spec.DOT_SIZE * ppu
    inner = max(3, round(dot_px)) | 1
    outer = max(inner + 4, round(1.8 * dot_px)) | 1
    pad = outer // 2
    reach = [max(3, round(DOT_SEARCH * ppu)), max(3, round(DOT_REACH * ppu))]
    rx, ry = (reach[0], reach[1]) if along == 0 else (reach[1], reach[0])
    centres = np.full((len(guesses), 2), np.nan)
    for i, (x, y) in enumerate(np.round(guesses).astype(np.int64)):
        x0, y0, x1, y1 = x - rx - pad, y - ry - pad, x + rx + pad + 1, y + ry + pad + 1
        if x0 < 0 or y0 < 0 or x1 > gray.shape[1] or y1 > gray.shape[0]:
            continue
        win = gray[y0:y1, x0:x1].astype(np.float32)
        core = cv2.boxFilter(win, -1, (inner, inner), normalize=False)
        around = cv2.boxFilter(win, -1, (outer, outer), normalize=False) - core
        score = (around / (outer**2 - inner**2) - core / inner**2)[pad:-pad, pad:-pad]
        j = int(np.argmax(score))
        if score.flat[j] >= 25:  # levels, as a dot's contrast must be (``_dot_centroids``)
            cy, cx = divmod(j, score.shape[1])
            centres[i] = (x0 + pad + cx, y0 + pad + cy)
            contrast[i] = score.flat[j]
    found = ~np.isnan(centres[:, 0])
    if found.any():
        out[found] = _dot_centroids(gray, centres[found], max(3, round(0.8 * dot_px)), dot_px)
    return out, np.where(np.isnan(out[:, 0]), 0.0, contrast)


def _fit_track(design: np.ndarray, hits: np.ndarray, span: dict[str, tuple[int, int]], ppu: float,
               strict: bool = True) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The homography from page units to the measured dots, and per side the dots' residuals cleaned along the
    track (``_clean_track``) and where the track jumps at a crease. ``GridNotFound`` when a side has too few dots
    measured, unless not ``strict`` (a first fit, to search for them again from)."""
    ok_all = ~np.isnan(hits[:, 0])
    for side, (a, b) in span.items():
        if ok_all[a:b].mean() < MIN_DOT_FRACTION and strict:
            raise GridNotFound(f"only {int(ok_all[a:b].sum())} of {b - a} dots found on the {side} side", side=side)
    page_all, scan_all = design[ok_all], hits[ok_all, :2]
    # robust to a few dots measured on something else (a staple, a thumb): a least-squares fit would bend to them
    h = cv2.findHomography(page_all, scan_all, cv2.RANSAC, max(1.0, 1.5 * ppu))[0] if len(page_all) >= 8 else None
    if h is None:
        raise GridNotFound(f"only {len(page_all)} of {len(hits)} dots found, fitting no page")
    residuals, creases = {}, {}
    tol, step = max(0.6, 1.5 * ppu), CREASE_STEP * ppu
    for side, (a, b) in span.items():
        res = _unslipped(hits[a:b, :2] - project(h, design[a:b]), ok_all[a:b], _pitch_step(h, side))
        residuals[side], creases[side] = _clean_track(res, ok_all[a:b], tol, step)
    for side, opposite in OPPOSITE.items():
        # a crease crosses the sheet and so both opposite sides; jumps on one side only are dots measured on a mark
        if len(creases[side]) and not len(creases[opposite]):
            a, b = span[side]
            res = _unslipped(hits[a:b, :2] - project(h, design[a:b]), ok_all[a:b], _pitch_step(h, side))
            ok = ok_all[a:b] & (np.linalg.norm(res - np.nanmedian(res, axis=0), axis=1) < 2 * tol)
            if ok.mean() < MIN_DOT_FRACTION:
                if strict:
                    raise GridNotFound(f"only {int(ok.sum())} of {b - a} dots found on the {side} side", side=side)
                continue
            residuals[side], _ = _clean_track(res, ok, tol, step)
            creases[side] = np.zeros(0, int)
    return h, residuals, creases


def _pitch_step(h: np.ndarray, side: str) -> np.ndarray:
    """Scan pixels from one dot of ``side``'s track to the next, at the middle of the scrambled area."""
    centre = np.array([[spec.GRID_X + spec.GRID_W / 2, spec.GRID_Y + spec.GRID_H / 2]])
    along = np.array([[0.0, spec.PITCH]]) if side in ("left", "right") else np.array([[spec.PITCH, 0.0]])
    return (project(h, centre + along) - project(h, centre))[0]


def _unslipped(res: np.ndarray, ok: np.ndarray, step: np.ndarray) -> np.ndarray:
    """A track's residuals with every dot found one or more places off along the track put back in its place.
    Where a fold moved part of the sheet along a track by about half a pitch, the window that looks for each dot
    finds its own or its neighbour, dot by dot; the dots about it say which (the pitch nearest their mean move,
    taken round the pitch, over SLIP_NEIGHBOURS either side)."""
    along = res @ step / float(step @ step)  # in pitches
    turns = np.where(ok, np.exp(2j * np.pi * np.where(ok, along, 0.0)), 0)
    window = np.ones(2 * SLIP_NEIGHBOURS + 1)
    mean = np.angle(np.convolve(turns, window, mode="same")) / (2 * np.pi)
    whole = np.where(ok, np.round(along - mean), 0.0)
    return res - whole[:, None] * step


_SIGMAS = np.linspace(0.05, 6.0, 240)
_STEP_OF_SIGMA = np.array([math.erf(0.5 / (sg * math.sqrt(2))) for sg in _SIGMAS])  # largest pixel-to-pixel step


def _edge_blur(gray: np.ndarray, centres: np.ndarray, dot_px: float, ink: float, paper: float) -> float:
    """Median Gaussian sigma (pixels) of the dots' left and right edges, from their steepest pixel-to-pixel step."""
    if paper - ink < 25:
        return 0.0
    half, reach = max(1, round(dot_px / 4)), round(dot_px / 2 + 8)
    xi, yi = np.round(centres).astype(np.int64).T
    inside = (yi - half >= 0) & (xi - reach >= 0) & (yi + half + 1 <= gray.shape[0]) & (xi + reach + 1 <= gray.shape[1])
    if not inside.any():
        return 0.0
    ys = yi[inside, None, None] + np.arange(-half, half + 1)[None, :, None]
    xs = xi[inside, None, None] + np.arange(-reach, reach + 1)[None, None, :]
    profiles = paper - gray[ys, xs].astype(np.float32).mean(1)  # one row per dot, across its left and right edges
    steps = np.diff(np.clip(profiles / (paper - ink), 0, 1), axis=1)
    largest = np.stack([steps.max(1), -steps.min(1)], 1).ravel()  # each dot's rising edge, then its falling edge
    return float(np.median(np.interp(-largest, -_STEP_OF_SIGMA, _SIGMAS)))


def _clean_track(res: np.ndarray, ok: np.ndarray, tol: float, step: float) -> tuple[np.ndarray, np.ndarray]:
    """Fill missing dots and replace outliers by their neighbours' median, then smooth lightly along the side, never
    across a crease: where neighbouring dots jump apart by more than ``step`` pixels and JUMP_OVER_NOISE times
    the dots' jitter about their neighbours' median (a folded sheet's panels lie apart there, and the paper beside
    the crease bulges), each side of the jump is smoothed on its own.
    The cleaned residuals, and the indices k of the jumps (between dots k and k + 1); none where no dot of the side
    was measured (a first fit, ``_fit_track`` not ``strict``, of a side cut off the picture)."""
    if not ok.any():
        return np.zeros_like(res), np.zeros(0, int)
    idx = np.arange(len(res))
    out = res.copy()
    for c in range(2):
        out[~ok, c] = np.interp(idx[~ok], idx[ok], res[ok, c])
    padded = np.pad(out, ((2, 2), (0, 0)), mode="reflect")  # an end dot measured on something else is one too
    med = np.median(np.stack([padded[i:i + len(out)] for i in range(5)]), axis=0)
    bad = np.linalg.norm(out - med, axis=1) > tol
    out[bad] = med[bad]
    noise = float(np.median(np.linalg.norm(res[ok] - med[ok], axis=1))) if ok.any() else 0.0  # dot jitter
    moves = np.linalg.norm(np.diff(out, axis=0), axis=1)
    jumps = np.flatnonzero(moves > max(step, JUMP_OVER_NOISE * noise))
    smooth = np.empty_like(out)
    for a, b in zip(np.r_[0, jumps + 1], np.r_[jumps + 1, len(out)], strict=True):
        part = np.pad(out[a:b], ((1, 1), (0, 0)), mode="edge")
        smooth[a:b] = (part[:-2] + 2 * part[1:-1] + part[2:]) / 4
    return smooth, jumps


STRIP_SHARPEN = 1.0  # how much of a module's surroundings is taken back out of it
STRIP_TILE = (8, 41)  # modules (rows, columns) that move together when the registration is searched
STRIP_SHIFTS = np.linspace(-1 / 3, 1 / 3, 5)  # of a module: well short of the next module, so never aliased
STRIP_GAP = 0.5  # of a module: the widest light gap through the strip's modules filled when it reads no other way
EQUALISE_ROUNDS = 4  # decisions of the strip's modules against their neighbours' (Augraphy's Faxify: 35 wrong bytes
# a codeword read against a threshold, 3 once equalised; the decisions settle by the third round)


def strip_levels(gray: np.ndarray, grid: GridFit, search: bool = False, gaps: bool = False) -> np.ndarray:
    """How dark each module of format v2's data strip reads (float32; above 0: dark), sampled at its centre and
    measured from midway between the nearby paper and ink, as a share of their difference: a module read near 0
    is the least certain.

    The strip is mapped by its own frame of dots (``_strip_correction``). Should that reading not decode,
    ``search`` moves each tile of the strip by up to a third of a module to where its samples are most
    contrasted, i.e. at module centres rather than edges; ``gaps`` first fills light gaps narrower than STRIP_GAP
    of a module (pale toner lines along or across the feed, which cut a module out of every row they cross)."""
    m = spec.STRIP_MODULE
    xs = spec.STRIP_X - spec.GRID_X + (np.arange(spec.STRIP_COLS) + 0.5) * m
    ys = spec.STRIP_Y - spec.GRID_Y + (np.arange(spec.STRIP_ROWS) + 0.5) * m
    pts = (grid.scan_points(xs, ys, correct=False) + _strip_correction(gray, grid, xs, ys)).astype(np.float32)
    reach = int(np.ceil(m * grid.px_per_unit)) + 2
    x0, y0 = (max(0, int(np.floor(pts[..., i].min())) - reach) for i in (0, 1))
    x1 = min(gray.shape[1], int(np.ceil(pts[..., 0].max())) + reach)
    y1 = min(gray.shape[0], int(np.ceil(pts[..., 1].max())) + reach)
    if x1 - x0 < 2 or y1 - y0 < 2:
        return np.zeros((spec.STRIP_ROWS, spec.STRIP_COLS), np.float32)
    crop = gray[y0:y1, x0:x1]
    if gaps:
        crop = _streaks_filled(crop, m * grid.px_per_unit)
        side = max(2, round(STRIP_GAP * m * grid.px_per_unit))
        crop = cv2.morphologyEx(crop, cv2.MORPH_OPEN, np.ones((side, side), np.uint8))
    soft = cv2.GaussianBlur(crop, (0, 0), max(0.5, m * grid.px_per_unit / 5)).astype(np.float32)
    side = max(3, round(m * grid.px_per_unit * 1.5)) | 1
    wide = cv2.blur(soft, (side, side))  # the surroundings of a module
    crop = soft + STRIP_SHARPEN * (soft - wide)  # a blurred single module drifts towards its surroundings: undo some
    pts -= (x0, y0)
    values = _sample(crop, pts)
    if search:
        values = _best_registered(crop, pts, values)
    kernel = np.ones((7, 7), np.uint8)
    paper = cv2.blur(cv2.dilate(values, kernel), (7, 7))
    ink = cv2.blur(cv2.erode(values, kernel), (7, 7))
    return _equalised(((paper + ink) / 2 - values) / np.maximum(paper - ink, 1.0))


def _equalised(levels: np.ndarray) -> np.ndarray:
    """Strip ``levels`` (above 0: dark) with what the modules around each add to it taken back out: a blurred print
    or scan (a fax's, Augraphy's Faxify) darkens a light module between dark ones past a threshold midway between
    paper and ink. A module's level is fitted (least squares over the strip) as a constant, its own darkness, and
    that of its 4 side and 4 corner neighbours as last decided; each module is decided again against what its
    neighbours add, EQUALISE_ROUNDS times. Returned in the same measure: 0 where dark and light are equally
    likely, 1 a full module's darkness away. A strip that shows no module's own darkness is returned as it is."""
    v = levels.astype(np.float64)
    out, dark = v, v > 0
    for _ in range(EQUALISE_ROUNDS):
        p = np.pad(dark.astype(np.float64), 1, mode="edge")
        sides = p[:-2, 1:-1] + p[2:, 1:-1] + p[1:-1, :-2] + p[1:-1, 2:]
        corners = p[:-2, :-2] + p[:-2, 2:] + p[2:, :-2] + p[2:, 2:]
        terms = np.stack([np.ones(v.size), dark.ravel(), sides.ravel(), corners.ravel()], 1).astype(np.float64)
        (base, own, side, corner) = np.linalg.lstsq(terms.T @ terms, terms.T @ v.ravel(), rcond=None)[0]
        if own <= 0:
            return levels
        out = (v - base - side * sides - corner * corners - own / 2) / own
        dark = out > 0
    return out.astype(np.float32)


def _sample(image: np.ndarray, pts: np.ndarray) -> np.ndarray:
    pts = pts.astype(np.float32)
    return cv2.remap(image, pts[..., 0], pts[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _best_registered(crop: np.ndarray, pts: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Samples with each tile of the strip shifted to where they spread the most."""
    ex, ey = np.gradient(pts, axis=1), np.gradient(pts, axis=0)  # scan step per module, across and down
    tr, tc = STRIP_TILE
    rows, cols = -(-values.shape[0] // tr), values.shape[1] // tc
    best, out = np.full((rows, cols), -1.0), values.copy()
    for ox in STRIP_SHIFTS:
        for oy in STRIP_SHIFTS:
            trial = _sample(crop, pts + ox * ex + oy * ey)
            padded = np.pad(trial, ((0, rows * tr - trial.shape[0]), (0, 0)), mode="edge")
            spread = padded.reshape(rows, tr, cols, tc).std(axis=(1, 3))
            better = spread > best
            best[better] = spread[better]
            take = np.repeat(np.repeat(better, tr, 0), tc, 1)[:trial.shape[0]]
            out[take] = trial[take]
    return out


def _strip_correction(gray: np.ndarray, grid: GridFit, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Scan-pixel corrections (ny, nx, 2) to the homography at the strip's points (grid units): a Coons patch over
    the strip's own frame of dots, as for the scrambled area: the bottom dot track above it, the foot row below
    it and the side dots beside it."""
    track = spec.strip_dot_centres()
    top_y, foot_y = spec.GRID_H + spec.DOT_OFFSET, spec.STRIP_FOOT - spec.GRID_Y
    knots = np.array([spec.GRID_H] + [y - spec.GRID_Y for _, y in track["left"]], dtype=np.float64)

    def along(res: np.ndarray, at: np.ndarray, where: np.ndarray) -> np.ndarray:
        return np.stack([np.interp(at, where, res[:, c]) for c in range(2)], -1)

    sides, ends = {}, {}
    for side in ("left", "right"):
        last = grid.residuals[side][-1]
        res = np.concatenate([last[None], _track_residuals(gray, grid, track[side], last)])
        sides[side] = along(res, ys, knots)  # (ny, 2)
        ends[side] = along(res, np.array([top_y, foot_y]), knots)  # (2, 2): at the top row and at the foot
    kx = np.arange(spec.COLS + 1) * spec.PITCH
    across = ((kx + spec.DOT_OFFSET) / (spec.GRID_W + 2 * spec.DOT_OFFSET))[:, None]  # at the foot dots
    drift = (1 - across) * (ends["left"][1] - ends["left"][0]) + across * (ends["right"][1] - ends["right"][0])
    foot = _track_residuals(gray, grid, track["foot"], grid.residuals["bottom"] + drift)  # found where expected
    top, bottom = along(grid.residuals["bottom"], xs, kx), along(foot, xs, kx)  # (nx, 2)
    s = ((xs + spec.DOT_OFFSET) / (spec.GRID_W + 2 * spec.DOT_OFFSET))[None, :, None]
    t = ((ys - top_y) / (foot_y - top_y))[:, None, None]
    left = sides["left"][:, None] - ((1 - t) * ends["left"][0] + t * ends["left"][1])
    right = sides["right"][:, None] - ((1 - t) * ends["right"][0] + t * ends["right"][1])
    return (1 - t) * top[None] + t * bottom[None] + (1 - s) * left + s * right


def _track_residuals(gray: np.ndarray, grid: GridFit, design: list[tuple[float, float]],
                     guess: np.ndarray) -> np.ndarray:
    """Residuals (n, 2) of a row of dots from the grid's homography, each measured around where ``guess`` (the
    residuals expected) puts it; dots not found take their neighbours' values, a row with none keeps the guess."""
    expected = project(grid.homography, np.array(design, dtype=np.float64))
    guess = np.broadcast_to(guess, expected.shape)
    hits = _dot_centroids(gray, expected + guess, *_dot_window(grid.px_per_unit))
    res = hits[:, :2] - expected
    ok = ~np.isnan(res[:, 0])
    if not ok.any():
        return guess.copy()
    idx = np.arange(len(res))
    return np.stack([np.interp(idx, idx[ok], res[ok, c]) for c in range(2)], 1)
