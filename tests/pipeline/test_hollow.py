"""A print that hollows large dark areas to their outlines (Augraphy's Hollow, an independent document-degradation
model: a corner mark becomes a square line with lines round its light modules) still verifies. The hollowed back
here is drawn from a genuine back without Augraphy: each dark area of the corner marks eroded and taken out of
itself, leaving its outline; and the dots of the track left as broken grey outlines."""

from __future__ import annotations

import cv2
import numpy as np

from tests import field
from verify import content, locate, restore, spec


def _marks_outlined(page: np.ndarray, stroke_px: int = 2) -> np.ndarray:
    """``page`` (RGB, at field.DPI) with every dark area of its corner marks hollowed to an outline ``stroke_px``
    wide."""
    scale = field.DPI / spec.UNITS_PER_INCH
    inside = np.zeros(page.shape[:2], bool)
    for r in spec.marker_rects().values():
        x0, y0, x1, y1 = (round(v * scale) for v in (r.x - 8, r.y - 8, r.x + r.w + 8, r.y + r.h + 8))
        inside[y0:y1, x0:x1] = True
    dark = (cv2.cvtColor(page, cv2.COLOR_RGB2GRAY) < 128).view(np.uint8)
    core = cv2.erode(dark, np.ones((2 * stroke_px + 1,) * 2, np.uint8)).view(bool) & inside
    out = page.copy()
    out[core] = 255
    return out


def test_hollowed_corner_marks_are_found_and_the_back_verifies(cert, keyring):
    page = _marks_outlined(cert.back)
    gray = cv2.cvtColor(page, cv2.COLOR_RGB2GRAY)
    plain = [len(locate._detect(small, factor, quick)) for small, factor, quick, fill in locate._marker_passes(gray)
             if fill is None]
    assert max(plain) < 3  # as the page stands, the detector reads too few squares as marks to place the page
    fit = locate.locate_markers(gray)
    assert sorted(fit.corners) == ["bl", "br", "tl", "tr"]
    result = restore(field.finish(page, np.random.default_rng(3)), keyring)
    assert result.certificate.serial == cert.facts.serial and result.certificate.signature == "valid"
    assert result.content["bound"] and not result.content.get("unchecked")


def _dots_outlined(page: np.ndarray, level: int = 150) -> np.ndarray:
    """``page`` with every dot of the track hollowed to a broken grey outline (``level``), as a printer that fills
    large solids badly leaves them, while the front's thin strokes print black."""
    scale = field.DPI / spec.UNITS_PER_INCH
    near = np.zeros(page.shape[:2], bool)
    for side in spec.dot_centres().values():
        for x, y in side:
            near[round((y - 10) * scale):round((y + 10) * scale), round((x - 10) * scale):round((x + 10) * scale)] = True
    dark = (cv2.cvtColor(page, cv2.COLOR_RGB2GRAY) < 128).view(np.uint8)
    core = cv2.erode(dark, np.ones((5, 5), np.uint8)).view(bool)
    outline = dark.view(bool) & ~core & near
    yy, xx = np.indices(outline.shape)
    gaps = outline & ((xx // 2 + yy // 2) % 2 == 0)  # every other stretch of the line missing
    out = page.copy()
    out[core & near] = 255
    out[gaps] = 255
    out[outline & ~gaps] = level
    return out


def test_dots_printed_hollow_do_not_darken_the_front(cert, keyring):
    """The dots are the print's black for the tone curve; hollow grey dots taken as black made every stroke restore
    darker than printed, and this genuine back was answered ``altered`` (all eight fields, 2.9 to 4.2 levels). The
    front's own strokes, darker than the dots by far, are taken as black instead."""
    page = _dots_outlined(cert.back)
    data = field.finish(page, np.random.default_rng(4))
    gray = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_GRAYSCALE)
    assert locate.measure_dots(gray, locate.locate_markers(gray)).ink < 64
    result = restore(data, keyring)
    assert result.content["darker"] < 0.7 * content.ACCUSE and not result.content.get("unchecked")
