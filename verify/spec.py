"""The printed back, as numbers: the single source of geometry for issuing and restoring (formats v1 to v4).

Every value here is specified in ``docs/format.md``. Lengths are in layout units: 1 unit = 1/240 inch
(0.10583 mm), so that every printed element sits on a whole 300 dpi pixel grid (1 unit = 1.25 px at 300 dpi).
Coordinates are continuous page coordinates with the origin at the top-left corner of the A4 sheet, x to the
right, y downwards.
"""

from __future__ import annotations

from dataclasses import dataclass

FORMAT_VERSION = 4  # the version new backs are issued in
# The versions a verifier restores: v1 backs carry no content fingerprint; v2 backs carry it in the data strip; v3
# backs (v2's geometry) encrypt the strip and add the text of each bound field; v4 backs (v3's geometry) sign the
# sheet's number and the number of sheets of its certificate, and derive every keyed choice from them too.
VERSIONS = (1, 2, 3, 4)

UNITS_PER_INCH = 240
MM_PER_INCH = 25.4
PAGE_W = 210 / MM_PER_INCH * UNITS_PER_INCH  # 1984.25 units
PAGE_H = 297 / MM_PER_INCH * UNITS_PER_INCH  # 2806.30 units
PRINT_DPI = 300

# --- the restored front and its block grid -----------------------------------------------------------------
COLS = 41  # blocks across; COLS / ROWS = 0.7069, the A4 ratio 0.7071 within 0.03 %
ROWS = 58
BLOCK = 32  # pixels of the restored front per block side
GUARD = 2  # units of replicated edge around each printed block
PITCH = BLOCK + 2 * GUARD  # 36 units from one printed block to the next
FRONT_W = COLS * BLOCK  # 1312 px: the restored front
FRONT_H = ROWS * BLOCK  # 1856 px
GRID_W = COLS * PITCH  # 1476 units: the scrambled area on paper
GRID_H = ROWS * PITCH  # 2088 units
GRID_X = 252  # top-left corner of the scrambled area on the page
GRID_Y = 428

# --- the dot track: small squares on every block boundary, outside the scrambled area ---------------------
DOT_SIZE = 12
DOT_OFFSET = 24  # from the scrambled area's edge to the dot centre

# --- the corner markers: ArUco 5x5 (7 x 7 modules with the black border), one id per corner -----------------
MARKER_DICT = "DICT_5X5_50"
MARKER_MODULES = 7
MARKER_SIZE = 112  # 16 units a module
MARKER_MARGIN = 64  # from the sheet's edge
MARKER_IDS = {"tl": 3, "tr": 17, "br": 29, "bl": 41}

# --- the QR code and the printed text ------------------------------------------------------------------------
QR_MODULE = 5  # units a module: 3.1 px at 150 dpi
QR_BOX = (830, 64, 1155, 389)  # x0, y0, x1, y1 of the square that holds the symbol and its quiet zone
TEXT_BOX = (200, 72, 810, 380)  # the human-readable facts, left of the code
NOTICE_BOX = (1175, 72, 1790, 380)  # a short notice, right of the code
FOOTER_BOX = (200, 2560, 1790, 2620)  # v1 only: v2 prints the data strip there and the advice in the notice

# --- formats v2 and v3: the data strip, between the bottom dot track and the bottom markers -------------------------
STRIP_MODULE = 6  # units a module: 3.75 px at 150 dpi
STRIP_X = GRID_X  # the strip spans the scrambled area's width
STRIP_Y = 2560  # clear of the windows the bottom dots are measured in (14 units around each)
STRIP_COLS = GRID_W // STRIP_MODULE  # 246
STRIP_ROWS = 28  # down to y 2728
STRIP_DOT_ROWS = 6  # the left and right dot tracks continue past the scrambled area, alongside the strip
STRIP_FOOT = 2752  # and a row of dots runs under it, one per block column, like the bottom dot track above it


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle in page units."""

    x: float
    y: float
    w: float
    h: float

    def corners(self) -> list[tuple[float, float]]:
        """The four corners clockwise from the top-left: TL, TR, BR, BL."""
        return [(self.x, self.y), (self.x + self.w, self.y), (self.x + self.w, self.y + self.h), (self.x, self.y + self.h)]


def marker_rects() -> dict[str, Rect]:
    """Where each corner marker is printed, by corner name."""
    right = round((PAGE_W - MARKER_MARGIN - MARKER_SIZE) / 4) * 4
    bottom = round((PAGE_H - MARKER_MARGIN - MARKER_SIZE) / 4) * 4
    return {
        "tl": Rect(MARKER_MARGIN, MARKER_MARGIN, MARKER_SIZE, MARKER_SIZE),
        "tr": Rect(right, MARKER_MARGIN, MARKER_SIZE, MARKER_SIZE),
        "br": Rect(right, bottom, MARKER_SIZE, MARKER_SIZE),
        "bl": Rect(MARKER_MARGIN, bottom, MARKER_SIZE, MARKER_SIZE),
    }


def dot_centres() -> dict[str, list[tuple[float, float]]]:
    """Centres of the dot track, per side, in page units, ordered along the side (left to right, top to bottom)."""
    top: list[tuple[float, float]] = [(GRID_X + k * PITCH, GRID_Y - DOT_OFFSET) for k in range(COLS + 1)]
    bottom: list[tuple[float, float]] = [(GRID_X + k * PITCH, GRID_Y + GRID_H + DOT_OFFSET) for k in range(COLS + 1)]
    left: list[tuple[float, float]] = [(GRID_X - DOT_OFFSET, GRID_Y + k * PITCH) for k in range(ROWS + 1)]
    right: list[tuple[float, float]] = [(GRID_X + GRID_W + DOT_OFFSET, GRID_Y + k * PITCH) for k in range(ROWS + 1)]
    return {"top": top, "bottom": bottom, "left": left, "right": right}


def strip_dot_centres() -> dict[str, list[tuple[float, float]]]:
    """Format v2: the dots that continue the left and right tracks alongside the data strip, top to bottom, and
    the row under it, left to right."""
    ys = [GRID_Y + GRID_H + k * PITCH for k in range(1, STRIP_DOT_ROWS + 1)]
    return {"left": [(GRID_X - DOT_OFFSET, y) for y in ys], "right": [(GRID_X + GRID_W + DOT_OFFSET, y) for y in ys],
            "foot": [(GRID_X + k * PITCH, STRIP_FOOT) for k in range(COLS + 1)]}


def units_to_px(units: float, dpi: float = PRINT_DPI) -> float:
    """Convert layout units to pixels at ``dpi``."""
    return units * dpi / UNITS_PER_INCH
