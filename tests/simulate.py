"""The print-and-scan degradation model: a clean rendered back in, a realistic scan or phone photo out.

Tests and benchmarks use it to turn a clean rendered page (RGB uint8, A4, normally 300 dpi) into the scans real
offices make. The page is printed at its own resolution (halftone screen, ink spread, toner contrast, paper
texture), then carried into the scan by ONE geometric mapping (rotation, scale to the scan dpi, phone perspective,
lens barrel, sheet-feeder stretch), placed on a surround (a scanner lid or a table), and finally seen through the
sensor (optical blur, uneven light, noise, grayscale or 1-bit, JPEG).

Randomness comes from numpy's seeded ``Generator``: nothing here is printed, so stream stability across numpy
versions does not matter, only determinism within one installation.
"""

from __future__ import annotations

import io
import math
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

import cv2
import numpy as np
from PIL import Image

A4_WIDTH_MM = 210.0
MM_PER_INCH = 25.4

_HALFTONE_LPI = 106.0  # a common colour-laser screen ruling
_HALFTONE_ANGLES = (15.0, 75.0, 0.0, 45.0)  # C, M, Y, K
# Fraction of red, green, blue light each ink absorbs at full coverage (rows C, M, Y, K).
_INK_ABSORPTION = np.array(
    [[0.85, 0.25, 0.08], [0.08, 0.80, 0.30], [0.02, 0.08, 0.85], [0.93, 0.93, 0.93]], dtype=np.float32
)
_PAPER_TINT = np.array([0.035, 0.040, 0.060], dtype=np.float32)  # how far paper falls below white, per channel
_STRIP_ROWS = 64  # rows per pass: keeps float temporaries in cache

# Independent random streams per stage, so changing one effect does not reshuffle the others.
_GEOMETRY, _PRINT, _SURROUND, _LIGHT, _NOISE, _THRESHOLD, _SCENE = range(7)


@dataclass(frozen=True)
class Degradation:
    """One concrete print-and-scan condition: what the printer, the paper, the scanner or phone did to the page."""

    name: str
    dpi: float = 300
    rotation_deg: float = 0.0
    perspective: float = 0.0
    barrel: float = 0.0
    feed_stretch: float = 0.0
    print_blur_px: float = 0.0
    blur_sigma_px: float = 0.0
    noise_sigma: float = 0.0
    jpeg_quality: int | None = None
    lighting: float = 0.0
    paper_texture: float = 0.0
    halftone: bool = False
    grayscale: bool = False
    bilevel: bool = False
    crop_fraction: float = 0.0
    background: str = "scanner"
    contrast: float = 1.0


@dataclass(frozen=True)
class _Geometry:
    """Where the page goes: page -> centred scan plane (homography), feed stretch, frame offset, lens, window."""

    plane: np.ndarray  # 3x3, page pixel centres -> centred scan plane
    offset: tuple[float, float]  # centred scan plane -> frame
    feed: float
    feed_span: tuple[float, float]  # page's y extent in the centred plane, where the stretch profile is laid
    feed_phase: float
    barrel: float
    frame: tuple[int, int]  # full frame (width, height)
    window: tuple[int, int, int, int]  # (x0, y0, width, height) of the frame actually returned

    @property
    def is_homography(self) -> bool:
        return self.feed == 0.0 and self.barrel == 0.0

    def homography(self) -> np.ndarray:
        """The whole page -> window mapping when there is no feed stretch and no lens distortion."""
        x0, y0 = self.window[:2]
        shift = np.array([[1, 0, self.offset[0] - x0], [0, 1, self.offset[1] - y0], [0, 0, 1]], dtype=np.float64)
        return shift @ self.plane


def _rng(seed: int, stage: int) -> np.random.Generator:
    return np.random.default_rng([seed, stage])


def infer_page_dpi(page_shape: tuple[int, ...]) -> float:
    """The resolution of a rendered A4 page, from its shorter side (210 mm); 2480 px is 300 dpi, not 299.96."""
    dpi = min(page_shape[0], page_shape[1]) / (A4_WIDTH_MM / MM_PER_INCH)
    return float(round(dpi)) if abs(dpi - round(dpi)) <= 0.003 * dpi else dpi


# --- geometry ----------------------------------------------------------------------------------------------------


def _apply_h(h: np.ndarray, pts: np.ndarray) -> np.ndarray:
    p = np.c_[pts, np.ones(len(pts))] @ h.T
    return p[:, :2] / p[:, 2:3]


def _feed_profile(t: np.ndarray, f: float, phase: float) -> np.ndarray:
    """Stretched position of relative feed position t; local stretch 1 + f*(1 + 0.5 sin(3 pi t + phase)) > 1."""
    w = 3.0 * math.pi
    return t + f * (t - 0.5 / w * (np.cos(w * t + phase) - math.cos(phase)))


def _page_outline(page_shape: tuple[int, ...]) -> np.ndarray:
    h, w = page_shape[:2]
    return np.array([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]], dtype=np.float64)


def _geometry(page_shape: tuple[int, ...], d: Degradation, seed: int, page_dpi: float | None) -> _Geometry:
    rng = _rng(seed, _GEOMETRY)
    ph, pw = page_shape[:2]
    dpi_in = page_dpi or infer_page_dpi(page_shape)
    s = d.dpi / dpi_in
    th = math.radians(d.rotation_deg)
    c, sn = math.cos(th), math.sin(th)
    centre = np.array([[1, 0, -(pw - 1) / 2], [0, 1, -(ph - 1) / 2], [0, 0, 1]], dtype=np.float64)
    # Positive angles turn the page counter-clockwise as displayed (y axis points down).
    rot = np.array([[s * c, s * sn, 0], [-s * sn, s * c, 0], [0, 0, 1]], dtype=np.float64)
    plane = rot @ centre
    outline = _page_outline(page_shape)
    if d.perspective > 0:
        # A tilted camera: a projective term along a random direction, scaled so the largest corner displacement
        # is `perspective` times the page's larger side.
        phi = rng.uniform(0, 2 * math.pi)
        direction = np.array([math.cos(phi), math.sin(phi)])
        base = _apply_h(plane, outline)
        half_diag = float(np.hypot(*(base.max(0) - base.min(0)))) / 2
        target = d.perspective * max(pw, ph) * s
        amount = d.perspective
        for _ in range(3):
            g = direction * amount / half_diag
            proj = np.array([[1, 0, 0], [0, 1, 0], [g[0], g[1], 1]], dtype=np.float64)
            moved = float(np.abs(_apply_h(proj @ plane, outline) - base).max())
            amount *= target / max(moved, 1e-9)
        g = direction * amount / half_diag
        proj = np.array([[1, 0, 0], [0, 1, 0], [g[0], g[1], 1]], dtype=np.float64)
        # Re-centre so the page centre stays at the origin.
        moved_centre = _apply_h(proj, np.zeros((1, 2)))[0]
        plane = np.array([[1, 0, -moved_centre[0]], [0, 1, -moved_centre[1]], [0, 0, 1]]) @ proj @ plane
    corners = _apply_h(plane, outline)
    feed_span = (float(corners[:, 1].min()), float(corners[:, 1].max()))
    feed_phase = float(rng.uniform(0, 2 * math.pi))
    if d.feed_stretch:
        y0, y1 = feed_span
        corners[:, 1] = y0 + (y1 - y0) * _feed_profile((corners[:, 1] - y0) / (y1 - y0), d.feed_stretch, feed_phase)
    lo, hi = corners.min(0), corners.max(0)
    bw, bh = hi - lo
    exact = d.perspective == 0 and not d.feed_stretch and not d.barrel and abs(s - 1) < 1e-9
    exact = exact and abs(d.rotation_deg / 90 - round(d.rotation_deg / 90)) < 1e-9
    if d.background == "table":
        share = rng.uniform(0.70, 0.85)
        fw, fh = bw / share, bh / share
        if bh >= bw:
            fw, fh = max(fw, fh * 3 / 4), max(fh, fw * 4 / 3)
        else:
            fw, fh = max(fw, fh * 4 / 3), max(fh, fw * 3 / 4)
        fw, fh = math.ceil(fw), math.ceil(fh)
        left = (fw - bw) * rng.uniform(0.3, 0.7)
        top = (fh - bh) * rng.uniform(0.3, 0.7)
    elif d.background == "scanner":
        ml, mr, mt, mb = rng.uniform(0.04, 0.2, size=4) * d.dpi
        if exact:
            ml, mt = round(ml), round(mt)
        else:
            ml, mt = ml + rng.uniform(0, 1), mt + rng.uniform(0, 1)
        fw, fh = math.ceil(bw + ml + mr), math.ceil(bh + mt + mb)
        left, top = ml, mt
    else:
        raise ValueError(f"unknown background {d.background!r}")
    # The page's outer edge lands `left`/`top` pixels inside the frame's edge (frame edge at -0.5).
    offset = (left - 0.5 - lo[0], top - 0.5 - lo[1])
    window = (0, 0, fw, fh)
    if d.crop_fraction > 0:
        side = int(rng.integers(4))
        px0, py0 = lo[0] + offset[0], lo[1] + offset[1]
        if side == 0:  # the left part of the page is cut off
            x0 = math.floor(px0 + d.crop_fraction * bw)
            window = (x0, 0, fw - x0, fh)
        elif side == 1:
            window = (0, 0, math.ceil(px0 + (1 - d.crop_fraction) * bw), fh)
        elif side == 2:
            y0 = math.floor(py0 + d.crop_fraction * bh)
            window = (0, y0, fw, fh - y0)
        else:
            window = (0, 0, fw, math.ceil(py0 + (1 - d.crop_fraction) * bh))
    return _Geometry(
        plane=plane,
        offset=(float(offset[0]), float(offset[1])),
        feed=float(d.feed_stretch),
        feed_span=feed_span,
        feed_phase=feed_phase,
        barrel=float(d.barrel),
        frame=(int(fw), int(fh)),
        window=(int(window[0]), int(window[1]), int(window[2]), int(window[3])),
    )


def _lens(g: _Geometry) -> tuple[float, float, float]:
    fw, fh = g.frame
    return (fw - 1) / 2, (fh - 1) / 2, math.hypot(fw, fh) / 2


def _forward(g: _Geometry, pts: np.ndarray) -> np.ndarray:
    """Page pixel coordinates -> window pixel coordinates."""
    q = _apply_h(g.plane, pts)
    if g.feed:
        y0, y1 = g.feed_span
        q[:, 1] = y0 + (y1 - y0) * _feed_profile((q[:, 1] - y0) / (y1 - y0), g.feed, g.feed_phase)
    q = q + np.array(g.offset)
    if g.barrel:
        cx, cy, radius = _lens(g)
        v = q - (cx, cy)
        ru = np.hypot(v[:, 0], v[:, 1]) / radius
        rd = ru.copy()
        for _ in range(20):  # Newton on rd * (1 + k rd^2) = ru
            rd -= (rd * (1 + g.barrel * rd**2) - ru) / (1 + 3 * g.barrel * rd**2)
        scale = np.divide(rd, ru, out=np.ones_like(ru), where=ru > 0)
        q = (cx, cy) + v * scale[:, None]
    return q - np.array(g.window[:2], dtype=np.float64)


def page_corners(
    page_shape: tuple[int, ...], d: Degradation, seed: int = 0, *, page_dpi: float | None = None
) -> np.ndarray:
    """Where the page's outer corners (TL, TR, BR, BL) land in simulate()'s output, as 4x2 (x, y) pixel coords."""
    return _forward(_geometry(page_shape, d, seed, page_dpi), _page_outline(page_shape))


def _warp(src: np.ndarray, g: _Geometry, pre: np.ndarray) -> np.ndarray:
    """Resample `src` (page or prescaled page, 4 channels) into the window; `pre` maps src -> page pixels."""
    x0, y0, ww, wh = g.window
    if g.is_homography:
        m = g.homography() @ pre
        return cv2.warpPerspective(
            src, m, (ww, wh), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)
        )
    inv = np.linalg.inv(g.plane @ pre).astype(np.float32)
    out = np.empty((wh, ww, src.shape[2]), np.uint8)
    xs = np.arange(ww, dtype=np.float32) + np.float32(x0)
    if g.feed:
        fy0, fy1 = g.feed_span
        t_lo = (-g.offset[1] - fy0) / (fy1 - fy0) - 0.5
        t_hi = (g.frame[1] - g.offset[1] - fy0) / (fy1 - fy0) + 0.5
        t_table = np.linspace(t_lo, t_hi, 8192)
        f_table = _feed_profile(t_table, g.feed, g.feed_phase) * (fy1 - fy0)  # stretched offset from the top
    cx, cy, radius = _lens(g)
    for r0 in range(0, wh, _STRIP_ROWS):
        ys = np.arange(r0, min(r0 + _STRIP_ROWS, wh), dtype=np.float32)[:, None] + np.float32(y0)
        qx, qy = np.broadcast_to(xs[None, :], (len(ys), ww)), np.broadcast_to(ys, (len(ys), ww))
        if g.barrel:
            dx, dy = qx - np.float32(cx), qy - np.float32(cy)
            k = (dx * dx + dy * dy) * np.float32(g.barrel / radius**2) + 1
            qx, qy = dx * k + np.float32(cx), dy * k + np.float32(cy)
        qx, qy = qx - np.float32(g.offset[0]), qy - np.float32(g.offset[1])
        if g.feed:
            t = np.interp((qy[:, :1] if not g.barrel else qy) - fy0, f_table, t_table).astype(np.float32)
            qy = np.broadcast_to(t * np.float32(fy1 - fy0) + np.float32(fy0), qx.shape)
        wz = inv[2, 0] * qx + inv[2, 1] * qy + inv[2, 2]
        mx = (inv[0, 0] * qx + inv[0, 1] * qy + inv[0, 2]) / wz
        my = (inv[1, 0] * qx + inv[1, 1] * qy + inv[1, 2]) / wz
        out[r0 : r0 + len(ys)] = cv2.remap(
            src, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0)
        )
    return out


# --- the print stage (at the page's own resolution) --------------------------------------------------------------


def _smooth_noise(rng: np.random.Generator, shape: tuple[int, int], cell: float) -> np.ndarray:
    """Unit-variance smooth noise with features about `cell` pixels across, at `shape`."""
    h, w = shape
    small = rng.standard_normal((max(2, round(h / cell)) + 2, max(2, round(w / cell)) + 2)).astype(np.float32)
    # typing.cast (`cast` is a local name below): cv2's stubs lose the dtype, and a float32 blur stays float32.
    small = typing.cast(np.ndarray, cv2.GaussianBlur(small, (0, 0), 0.8))
    small /= max(float(small.std()), 1e-6)
    big = cv2.resize(
        small, (w + 2 * round(w / small.shape[1]), h + 2 * round(h / small.shape[0])), interpolation=cv2.INTER_CUBIC
    )
    oy, ox = (big.shape[0] - h) // 2, (big.shape[1] - w) // 2
    return np.ascontiguousarray(big[oy : oy + h, ox : ox + w])


def _paper_field(rng: np.random.Generator, shape: tuple[int, int], dpi: float) -> np.ndarray:
    """Zero-mean, unit-deviation paper structure (formation mottle, grain, fibres) at `shape`."""
    h, w = shape
    hh, hw = max(2, h // 2), max(2, w // 2)
    half_dpi = dpi * hw / w
    field = 0.6 * _smooth_noise(rng, (hh, hw), half_dpi * 0.25)  # formation clouds, ~6 mm
    grain = rng.standard_normal((hh, hw)).astype(np.float32)
    field += 0.5 * cv2.GaussianBlur(grain, (0, 0), 0.6)
    fibres = np.zeros((hh, hw), np.float32)
    n = int(hh * hw / half_dpi**2 * 25)  # about 25 visible fibres per square inch
    mm = half_dpi / MM_PER_INCH
    xy = rng.uniform((0, 0), (hw, hh), size=(n, 2))
    length = rng.uniform(0.4, 2.5, size=n) * mm
    ang = rng.uniform(0, math.pi, size=n)
    tone = rng.choice([-1.0, 1.0], size=n, p=[0.6, 0.4]) * rng.uniform(0.5, 1.0, size=n)
    ends = xy + np.c_[np.cos(ang), np.sin(ang)] * length[:, None]
    for (ax, ay), (bx, by), t in zip(xy, ends, tone, strict=True):
        cv2.line(fibres, (int(ax * 16), int(ay * 16)), (int(bx * 16), int(by * 16)), float(t), 1, cv2.LINE_AA, 4)
    field += cv2.GaussianBlur(fibres, (0, 0), 0.5) * 1.5
    field /= max(float(field.std()), 1e-6)
    return cv2.resize(field, (w, h), interpolation=cv2.INTER_LINEAR)


@lru_cache(maxsize=8)
def _screen_tone_lut(period: float) -> np.ndarray:
    """Tone -> screen input that makes the printed coverage equal the tone (a printer's linearisation), 256 steps."""
    n = max(64, round(period * 24))
    levels = np.linspace(0, 1, 129, dtype=np.float32)
    ys, xs = np.mgrid[0:n, 0:n].astype(np.float32)
    spot = _spot(xs, ys, period, 45.0)
    width = np.float32(0.5 * math.pi / period)
    covered = np.array([_coverage(np.full_like(spot, v), spot, width).mean() for v in levels])
    covered[0], covered[-1] = 0.0, 1.0
    return np.interp(np.linspace(0, 1, 256), np.maximum.accumulate(covered), levels).astype(np.float32)


def _spot(xs: np.ndarray, ys: np.ndarray, period: float, angle: float) -> np.ndarray:
    """Clustered-dot screen function: 0 at dot centres, 1 halfway between them."""
    freq = 2 * math.pi / period
    ca, sa = np.float32(math.cos(math.radians(angle)) * freq), np.float32(math.sin(math.radians(angle)) * freq)
    spot = np.cos(xs * ca + ys * sa)
    spot += np.cos(ys * ca - xs * sa)
    spot *= np.float32(-0.25)
    spot += np.float32(0.5)
    return spot


def _coverage(tone: np.ndarray, spot: np.ndarray, width: np.float32) -> np.ndarray:
    """Fraction of each pixel the ink covers where the screen is thresholded at `tone`, anti-aliased over `width`."""
    cov = tone * (1 + width) - width / 2 - spot
    cov /= width
    cov += np.float32(0.5)
    return np.clip(cov, 0.0, 1.0, out=cov)


def _halftone_planes(planes: Sequence[np.ndarray], r0: int, dpi: float, ink: np.ndarray) -> list[np.ndarray]:
    """Reflectance planes (R, G, B; 0..1) of uint8 rows r0.. printed through CMYK screens, ink scaled by `ink`."""
    h, w = planes[0].shape
    brightest = cv2.max(cv2.max(planes[0], planes[1]), planes[2])
    cmyk = [cv2.divide(cv2.subtract(brightest, p), brightest, scale=255) for p in planes]  # full GCR
    cmyk.append(cv2.bitwise_not(brightest))
    period = max(2.5, dpi / _HALFTONE_LPI)  # a low-resolution page cannot hold the real ruling: coarsen it
    lut = _screen_tone_lut(round(period, 3))
    width = np.float32(0.5 * math.pi / period)  # how much the screen function changes across one pixel
    xs = np.arange(w, dtype=np.float32)[None, :]
    ys = np.arange(r0, r0 + h, dtype=np.float32)[:, None]
    refl = [np.ones((h, w), np.float32) for _ in range(3)]
    for i, angle in enumerate(_HALFTONE_ANGLES):
        cov = _coverage(cv2.LUT(cmyk[i], lut), _spot(xs, ys, period, angle), width)
        cov *= ink
        for ch in range(3):
            if _INK_ABSORPTION[i, ch] > 0.05:
                refl[ch] *= 1 - cov * _INK_ABSORPTION[i, ch]
    return refl


def _print(page: np.ndarray, d: Degradation, dpi: float, seed: int) -> np.ndarray:
    """The printed sheet as a scanner would see it at the page's resolution (uint8 RGB)."""
    if not (d.halftone or d.print_blur_px > 0 or d.contrast != 1.0 or d.paper_texture > 0):
        return page
    rng = _rng(seed, _PRINT)
    h, w = page.shape[:2]
    texture = _paper_field(rng, (h, w), dpi) if d.paper_texture > 0 else None
    paper = 1 - min(1.0, d.paper_texture) * _PAPER_TINT
    out = np.empty_like(page)
    for r0 in range(0, h, _STRIP_ROWS):
        r1 = min(h, r0 + _STRIP_ROWS)
        planes = cv2.split(page[r0:r1])
        ink = np.full((r1 - r0, w), d.contrast, np.float32)
        if texture is not None:  # toner sits unevenly on the fibres
            ink *= 1 - np.float32(0.06 * d.paper_texture) * np.abs(texture[r0:r1])
        if d.halftone:
            refl = _halftone_planes(planes, r0, dpi, ink)
        else:
            refl = []
            for p in planes:  # 1 - ink * (1 - v)
                r = p.astype(np.float32)
                r *= np.float32(1 / 255)
                r -= 1
                r *= ink
                r += 1
                refl.append(r)
        shade = 1 + np.float32(0.04 * d.paper_texture) * texture[r0:r1] if texture is not None else None
        for ch, r in enumerate(refl):
            if shade is not None:
                r *= shade
            r *= np.float32(255 * paper[ch])
            r += 0.5
            refl[ch] = np.clip(r, 0, 255, out=r).astype(np.uint8)
        out[r0:r1] = cv2.merge(refl)
    blur = d.print_blur_px * dpi / 300  # ink spread: blurring the print is close enough to blurring each ink
    if blur > 0:
        out = cv2.GaussianBlur(out, (0, 0), blur)
    return out


# --- the surround, light and sensor ------------------------------------------------------------------------------


def _surround(alpha: np.ndarray, d: Degradation, seed: int) -> np.ndarray:
    """The uint8 RGB background behind the page, already shaded by the page's own shadow (built at half size)."""
    rng = _rng(seed, _SURROUND)
    h, w = alpha.shape
    hh, hw = max(2, h // 2), max(2, w // 2)
    a = cv2.resize(alpha, (hw, hh), interpolation=cv2.INTER_AREA).astype(np.float32) / 255
    half_dpi = d.dpi / 2
    if d.background == "table":
        colour = np.array([[70, 52, 38], [58, 58, 62], [34, 33, 35], [96, 78, 60]], np.float32)[rng.integers(4)]
        colour *= rng.uniform(0.8, 1.2)
        streak: np.ndarray = rng.standard_normal((max(2, hh // 4), max(2, hw // 48))).astype(np.float32)
        streak = cv2.resize(cv2.GaussianBlur(streak, (0, 0), 0.7), (hw, hh), interpolation=cv2.INTER_CUBIC)
        if rng.random() < 0.5:  # grain runs across
            streak = cv2.resize(streak.T.copy(), (hw, hh), interpolation=cv2.INTER_LINEAR)
        shade = 1 + 0.12 * streak / max(float(streak.std()), 1e-6)
        shade += 0.10 * _smooth_noise(rng, (hh, hw), half_dpi * 1.5)
        shade += 0.05 * rng.standard_normal((hh, hw)).astype(np.float32)
        # A soft drop shadow of the page, thrown away from the light.
        qw, qh = max(2, hw // 4), max(2, hh // 4)
        shift = rng.uniform(0.004, 0.012, size=2) * (qw + qh) * rng.choice([-1, 1], size=2)
        cast = cv2.resize(a, (qw, qh), interpolation=cv2.INTER_AREA)
        cast = cv2.warpAffine(cast, np.array([[1, 0, shift[0]], [0, 1, shift[1]]], np.float32), (qw, qh))
        cast = cv2.GaussianBlur(cast, (0, 0), 0.006 * (qw + qh))
        shade *= 1 - 0.55 * cv2.resize(cast, (hw, hh), interpolation=cv2.INTER_LINEAR)
    else:
        colour = np.float32(rng.uniform(218, 236)) * np.array([1.0, 1.0, rng.uniform(0.985, 1.01)], np.float32)
        shade = 1 + 0.008 * _smooth_noise(rng, (hh, hw), half_dpi)
        # The sheet's edge throws a thin shadow on the lid on the side away from the lamp.
        step = rng.uniform(0.5, 1.5) * half_dpi / 150
        direction = rng.choice([-1.0, 1.0])
        cast = cv2.warpAffine(a, np.array([[1, 0, 0], [0, 1, direction * step]], np.float32), (hw, hh))
        shade *= 1 - 0.45 * np.clip(cast - a, 0, 1)
    bg = np.clip(shade[..., None] * colour, 0, 255).astype(np.uint8)
    return cv2.resize(bg, (w, h), interpolation=cv2.INTER_LINEAR)


@dataclass(frozen=True)
class _Light:
    """Uneven illumination: a linear gradient, a vignette, a soft shadow edge, an exposure and a colour cast."""

    direction: tuple[float, float]
    gradient: float
    vignette: float
    shadow_normal: tuple[float, float]
    shadow_at: float
    shadow_soft: float
    shadow_depth: float
    exposure: float
    tint: tuple[float, float, float]


def _light(d: Degradation, shape: tuple[int, int], seed: int) -> _Light:
    rng = _rng(seed, _LIGHT)
    h, w = shape
    a, b = rng.uniform(0, 2 * math.pi, size=2)
    diag = math.hypot(w, h)
    phone = d.background == "table"
    warm = rng.uniform(-0.04, 0.06) if phone and not d.grayscale else 0.0
    return _Light(
        direction=(math.cos(a), math.sin(a)),
        gradient=d.lighting * rng.uniform(0.5, 0.9),
        vignette=d.lighting * rng.uniform(0.2, 0.4),
        shadow_normal=(math.cos(b), math.sin(b)),
        shadow_at=rng.uniform(0.15, 0.4) * diag,
        shadow_soft=rng.uniform(0.04, 0.12) * diag,
        shadow_depth=d.lighting * rng.uniform(0.3, 0.6),
        exposure=rng.uniform(0.88, 0.97) if phone else 1.0,
        tint=(1 + warm, 1.0, 1 - warm),
    )


def _light_strip(lt: _Light, shape: tuple[int, int], r0: int, r1: int) -> np.ndarray:
    h, w = shape
    cx, cy = (w - 1) / 2, (h - 1) / 2
    half_diag = math.hypot(w, h) / 2
    xs = (np.arange(w, dtype=np.float32) - cx)[None, :]
    ys = (np.arange(r0, r1, dtype=np.float32) - cy)[:, None]
    ramp = (xs * lt.direction[0] + ys * lt.direction[1]) * np.float32(0.5 / half_diag)  # -0.5..0.5
    light = 1 + lt.gradient * ramp
    light *= 1 - lt.vignette * ((xs / half_diag) ** 2 + (ys / half_diag) ** 2)
    # Distance past a line at `shadow_at` from the corner-most point along the normal, smoothstepped.
    reach = half_diag - lt.shadow_at
    t = (xs * lt.shadow_normal[0] + ys * lt.shadow_normal[1] - reach) / lt.shadow_soft + 0.5
    t = np.clip(t, 0, 1)
    light *= 1 - lt.shadow_depth * t * t * (3 - 2 * t)
    light *= np.float32(lt.exposure / (1 + lt.gradient / 2))
    return light.astype(np.float32)


def _sensor(img: np.ndarray, d: Degradation, seed: int) -> np.ndarray:
    """Uneven light and signal-dependent gaussian noise, in strips to bound memory."""
    if d.lighting <= 0 and d.noise_sigma <= 0:
        return img
    h, w = img.shape[:2]
    lt = _light(d, (h, w), seed) if d.lighting > 0 else None
    rng = _rng(seed, _NOISE)
    row_len = img[0].size
    if d.noise_sigma > 0:
        # Rows are slices at random offsets of one bank of normal samples: iid within a row, unrelated across rows.
        bank = rng.standard_normal(min(img.size, 1 << 22) + row_len, dtype=np.float32)
        starts = rng.integers(0, len(bank) - row_len, size=h)
    out = np.empty_like(img)
    tint = np.array(lt.tint, np.float32) if lt is not None else None
    for r0 in range(0, h, _STRIP_ROWS):
        r1 = min(h, r0 + _STRIP_ROWS)
        v = img[r0:r1].astype(np.float32)
        if lt is not None:
            light = _light_strip(lt, (h, w), r0, r1)
            if v.ndim == 3:
                v *= light[..., None] * tint
            else:
                v *= light
        if d.noise_sigma > 0:
            noise = np.stack([bank[s : s + row_len] for s in starts[r0:r1]]).reshape(v.shape)
            amp = np.sqrt(v * np.float32(0.75 / 255) + np.float32(0.25))
            amp *= np.float32(d.noise_sigma)
            v += noise * amp
        np.clip(v, 0, 255, out=v)
        v += 0.5
        out[r0:r1] = v.astype(np.uint8)
    return out


def _threshold(gray: np.ndarray, d: Degradation, seed: int) -> np.ndarray:
    """A 1-bit scan: black where darker than a fraction of the local paper white (0 or 255)."""
    rng = _rng(seed, _THRESHOLD)
    h, w = gray.shape
    f = 8
    small = cv2.resize(gray, (max(2, w // f), max(2, h // f)), interpolation=cv2.INTER_AREA)
    k = max(3, int(d.dpi * 0.3 / f) | 1)
    white = cv2.dilate(small, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    white = cv2.GaussianBlur(white.astype(np.float32), (0, 0), k / 2)
    white = cv2.resize(white, (w, h), interpolation=cv2.INTER_LINEAR)
    ratio = np.float32(rng.uniform(0.5, 0.6))
    return np.where(gray > white * ratio, np.uint8(255), np.uint8(0))


# --- public calls ------------------------------------------------------------------------------------------------


def _render(page_rgb: np.ndarray, d: Degradation, seed: int, page_dpi: float | None) -> np.ndarray:
    if page_rgb.ndim != 3 or page_rgb.shape[2] != 3 or page_rgb.dtype != np.uint8:
        raise ValueError("page_rgb must be an H x W x 3 uint8 array")
    dpi_in = page_dpi or infer_page_dpi(page_rgb.shape)
    g = _geometry(page_rgb.shape, d, seed, page_dpi)
    printed = _print(page_rgb, d, dpi_in, seed)
    ph, pw = printed.shape[:2]
    src = cv2.cvtColor(printed, cv2.COLOR_RGB2RGBA)
    pre = np.eye(3)
    shrink = min(1.0, d.dpi / dpi_in * (1 + d.perspective))
    if shrink < 0.999:  # box-filter down first, so the warp never skips source pixels
        nw, nh = max(1, round(pw * shrink)), max(1, round(ph * shrink))
        src = cv2.resize(src, (nw, nh), interpolation=cv2.INTER_AREA)
        sx, sy = nw / pw, nh / ph
        pre = np.array([[1 / sx, 0, 0.5 / sx - 0.5], [0, 1 / sy, 0.5 / sy - 0.5], [0, 0, 1]])
    warped = _warp(src, g, pre)
    rgb, alpha = cv2.cvtColor(warped, cv2.COLOR_RGBA2RGB), cv2.extractChannel(warped, 3)
    bg = _surround(alpha, d, seed)
    behind = cv2.multiply(bg, cv2.merge([alpha, alpha, alpha]), scale=1 / 255)
    scan = cv2.add(rgb, cv2.subtract(bg, behind))  # the warp left the page premultiplied by its alpha
    if d.blur_sigma_px > 0:
        scan = cv2.GaussianBlur(scan, (0, 0), d.blur_sigma_px)
    if d.grayscale or d.bilevel:
        scan = cv2.cvtColor(scan, cv2.COLOR_RGB2GRAY)
    scan = _sensor(scan, d, seed)
    if d.bilevel:
        scan = _threshold(scan, d, seed)
    return scan


def simulate(page_rgb: np.ndarray, d: Degradation, seed: int = 0, *, page_dpi: float | None = None) -> np.ndarray:
    """Print and scan `page_rgb` under `d`: uint8 RGB (H x W gray if grayscale or bilevel) at d.dpi, with surround.

    `page_dpi` is the page's resolution; by default it is inferred from the shorter side as A4 width.
    JPEG artefacts are included when `d.jpeg_quality` is set.
    """
    scan = _render(page_rgb, d, seed, page_dpi)
    if d.jpeg_quality is not None and not d.bilevel:
        data, _ = encode_scan(scan, d)
        with Image.open(io.BytesIO(data)) as im:
            scan = np.asarray(im.convert("L" if scan.ndim == 2 else "RGB"))
    return scan


def encode_scan(scan: np.ndarray, d: Degradation) -> tuple[bytes, str]:
    """The file a scanner or phone would write: 1-bit TIFF (CCITT G4) if bilevel, JPEG if set, else PNG."""
    buf = io.BytesIO()
    extra: dict[str, object] = {}
    if d.background == "scanner":  # scanners record their resolution, phones do not
        extra["dpi"] = (round(d.dpi), round(d.dpi))
    if d.bilevel:
        gray = scan if scan.ndim == 2 else cv2.cvtColor(scan, cv2.COLOR_RGB2GRAY)
        Image.fromarray(gray).convert("1", dither=Image.Dither.NONE).save(buf, "TIFF", compression="group4", **extra)
        return buf.getvalue(), "image/tiff"
    im = Image.fromarray(scan)
    if d.jpeg_quality is not None:
        im.save(buf, "JPEG", quality=int(d.jpeg_quality), subsampling="4:2:0", **extra)
        return buf.getvalue(), "image/jpeg"
    im.save(buf, "PNG", compress_level=1, **extra)
    return buf.getvalue(), "image/png"


def scan_bytes(
    page_rgb: np.ndarray, d: Degradation, seed: int = 0, *, page_dpi: float | None = None
) -> tuple[bytes, str]:
    """Print, scan and encode `page_rgb` under `d` in one go (JPEG compressed once): file bytes and media type."""
    return encode_scan(_render(page_rgb, d, seed, page_dpi), d)


# --- the benchmark's degradation classes -------------------------------------------------------------------------


def _office(prefix: str, dpi: float, rotations: list[float], **kw: object) -> list[Degradation]:
    """Ordinary office flatbed scans at `dpi`, one per rotation, with slightly varying scanner quality."""
    blur = {150: 0.7, 200: 0.75, 300: 0.85, 600: 1.2}.get(int(dpi), 0.85)
    cases = []
    for i, rot in enumerate(rotations):
        base: dict[str, Any] = dict(
            dpi=dpi,
            rotation_deg=rot,
            print_blur_px=0.6,
            blur_sigma_px=blur + 0.15 * (i % 3 - 1),
            noise_sigma=3.0 + 0.5 * (i % 3),
            jpeg_quality=75,
            paper_texture=0.2 + 0.05 * (i % 3),
            contrast=0.95 - 0.02 * (i % 2),
        )
        base.update(kw)
        cases.append(Degradation(name=f"{prefix}/rot{rot:g}", **base))
    return cases


_OFFICE_ROTATIONS = [0.4, 1.8, 89.3, 92.2, 179.1, 182.5, 268.6, 358.2]


def _phone() -> list[Degradation]:
    rotations = [2.5, 354.0, 87.0, 95.5, 178.0, 186.0, 272.0, 265.5]
    perspectives = [0.05, 0.07, 0.09, 0.10, 0.06, 0.08, 0.10, 0.055]
    cases = []
    for i, (rot, persp) in enumerate(zip(rotations, perspectives, strict=True)):
        cases.append(
            Degradation(
                name=f"phone/rot{rot:g}",
                dpi=220 + 40 * (i % 5) / 4,
                rotation_deg=rot,
                perspective=persp,
                barrel=0.01 + 0.005 * (i % 3),
                print_blur_px=0.6,
                blur_sigma_px=1.2,
                noise_sigma=5.0,
                jpeg_quality=85,
                lighting=0.3 + 0.2 * (i % 4) / 3,
                paper_texture=0.2,
                background="table",
                contrast=0.95,
            )
        )
    return cases


def _fax() -> list[Degradation]:
    rotations = [0.3, 1.2, 90.6, 268.9, 179.5, 181.4, 359.0, 271.8]
    cases = []
    for i, rot in enumerate(rotations):
        dpi = 200 if i % 2 == 0 else 300
        cases.append(
            Degradation(
                name=f"fax/dpi{dpi}/rot{rot:g}",
                dpi=dpi,
                rotation_deg=rot,
                print_blur_px=0.5,
                blur_sigma_px=0.6,
                noise_sigma=2.5,
                paper_texture=0.15,
                grayscale=True,
                bilevel=True,
            )
        )
    return cases


def _feeder() -> list[Degradation]:
    cases = [
        (0.3, 0.005),
        (359.4, 0.007),
        (180.6, 0.006),
        (179.2, 0.01),
        (0.8, 0.009),
        (359.1, 0.008),
        (90.5, 0.006),
        (270.7, 0.0075),
    ]
    return [
        Degradation(
            name=f"feeder/rot{rot:g}/stretch{f:g}",
            rotation_deg=rot,
            feed_stretch=f,
            print_blur_px=0.6,
            blur_sigma_px=0.9,
            noise_sigma=3.0,
            jpeg_quality=75,
            paper_texture=0.2,
            contrast=0.95,
        )
        for rot, f in cases
    ]


CLASSES: dict[str, list[Degradation]] = {
    "clean": [Degradation(name=f"clean/rot{r}", rotation_deg=float(r)) for r in (0, 90, 180, 270)],
    "office300": _office("office300", 300, _OFFICE_ROTATIONS),
    "dpi200": _office("dpi200", 200, _OFFICE_ROTATIONS),
    "dpi150": _office("dpi150", 150, _OFFICE_ROTATIONS),
    "dpi600": _office("dpi600", 600, [0.6, 90.9, 181.3, 270.4, 358.8, 179.6]),
    "phone": _phone(),
    "halftone": _office("halftone", 300, _OFFICE_ROTATIONS, halftone=True, print_blur_px=0.5),
    "fax": _fax(),
    "feeder": _feeder(),
    "lighting": [
        replace(c, name=c.name.replace("office300", "lighting"), lighting=0.4 + 0.2 * (i % 3) / 2, jpeg_quality=80)
        for i, c in enumerate(_office("office300", 300, _OFFICE_ROTATIONS))
    ],
    "texture": [
        replace(
            c,
            name=c.name.replace("office300", "texture"),
            paper_texture=0.6 + 0.4 * (i % 3) / 2,
            contrast=0.8 - 0.2 * (i % 4) / 3,
        )
        for i, c in enumerate(_office("office300", 300, _OFFICE_ROTATIONS))
    ],
}


# --- out of the envelope -----------------------------------------------------------------------------------------


def random_scene(seed: int = 0) -> np.ndarray:
    """A phone photo of something else entirely: a textured random scene (RGB uint8, 3024 x 2268 or transposed)."""
    rng = _rng(seed, _SCENE)
    h, w = (3024, 2268) if rng.random() < 0.5 else (2268, 3024)
    img = np.empty((h, w, 3), np.float32)
    for ch in range(3):
        img[..., ch] = 110 + 45 * _smooth_noise(rng, (h, w), 600) + 20 * _smooth_noise(rng, (h, w), 60)
    canvas: np.ndarray = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(15, 40))):
        colour = tuple(int(c) for c in rng.integers(0, 256, size=3))
        kind = rng.integers(3)
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        size = int(rng.integers(40, 700))
        if kind == 0:
            cv2.circle(canvas, (cx, cy), size // 2, colour, -1, cv2.LINE_AA)
        elif kind == 1:
            box = cv2.boxPoints(((cx, cy), (size, size * rng.uniform(0.2, 1.5)), rng.uniform(0, 180)))
            cv2.fillPoly(canvas, [box.astype(np.int32)], colour, cv2.LINE_AA)
        else:
            pts = rng.integers(-size, size, size=(5, 2)) + (cx, cy)
            cv2.polylines(canvas, [pts.astype(np.int32)], False, colour, int(rng.integers(3, 30)), cv2.LINE_AA)
    canvas = cv2.GaussianBlur(canvas, (0, 0), 1.3)
    d = Degradation(name="scene", lighting=0.4, noise_sigma=5.0, background="table")
    return _sensor(canvas, d, seed)


def text_page(seed: int = 0, shape: tuple[int, int] = (3508, 2480)) -> np.ndarray:
    """A plain printed text page without markers or code (RGB uint8 at the given A4 size, 300 dpi by default)."""
    rng = _rng(seed, _SCENE)
    h, w = shape
    page = np.full((h, w, 3), 255, np.uint8)
    u = w / 2480
    letters = "abcdefghijklmnopqrstuvwxyz"
    y = int(300 * u)
    cv2.putText(
        page,
        "NOTICE OF CHANGE",
        (int(250 * u), y),
        cv2.FONT_HERSHEY_DUPLEX,
        3.0 * u,
        (0, 0, 0),
        max(1, int(5 * u)),
        cv2.LINE_AA,
    )
    y += int(200 * u)
    while y < h - 250 * u:
        x = int(250 * u)
        while True:
            word = "".join(rng.choice(list(letters), size=int(rng.integers(2, 10))))
            (tw, _), _ = cv2.getTextSize(word, cv2.FONT_HERSHEY_SIMPLEX, 1.4 * u, max(1, int(3 * u)))
            if x + tw > w - 250 * u:
                break
            cv2.putText(
                page, word, (x, y), cv2.FONT_HERSHEY_SIMPLEX, 1.4 * u, (20, 20, 20), max(1, int(3 * u)), cv2.LINE_AA
            )
            x += tw + int(28 * u)
        y += int(rng.choice([70, 70, 70, 140]) * u)
    return page


def text_page_scan(seed: int = 0) -> np.ndarray:
    """An office scan of a plain text page that carries no markers (RGB uint8)."""
    return simulate(text_page(seed), CLASSES["office300"][seed % len(CLASSES["office300"])], seed)


OUT_OF_ENVELOPE: dict[str, Degradation | Callable[[int], np.ndarray]] = {
    "third_cut_off": replace(CLASSES["office300"][0], name="third_cut_off", crop_fraction=0.34),
    "too_low_dpi": replace(CLASSES["office300"][0], name="too_low_dpi", dpi=90, blur_sigma_px=0.6),
    "random_scene": random_scene,
    "text_page": text_page_scan,
}
