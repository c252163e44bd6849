"""Verification: the bytes of a scan in, the restored front and the certificate's facts out."""

from __future__ import annotations

import time

import cv2
import numpy as np

from . import spec
from .code import check_code
from .derive import BlockMap
from .errors import LocateError, MarkersNotFound, ResolutionTooLow, ScrambleMismatch, VerifyError
from .intake import iter_pages, open_upload
from .keys import KeyRing
from .locate import GridFit, PageFit, locate_markers, measure_dots, read_code
from .model import DecodedPage, Limits, Restoration
from .quality import seam_coherence
from .scramble import descramble

WORKING_MAX_PIXELS = 16_000_000  # larger scans are decoded at half size (a 600 dpi A4 page becomes 300 dpi)
UNIFORM_LIGHT_LEVELS = 10  # paper white varying less than this across the page gets one tone curve
MAX_COHERENCE = 0.88  # above this the blocks fit their neighbours no better than random ones: wrong block map


class _Clock:
    """Milliseconds spent per stage."""

    def __init__(self) -> None:
        self.times: dict[str, float] = {}
        self._t = time.perf_counter()

    def lap(self, stage: str) -> None:
        now = time.perf_counter()
        self.times[stage] = self.times.get(stage, 0.0) + (now - self._t) * 1000
        self._t = now


def restore(data: bytes, keyring: KeyRing, limits: Limits | None = None) -> Restoration:
    """Verify one upload: decode it, find the back on the first page that carries one, check its code and restore
    the front. Raises a ``VerifyError`` that says what to do when it cannot."""
    limits = limits or Limits()
    clock = _Clock()
    upload = open_upload(data, limits)
    first_error: VerifyError | None = None
    for page in iter_pages(data, upload, limits, max_pixels=WORKING_MAX_PIXELS):
        clock.lap("decode")
        try:
            result = restore_page(page, keyring, limits, clock)
        except LocateError as exc:  # this page carries no readable back: try the next one
            first_error = first_error or exc
            continue
        result.upload = upload
        return result
    raise first_error or MarkersNotFound("the upload has no page")


def restore_page(page: DecodedPage, keyring: KeyRing, limits: Limits, clock: _Clock | None = None) -> Restoration:
    """Verify one decoded page."""
    clock = clock or _Clock()
    img = page.image
    gray = img if img.ndim == 2 else cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    fit = locate_markers(gray)
    scan_dpi = fit.dpi / getattr(page, "scale", 1.0)
    if scan_dpi < limits.min_dpi:
        raise ResolutionTooLow(f"the back was scanned at about {scan_dpi:.0f} dpi", dpi=round(scan_dpi))
    clock.lap("locate")
    payload = check_code(read_code(gray, fit), keyring)
    clock.lap("code")
    grid = measure_dots(gray, fit)
    clock.lap("refine")
    if _is_bilevel(img):  # a fax-style 1-bit scan: recover grey levels before resampling
        img = cv2.GaussianBlur(img, (0, 0), 0.8)
    design = normalize_tone(grid.warp(img), grid)
    clock.lap("warp")
    block_map = BlockMap.derive(keyring.get(payload.key_id).scramble_secret, payload.issuer, payload.serial)
    front = descramble(design, block_map)
    coherence = seam_coherence(front if front.ndim == 2 else cv2.cvtColor(front, cv2.COLOR_BGR2GRAY))
    if coherence > MAX_COHERENCE:
        raise ScrambleMismatch(f"the blocks do not fit together (coherence {coherence:.2f})",
                               serial=payload.serial, coherence=round(coherence, 2))
    front = sharpen(front, grid.blur_px / grid.px_per_unit)
    front = cv2.cvtColor(front, cv2.COLOR_GRAY2RGB if front.ndim == 2 else cv2.COLOR_BGR2RGB)
    clock.lap("descramble")
    return Restoration(
        image=front,
        certificate=payload.facts(),
        quality=_quality(fit, grid, scan_dpi, coherence),
        page_index=page.page_index,
        timings_ms={k: round(v, 2) for k, v in clock.times.items()},
    )


def normalize_tone(design: np.ndarray, grid: GridFit) -> np.ndarray:
    """Map the local paper white to 255 and the ink of the dot track to 0, undoing uneven light and grey paper."""
    half = np.ascontiguousarray(design[::2, ::2])
    gray = half if half.ndim == 2 else cv2.cvtColor(half, cv2.COLOR_BGR2GRAY)
    # local paper level: the brightest (denoised) pixel of every 4 x 4 unit cell, then the brightest cell nearby
    soft = cv2.dilate(cv2.GaussianBlur(gray, (0, 0), 0.7), np.ones((2, 2), np.uint8))
    cells = soft[::2, ::2]
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (9, 9))
    white = cv2.GaussianBlur(cv2.dilate(cells, kernel).astype(np.float32), (0, 0), 6)
    black = max(0.0, min(grid.ink, float(white.min()) - 64))
    low, high = np.percentile(white[::4, ::4], [2, 98])
    if high - low < UNIFORM_LIGHT_LEVELS:  # a flatbed scan: one tone curve for the whole page
        lut = np.clip((np.arange(256) - black) * 255.0 / max(float(np.median(white[::4, ::4])) - black, 32.0), 0, 255)
        return cv2.LUT(design, lut.astype(np.uint8))
    gain = 255.0 / np.maximum(white - black, 32.0)
    gain = cv2.resize(gain, (spec.GRID_W, spec.GRID_H), interpolation=cv2.INTER_LINEAR)
    shifted = cv2.subtract(design, (black,) * 4) if black > 0 else design
    if design.ndim == 3:
        gain = cv2.merge([gain, gain, gain])
    return cv2.multiply(shifted, gain, dtype=cv2.CV_8U)


def _is_bilevel(img: np.ndarray) -> bool:
    """True for a 1-bit scan (only black and white pixels)."""
    return img.ndim == 2 and np.unique(img[::97, ::89]).size <= 2


def sharpen(front: np.ndarray, blur: float) -> np.ndarray:
    """Unsharp masking matched to the measured blur (sigma in front pixels), to give back crisp strokes."""
    amount = float(np.clip(1.2 * blur, 0.0, 1.5))
    if amount < 0.1:
        return front
    sigma = max(1.0, 1.5 * blur)
    kernel = cv2.getGaussianKernel(2 * round(2.5 * sigma) + 1, sigma)
    soft = cv2.sepFilter2D(front, -1, kernel, kernel, borderType=cv2.BORDER_REPLICATE)
    return cv2.addWeighted(front, 1 + amount, soft, -amount, 0)


def _quality(fit: PageFit, grid: GridFit, dpi: float, coherence: float) -> dict[str, float]:
    """Figures a user or an auditor can read to judge the scan."""
    return {
        "dpi": round(dpi, 1),
        "rotation_deg": round(fit.rotation_deg, 2),
        "markers_found": len(fit.corners),
        "marker_error_px": round(fit.marker_error_px, 3),
        "dots_found": round(grid.dots_found, 4),
        "grid_rms_px": round(grid.rms_px, 3),
        "contrast": round(grid.paper - grid.ink, 1),
        "blur_px": round(grid.blur_px, 2),
        "coherence": round(coherence, 3),
    }


