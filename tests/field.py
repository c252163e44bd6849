"""What happens to a genuine printed back in the field, for the tests and bench/field.py: folded for an envelope,
stamped on arrival, marked with notes, pens and staples, printed by a kiosk whose toner runs low, and scanned in an
office.

Each condition is a function ``(page, rng, **params) -> page`` on a 300 dpi RGB uint8 page (``cert.back`` of
``verify.issue``) that returns a new page; ``finish`` turns the page into the bytes a scanner or a phone sends. These
conditions are written independently of ``tests/simulate.py`` (only the last scan stage of ``finish`` reuses it).
"""

from __future__ import annotations

import datetime as dt
import functools
import io

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from tests.simulate import CLASSES, Degradation, scan_bytes
from verify import spec
from verify.fonts import find_cjk_font

DPI = spec.PRINT_DPI
PX_PER_MM = DPI / 25.4
PX = functools.partial(spec.units_to_px, dpi=DPI)


def mm(v: float) -> float:
    """Millimetres to 300 dpi pixels."""
    return v * PX_PER_MM


def area_box() -> tuple[int, int, int, int]:
    """The scrambled area of a back in 300 dpi pixels: x0, y0, x1, y1."""
    x0, y0 = PX(spec.GRID_X), PX(spec.GRID_Y)
    return round(x0), round(y0), round(x0 + PX(spec.GRID_W)), round(y0 + PX(spec.GRID_H))


def _in_area(rng: np.random.Generator, margin: float) -> tuple[float, float]:
    """A random point of the scrambled area at least ``margin`` pixels inside it."""
    x0, y0, x1, y1 = area_box()
    return float(rng.uniform(x0 + margin, x1 - margin)), float(rng.uniform(y0 + margin, y1 - margin))


def _multiply(page: np.ndarray, coverage: np.ndarray, ink: tuple[float, float, float]) -> np.ndarray:
    """Ink laid over the page: each channel is multiplied by the ink's transmittance where ``coverage`` (0..1)."""
    t = np.asarray(ink, np.float32) / 255.0
    factor = 1.0 - coverage[..., None].astype(np.float32) * (1.0 - t)
    return np.clip(page.astype(np.float32) * factor + 0.5, 0, 255).astype(np.uint8)


def _over(page: np.ndarray, coverage: np.ndarray, colour: np.ndarray | tuple[float, float, float]) -> np.ndarray:
    """Opaque material laid over the page where ``coverage`` (0..1)."""
    a = coverage[..., None].astype(np.float32)
    out = page.astype(np.float32) * (1 - a) + np.asarray(colour, np.float32) * a
    return np.clip(out + 0.5, 0, 255).astype(np.uint8)


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell_px: float) -> np.ndarray:
    """Smooth random field in about [-1, 1] that varies over ``cell_px`` pixels."""
    h, w = shape
    gh, gw = max(2, int(h / cell_px) + 2), max(2, int(w / cell_px) + 2)
    coarse = rng.uniform(-1, 1, (gh, gw)).astype(np.float32)
    return cv2.resize(coarse, (w, h), interpolation=cv2.INTER_CUBIC)


# --- folds ---------------------------------------------------------------------------------------------------------


def fold_panels(page_h: int, panels: int = 3) -> list[float]:
    """The crease rows (pixels) of a sheet folded in ``panels`` for an envelope: 99 and 198 mm for three."""
    return [page_h * k / panels for k in range(1, panels)]


def fold(page: np.ndarray, rng: np.random.Generator, *, shift_mm: float = 1.0, panels: int = 3,
         tilt_deg: float = 0.3, shadow: float = 20.0, shadow_mm: float = 3.0, lift_mm: float = 0.5) -> np.ndarray:
    """The sheet folded in ``panels`` for an envelope, unfolded and laid on a flatbed: every panel below the first is
    shifted against the panel above by ``shift_mm`` at the middle of the crease between them (in a random
    direction) and turned against it by up to ``tilt_deg`` about that point; a crease shadow up to ``shadow`` levels
    deep and ``shadow_mm`` wide lies along each crease; near the creases the paper does not lie flat (a smooth
    displacement of up to ``lift_mm``). Panels stay rigid (continuous) inside; the creases are where they part or
    overlap."""
    h, w = page.shape[:2]
    creases = fold_panels(h, panels)
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    map_x, map_y = xs.copy(), ys.copy()
    placed = np.eye(3)  # where the panel above lies now (forward: sheet -> scan)
    for yc in creases:
        angle = rng.uniform(0, 2 * np.pi)
        d = mm(shift_mm) * np.array([np.cos(angle), np.sin(angle)])
        theta = np.deg2rad(rng.uniform(-tilt_deg, tilt_deg))
        cx, cy = (placed @ np.array([w / 2, yc, 1.0]))[:2]  # the crease's middle, where the panel above left it
        c, s = np.cos(theta), np.sin(theta)
        move = np.array([[c, -s, cx - c * cx + s * cy + d[0]], [s, c, cy - s * cx - c * cy + d[1]], [0, 0, 1]])
        placed = move @ placed
        back = np.linalg.inv(placed)  # scan -> sheet for this panel and, until overridden, the ones below
        below = ys >= cy + d[1]
        ox, oy = xs[below], ys[below]
        map_x[below] = back[0, 0] * ox + back[0, 1] * oy + back[0, 2]
        map_y[below] = back[1, 0] * ox + back[1, 1] * oy + back[1, 2]
    if lift_mm > 0:  # paper that does not lie flat near the creases: a smooth bulge either side of each crease
        near = np.zeros((h, w), np.float32)
        for yc in creases:
            near += np.exp(-0.5 * ((ys - yc) / mm(8)) ** 2)
        map_x += mm(lift_mm) * near * _smooth_noise(rng, (h, w), mm(40))
        map_y += mm(lift_mm) * near * _smooth_noise(rng, (h, w), mm(40))
    out = cv2.remap(page, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(255, 255, 255))
    if shadow > 0:
        dark = np.zeros((h, w), np.float32)
        depth = shadow * (0.7 + 0.3 * _smooth_noise(rng, (1, w), mm(30))[0])  # varies along the crease
        for yc in creases:
            profile = np.exp(-0.5 * ((np.arange(h) - yc) / (mm(shadow_mm) / 2.355)) ** 2)
            dark += profile[:, None] * depth[None, :]
        out = np.clip(out.astype(np.float32) - dark[..., None], 0, 255).astype(np.uint8)
    return out


# --- marks on the back ---------------------------------------------------------------------------------------------


def _font(size_px: int, latin: bool = False) -> ImageFont.ImageFont:
    path = None if latin else find_cjk_font("gothic")
    if path is not None:
        return ImageFont.truetype(str(path), size_px)
    try:
        return ImageFont.truetype("DejaVuSans-Bold.ttf", size_px)
    except OSError:
        return ImageFont.load_default(size_px)


def stamp_mask(rng: np.random.Generator, diameter_mm: float = 30.0, when: dt.date | None = None) -> np.ndarray:
    """The coverage (0..1) of a receiving stamp (受付印) on a square canvas: a ring, two bars and the date between
    them, office name above and department below, with the uneven inking of a rubber stamp."""
    side = int(mm(diameter_mm) + mm(2))
    img = Image.new("L", (side, side), 0)
    draw = ImageDraw.Draw(img)
    r, c, line = mm(diameter_mm) / 2, side / 2, max(2, round(mm(0.8)))
    draw.ellipse((c - r, c - r, c + r, c + r), outline=255, width=line)
    half = r * 0.93
    for y in (c - r * 0.32, c + r * 0.32):
        xspan = np.sqrt(max(r * r - (y - c) ** 2, 0)) * 0.98
        draw.line((c - xspan, y, c + xspan, y), fill=255, width=max(1, line - 1))
    latin = find_cjk_font("gothic") is None
    when = when or dt.date(2026, int(rng.integers(1, 13)), int(rng.integers(1, 29)))
    top, middle, bottom = ("RECEIVED", f"{when:%Y.%m.%d}", "CITY HALL") if latin else (
        "受付", f"R{when.year - 2018}.{when.month}.{when.day}", "市民課")
    for text, y, size in ((top, c - r * 0.62, r * 0.42), (middle, c, r * 0.36), (bottom, c + r * 0.62, r * 0.36)):
        font = _font(round(size), latin)
        box = draw.textbbox((0, 0), text, font=font)
        tw = box[2] - box[0]
        scale = min(1.0, 1.5 * half * 0.8 / max(tw, 1))
        if scale < 1.0:
            font = _font(max(8, round(size * scale)), latin)
            box = draw.textbbox((0, 0), text, font=font)
        draw.text((c - (box[2] + box[0]) / 2, y - (box[3] + box[1]) / 2), text, fill=255, font=font)
    mask = np.asarray(img, np.float32) / 255.0
    inking = np.clip(0.8 + 0.35 * _smooth_noise(rng, mask.shape, mm(6)), 0.35, 1.0)  # rubber inks unevenly
    mask = cv2.GaussianBlur(mask * inking, (0, 0), 0.7)
    m = cv2.getRotationMatrix2D((side / 2, side / 2), float(rng.uniform(-25, 25)), 1.0)
    return cv2.warpAffine(mask, m, (side, side))


STAMP_INKS = {"red": (215, 45, 50), "blue": (40, 70, 175), "black": (40, 40, 45)}


def _place(page: np.ndarray, mask: np.ndarray, centre: tuple[float, float]) -> np.ndarray:
    """A page-sized coverage with ``mask`` centred at ``centre`` (clipped to the page)."""
    h, w = page.shape[:2]
    full = np.zeros((h, w), np.float32)
    mh, mw = mask.shape
    x0, y0 = round(centre[0] - mw / 2), round(centre[1] - mh / 2)
    sx0, sy0 = max(0, -x0), max(0, -y0)
    dx0, dy0 = max(0, x0), max(0, y0)
    dx1, dy1 = min(w, x0 + mw), min(h, y0 + mh)
    full[dy0:dy1, dx0:dx1] = mask[sy0:sy0 + dy1 - dy0, sx0:sx0 + dx1 - dx0]
    return full


def stamp(page: np.ndarray, rng: np.random.Generator, *, colour: str = "red", diameter_mm: float = 30.0,
          opacity: float = 0.85, centre: tuple[float, float] | None = None) -> np.ndarray:
    """A receiving stamp (受付印) in ``colour`` ink ("red", "blue" or "black") pressed over the scrambled area."""
    mask = stamp_mask(rng, diameter_mm) * opacity
    centre = centre or _in_area(rng, mm(diameter_mm) / 2)
    return _multiply(page, _place(page, mask, centre), STAMP_INKS[colour])


def stamp_box(page_shape: tuple[int, ...], centre: tuple[float, float], diameter_mm: float = 30.0) -> tuple[int, ...]:
    """The bounding box (x0, y0, x1, y1 pixels) a stamp centred at ``centre`` may ink."""
    r = mm(diameter_mm) / 2 + mm(1)
    return round(centre[0] - r), round(centre[1] - r), round(centre[0] + r), round(centre[1] + r)


def _quad(centre: tuple[float, float], side: float, angle_deg: float) -> np.ndarray:
    c, s = np.cos(np.deg2rad(angle_deg)), np.sin(np.deg2rad(angle_deg))
    corners = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * side / 2
    return corners @ np.array([[c, s], [-s, c]], np.float32) + np.asarray(centre, np.float32)


NOTE_PAPER = {"yellow": (252, 238, 120), "grey": (150, 150, 148)}


def sticky_note(page: np.ndarray, rng: np.random.Generator, *, side_mm: float = 50.0, colour: str = "yellow",
                centre: tuple[float, float] | None = None) -> np.ndarray:
    """A sticky note (yellow, or grey: recycled paper, a dark slip), ``side_mm`` square, stuck over the scrambled
    area at a slight angle: opaque, with a soft shadow along the edge that lifts from the paper (the one opposite
    the glued edge)."""
    h, w = page.shape[:2]
    centre = centre or _in_area(rng, mm(side_mm) / 2)
    quad = _quad(centre, mm(side_mm), float(rng.uniform(-6, 6)))
    shadow_quad = quad + np.array([mm(0.6), mm(1.0)], np.float32)
    shadow_quad[:2] = quad[:2]  # only the lower (lifted) edge casts a shadow
    cover = np.zeros((h, w), np.uint8)
    shade = np.zeros((h, w), np.uint8)
    cv2.fillPoly(shade, [np.round(shadow_quad * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    cv2.fillPoly(cover, [np.round(quad * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    shade = cv2.GaussianBlur(shade.astype(np.float32) / 255, (0, 0), mm(0.6)) * 0.35
    out = _multiply(page, shade, (60, 60, 60))
    paper = np.array(NOTE_PAPER[colour], np.float32) + rng.uniform(-6, 6, 3)
    tone = paper[None, None, :] * (1 + 0.015 * _smooth_noise(rng, (h, w), mm(15)))[..., None]
    return _over(out, cover.astype(np.float32) / 255, tone)


def _stroke_path(rng: np.random.Generator, start: tuple[float, float], length_px: float, loops: bool) -> np.ndarray:
    """A hand-drawn path: cursive loops along a baseline (writing) or a gently curving line."""
    n = max(int(length_px / 2), 50)
    t = np.linspace(0, 1, n)
    heading = rng.uniform(-0.25, 0.25)
    base = np.stack([t * length_px * np.cos(heading), t * length_px * np.sin(heading)], 1)
    if loops:  # letters of varying height and width: some looped (l, e), most not; words with gaps between
        cycles = length_px / mm(2.6)
        jitter = cv2.resize(rng.uniform(0, 1, (1, int(cycles) + 2)).astype(np.float32), (n, 1),
                            interpolation=cv2.INTER_NEAREST)[0]
        phase = 2 * np.pi * cycles * t + 0.8 * np.sin(2 * np.pi * t * cycles / 3.7)
        base[:, 0] += mm(0.15 + 0.55 * jitter ** 3) * np.cos(phase)
        base[:, 1] += mm(0.8 + 1.4 * jitter) * np.sin(phase) - mm(0.6) * jitter
    else:
        base[:, 1] += mm(2) * np.sin(2 * np.pi * t * rng.uniform(0.3, 0.8))
    return base + np.asarray(start)


def handwriting(page: np.ndarray, rng: np.random.Generator, *, colour: str = "blue", lines: int = 3,
                length_mm: float = 60.0) -> np.ndarray:
    """A ballpoint note across several blocks: ``lines`` lines of cursive of ``length_mm`` each, and an underline."""
    h, w = page.shape[:2]
    ink = {"blue": (35, 55, 150), "black": (35, 35, 40)}[colour]
    cov = np.zeros((h, w), np.uint8)
    x, y = _in_area(rng, mm(length_mm) / 2 + mm(10))
    x -= mm(length_mm) / 2
    width = max(1, round(mm(0.4)))
    for i in range(lines):
        path = _stroke_path(rng, (x + rng.uniform(-mm(2), mm(2)), y + i * mm(7)), mm(length_mm) * rng.uniform(0.6, 1),
                            loops=True)
        for word in np.array_split(path, int(rng.integers(3, 6))):  # the pen lifts between words
            word = word[: max(2, int(len(word) * rng.uniform(0.8, 0.92)))]
            cv2.polylines(cov, [np.round(word * 16).astype(np.int32)], False, 255, width, cv2.LINE_AA, shift=4)
    under = _stroke_path(rng, (x, y + lines * mm(7) - mm(2)), mm(length_mm), loops=False)
    cv2.polylines(cov, [np.round(under * 16).astype(np.int32)], False, 255, width, cv2.LINE_AA, shift=4)
    pressure = np.clip(0.85 + 0.2 * _smooth_noise(rng, (h, w), mm(4)), 0.5, 1)
    return _multiply(page, cov.astype(np.float32) / 255 * pressure, ink)


def highlighter(page: np.ndarray, rng: np.random.Generator, *, colour: str = "yellow", length_mm: float = 80.0,
                width_mm: float = 5.0) -> np.ndarray:
    """A highlighter stroke across the scrambled area: translucent ink, a little darker where the tip started."""
    h, w = page.shape[:2]
    ink = {"yellow": (255, 245, 80), "green": (165, 245, 135), "pink": (255, 160, 200), "grey": (180, 180, 180)}[colour]
    x, y = _in_area(rng, mm(length_mm) / 2 + mm(5))
    path = _stroke_path(rng, (x - mm(length_mm) / 2, y), mm(length_mm), loops=False)
    cov = np.zeros((h, w), np.uint8)
    cv2.polylines(cov, [np.round(path * 16).astype(np.int32)], False, 255, round(mm(width_mm)), cv2.LINE_AA, shift=4)
    cov_f = cv2.GaussianBlur(cov.astype(np.float32) / 255, (0, 0), 1.2)
    cov_f *= np.clip(0.9 + 0.1 * _smooth_noise(rng, (h, w), mm(3)), 0, 1)
    return _multiply(page, cov_f, ink)


def staple(page: np.ndarray, rng: np.random.Generator, *, corner: str = "tl") -> np.ndarray:
    """A staple through the corner: a 12 mm metal bar at about 45 degrees with its two punch points."""
    h, w = page.shape[:2]
    off = mm(rng.uniform(6, 12))
    cx = off if corner.endswith("l") else w - off
    cy = off if corner.startswith("t") else h - off
    angle = np.deg2rad(rng.uniform(30, 60) * (1 if corner in ("tl", "br") else -1))
    half = mm(6)
    p0 = np.array([cx - half * np.cos(angle), cy + half * np.sin(angle)])
    p1 = np.array([cx + half * np.cos(angle), cy - half * np.sin(angle)])
    out = page.copy()
    pts = [tuple(np.round(p * 16).astype(int)) for p in (p0, p1)]
    cv2.line(out, pts[0], pts[1], (95, 95, 100), round(mm(1.0)), cv2.LINE_AA, shift=4)
    cv2.line(out, pts[0], pts[1], (185, 185, 190), max(1, round(mm(0.3))), cv2.LINE_AA, shift=4)
    for p in (p0, p1):
        cv2.circle(out, tuple(np.round(p * 16).astype(int)), round(mm(0.7) * 16), (40, 40, 40), -1, cv2.LINE_AA, 4)
    return out


def punch_holes(page: np.ndarray, rng: np.random.Generator, *, diameter_mm: float = 6.0, pitch_mm: float = 80.0,
                edge_mm: float = 12.0, background: tuple[int, int, int] = (25, 25, 28)) -> np.ndarray:
    """Two filing holes (ISO 838: 6 mm, 80 mm apart, 12 mm from the left edge) showing a dark background."""
    h, w = page.shape[:2]
    out = page.copy()
    cy = h / 2 + mm(rng.uniform(-2, 2))
    for y in (cy - mm(pitch_mm) / 2, cy + mm(pitch_mm) / 2):
        centre = (round((mm(edge_mm) + mm(rng.uniform(-0.5, 0.5))) * 16), round(y * 16))
        cv2.circle(out, centre, round(mm(diameter_mm) / 2 * 16), background, -1, cv2.LINE_AA, 4)
    return out


# --- ink and tone --------------------------------------------------------------------------------------------------


def colour_faded(page: np.ndarray, rng: np.random.Generator, *, fade: float = 0.5) -> np.ndarray:
    """Colour toner running low: the coloured part of every pixel (how far each channel falls below the brightest
    one) moves ``fade`` of the way to paper, black toner unchanged. The red seal goes pink, black stays black."""
    p = page.astype(np.float32)
    top = p.max(axis=2, keepdims=True)
    return np.clip(p + fade * (top - p) + 0.5, 0, 255).astype(np.uint8)


def black_faded(page: np.ndarray, rng: np.random.Generator, *, fade: float = 0.3) -> np.ndarray:
    """Black toner running low: the neutral part of every pixel (how far its brightest channel falls below white)
    moves ``fade`` of the way to white; black prints dark grey."""
    p = page.astype(np.float32)
    top = p.max(axis=2, keepdims=True)
    return np.clip(p + fade * (255 - top) + 0.5, 0, 255).astype(np.uint8)


def toner_streaks(page: np.ndarray, rng: np.random.Generator, *, bands: int = 4, strength: float = 0.45) -> np.ndarray:
    """Pale bands along the paper feed (vertical on a portrait sheet), 1 to 8 mm wide, where up to ``strength`` of
    the ink is missing, ragged at the edges."""
    h, w = page.shape[:2]
    profile = np.zeros(w, np.float32)
    for _ in range(bands):
        x, width = rng.uniform(0, w), mm(rng.uniform(1, 8))
        profile = np.maximum(profile, rng.uniform(0.5, 1) * strength * np.exp(-0.5 * ((np.arange(w) - x) /
                                                                                        (width / 2.355)) ** 2))
    along = np.clip(1 + 0.15 * _smooth_noise(rng, (h, 1), mm(20)), 0.7, 1.2)
    loss = profile[None, :] * along
    p = page.astype(np.float32)
    return np.clip(255 - (255 - p) * (1 - loss[..., None]) + 0.5, 0, 255).astype(np.uint8)


PAPERS = {"grey": (222, 222, 222), "cream": (250, 240, 212), "blue": (222, 232, 246), "green": (226, 244, 226)}


def inks_swapped(page: np.ndarray, rng: np.random.Generator, *, share: float = 0.5) -> np.ndarray:
    """Inks swapped for pale ones, stroke by stroke, as a printer that mixes colours badly or Augraphy's
    InkColorSwap prints them: ``share`` of the scrambled area's strokes (its connected pieces of ink) print in a
    pale colour of their own, the rest as they were."""
    x0, y0, x1, y1 = area_box()
    area = page[y0:y1, x0:x1]
    ink = (cv2.cvtColor(area, cv2.COLOR_RGB2GRAY) < 160).astype(np.uint8)
    count, labels = cv2.connectedComponents(ink, connectivity=8)
    swapped = rng.random(count) < share
    swapped[0] = False  # the paper
    palette = np.zeros((count, 3), np.float32)
    palette[swapped] = rng.uniform(150, 235, (int(swapped.sum()), 3))
    out = page.copy()
    pale = swapped[labels]
    out[y0:y1, x0:x1][pale] = np.maximum(area[pale], palette[labels[pale]]).astype(np.uint8)
    return out


def strokes_moved(page: np.ndarray, rng: np.random.Generator, *, shift_px: float = 2.5, cell_px: float = 110.0
                  ) -> np.ndarray:
    """A print whose strokes moved a few pixels, smoothly over the page, as a toner transfer that slips or Augraphy's
    InkShifter moves them: every point displaced by up to ``shift_px`` along a field that varies over ``cell_px``."""
    h, w = page.shape[:2]
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    dx = _smooth_noise(rng, (h, w), cell_px) * shift_px
    dy = _smooth_noise(rng, (h, w), cell_px) * shift_px
    return cv2.remap(page, xs + dx, ys + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def tinted_paper(page: np.ndarray, rng: np.random.Generator, *, paper: str = "grey") -> np.ndarray:
    """Printed on grey or tinted paper: the paper's colour multiplies everything (inks are transparent)."""
    return _multiply(page, np.ones(page.shape[:2], np.float32), PAPERS[paper])


def colour_cast(page: np.ndarray, rng: np.random.Generator, *, strength: float = 0.12) -> np.ndarray:
    """A scanner lamp or white balance off: each channel scaled by up to ``strength`` and shifted a few levels."""
    gain = 1 + rng.uniform(-strength, strength, 3)
    gain /= gain.max() / (1 + strength / 3)  # the brightest channel may clip a little, as real casts do
    offset = rng.uniform(-8, 8, 3)
    return np.clip(page.astype(np.float32) * gain + offset + 0.5, 0, 255).astype(np.uint8)


def grayscale(page: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A scanner set to greyscale: luminance only (as three equal channels; ``finish`` can send one channel)."""
    g = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    return cv2.cvtColor(g, cv2.COLOR_GRAY2RGB)


def speckled(page: np.ndarray, rng: np.random.Generator, *, share: float = 0.06, darkness: float = 0.45
             ) -> np.ndarray:
    """Grey specks 0.3 to 2 mm across over the whole sheet, ``share`` of it: grime on rough recycled paper, or
    toner scattered by a worn drum. ``darkness`` is how far the darkest speck falls towards black."""
    h, w = page.shape[:2]
    field = sum(_smooth_noise(rng, (h, w), mm(size)) for size in (0.6, 1.2, 2.4))
    cut = np.quantile(field[::8, ::8], 1 - share)
    coverage = np.clip((field - cut) / 0.4, 0, 1) * rng.uniform(0.6, 1.0)
    grey = 255 * (1 - darkness)
    return _multiply(page, cv2.GaussianBlur(coverage, (0, 0), mm(0.1)), (grey, grey, grey))


def glare(page: np.ndarray, rng: np.random.Generator, *, veil: float = 0.4) -> np.ndarray:
    """Light reflected off the sheet into the camera (a window or a lamp on a glossy toner page): a broad pool of
    light, ``veil`` of it at its brightest, added to what the page reflects, so that black ink lifts towards grey
    there and stays black elsewhere. Unlike shade, which darkens ink and paper alike, a veil cannot be undone by
    bringing paper to white."""
    h, w = page.shape[:2]
    yy, xx = np.mgrid[0:h:8, 0:w:8].astype(np.float32)
    cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.25, 0.75) * h
    radius = rng.uniform(0.3, 0.5) * w
    pool = np.exp(-0.5 * ((xx - cx) ** 2 + (yy - cy) ** 2) / radius**2)
    angle = rng.uniform(0, 2 * np.pi)  # and a gradient across the page, as light from one side gives
    ramp = 0.5 + 0.5 * ((xx - w / 2) * np.cos(angle) + (yy - h / 2) * np.sin(angle)) / max(h, w)
    share = cv2.resize(veil * np.clip(0.75 * pool + 0.35 * ramp, 0, 1), (w, h), interpolation=cv2.INTER_LINEAR)
    p = page.astype(np.float32)
    return np.clip(p * (1 - share[..., None]) + 255 * share[..., None] + 0.5, 0, 255).astype(np.uint8)


# --- the scan ------------------------------------------------------------------------------------------------------


def finish(page: np.ndarray, rng: np.random.Generator, *, kind: str = "office", gray: bool = False) -> bytes:
    """The bytes a device sends for the page: ``office`` is a flatbed at 300 dpi (a degree or two of rotation, slight
    blur and noise, JPEG 85); ``phone`` is a photograph of the sheet held in the hand or on a table (perspective,
    uneven light, JPEG 85). ``gray`` scans in greyscale."""
    seed = int(rng.integers(1 << 31))
    if kind == "office":
        rot = float(rng.uniform(0.5, 2.0) * rng.choice([-1, 1])) % 360
        d = Degradation(name="field/office", dpi=300, rotation_deg=rot, print_blur_px=0.0,
                        blur_sigma_px=float(rng.uniform(0.7, 1.0)), noise_sigma=float(rng.uniform(2.5, 4.0)),
                        jpeg_quality=85, paper_texture=0.15, contrast=0.95, grayscale=gray)
    elif kind == "phone":
        base = CLASSES["phone"][int(rng.integers(len(CLASSES["phone"])))]
        d = Degradation(**{**base.__dict__, "name": "field/phone", "print_blur_px": 0.0, "grayscale": gray})
    else:
        raise ValueError(f"unknown finish {kind!r}; use 'office' or 'phone'")
    return scan_bytes(page, d, seed=seed)[0]


def png_bytes(page: np.ndarray) -> bytes:
    """A lossless PNG of the page, as a print-and-scan model writes it."""
    buf = io.BytesIO()
    Image.fromarray(page).save(buf, "PNG", compress_level=1, dpi=(DPI, DPI))
    return buf.getvalue()


# The conditions by class, as the bench and the tests run them: (condition, parameters, finish parameters).
CONDITIONS: dict[str, tuple] = {
    "fold0.7": (fold, {"shift_mm": 0.7}, {}),
    "fold1": (fold, {"shift_mm": 1.0}, {}),
    "fold2": (fold, {"shift_mm": 2.0}, {}),
    "fold2-4panel": (fold, {"shift_mm": 2.0, "panels": 4}, {}),
    "fold2-hand": (fold, {"shift_mm": 2.0, "shadow": 30.0, "lift_mm": 1.0}, {"kind": "phone"}),
    "stamp-red": (stamp, {"colour": "red"}, {}),
    "stamp-blue": (stamp, {"colour": "blue"}, {}),
    "stamp-black": (stamp, {"colour": "black"}, {}),
    "note45": (sticky_note, {"side_mm": 45.0}, {}),
    "note50": (sticky_note, {"side_mm": 50.0}, {}),
    "note-grey": (sticky_note, {"side_mm": 45.0, "colour": "grey"}, {}),
    "red-half": (colour_faded, {"fade": 0.5}, {}),
    "red-third": (colour_faded, {"fade": 1 / 3}, {}),
    "black-faded": (black_faded, {"fade": 0.3}, {}),
    "streaks": (toner_streaks, {}, {}),
    "paper-grey": (tinted_paper, {"paper": "grey"}, {}),
    "paper-cream": (tinted_paper, {"paper": "cream"}, {}),
    "cast": (colour_cast, {}, {}),
    "speckled": (speckled, {}, {}),
    "grayscale": (grayscale, {}, {"gray": True}),
    "glare": (glare, {}, {"kind": "phone"}),
    "handwriting": (handwriting, {}, {}),
    "highlighter": (highlighter, {}, {}),
    "highlighter-grey": (highlighter, {"colour": "grey"}, {}),
    "staple": (staple, {}, {}),
    "punch": (punch_holes, {}, {}),
    "inks-swapped": (inks_swapped, {}, {}),
    "strokes-moved": (strokes_moved, {}, {}),
}


CHOICES = {handwriting: ("blue", "black"), highlighter: ("yellow", "green")}  # the colour, picked per case


def apply(name: str, page: np.ndarray, rng: np.random.Generator) -> bytes:
    """The condition ``name`` of ``CONDITIONS`` applied to the page, finished as its device would: upload bytes."""
    condition, params, finish_params = CONDITIONS[name]
    params = dict(params)
    if condition in CHOICES and "colour" not in params:
        params["colour"] = CHOICES[condition][int(rng.integers(len(CHOICES[condition])))]
    return finish(condition(page, rng, **params), rng, **finish_params)
