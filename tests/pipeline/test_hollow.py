"""A print that hollows large dark areas to their outlines (Augraphy's Hollow, an independent document-degradation
model: a corner mark becomes a square line with lines round its light modules) still verifies. The hollowed back
here is drawn from a genuine back without Augraphy: each dark area of the corner marks eroded and taken out of
itself, leaving its outline."""

from __future__ import annotations

import cv2
import numpy as np

from tests import field
from verify import locate, restore, spec


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
