"""The common wrong uploads are named: a blank page, the front sent by mistake and an unrelated picture each get
their own message, where all were told to get the four corner marks into the picture."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from tests import field
from verify import errors, restore, spec
from verify.paper import print_on_ground


def _photo() -> np.ndarray:
    """A colour photograph at the scan's size: smooth colour with shapes of every size over it."""
    rng = np.random.default_rng(0)
    page = cv2.resize(rng.integers(0, 256, (6, 8, 3), dtype=np.uint8), (2480, 3508), interpolation=cv2.INTER_CUBIC)
    for _ in range(40):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        centre = (int(rng.integers(0, 2480)), int(rng.integers(0, 3508)))
        cv2.circle(page, centre, int(rng.integers(30, 400)), colour, -1)
    return page


def _without_marks(back: np.ndarray) -> np.ndarray:
    """The back with its four corner marks covered by paper."""
    page = back.copy()
    scale = field.DPI / spec.UNITS_PER_INCH
    for r in spec.marker_rects().values():
        x0, y0, x1, y1 = (round(v * scale) for v in (r.x - 8, r.y - 8, r.x + r.w + 8, r.y + r.h + 8))
        page[y0:y1, x0:x1] = 255
    return page


@pytest.mark.parametrize("kind", ["office", "phone"])
def test_a_blank_page_is_named_as_blank(keyring, kind):
    with pytest.raises(errors.BlankPage) as caught:
        restore(field.finish(np.full((3508, 2480, 3), 248, np.uint8), np.random.default_rng(1), kind=kind), keyring)
    assert caught.value.code == "markers_not_found" and caught.value.context["reason"] == "blank"
    assert "blank" in caught.value.message("en") and "白紙" in caught.value.message("ja")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["office", "phone"])
def test_the_front_sent_by_mistake_is_named_as_not_the_back(cert, keyring, kind):
    with pytest.raises(errors.NotTheBack) as caught:
        restore(field.finish(print_on_ground(cert.front), np.random.default_rng(1), kind=kind), keyring)
    assert caught.value.code == "markers_not_found" and caught.value.context["reason"] == "no_back"
    assert "front of the certificate" in caught.value.message("en") and "表面" in caught.value.message("ja")


@pytest.mark.parametrize(("serial", "page"), [("STACK-0003", 5), ("STACK-0009", 16)])
def test_fronts_fed_through_a_scanner_are_named_as_not_the_back(keyring, serial, page):
    """Two fronts of bench/stack.py's stack, each on its background pattern, scanned as a sheet feeder takes it
    (office 300 dpi, upside down): OpenCV's QR detector outlined a quadrilateral on the full picture (finder-like
    spots of the pattern and the seal, a third of the page across), which made them look like backs with their
    marks cut off. A code's outline is a small square."""
    import datetime as dt

    from tests.simulate import CLASSES, scan_bytes
    from verify.sample import default_fields, render_sample_front

    office = [c for c in CLASSES["office300"] if c.rotation_deg < 5 or 175 < c.rotation_deg < 185
              or c.rotation_deg > 355]
    front = render_sample_front(default_fields(serial=serial, issued_on=dt.date(2026, 12, 7))).image
    with pytest.raises(errors.NotTheBack) as caught:
        restore(scan_bytes(print_on_ground(front), office[(page - 1) % len(office)], seed=31 * (page - 1))[0], keyring)
    assert caught.value.context["reason"] == "no_back"


@pytest.mark.slow
def test_an_unrelated_photograph_is_named_as_not_the_back(keyring):
    with pytest.raises(errors.NotTheBack):
        restore(field.finish(_photo(), np.random.default_rng(1), kind="phone"), keyring)


def test_a_back_whose_corner_marks_are_covered_is_still_asked_for_its_marks(cert, keyring):
    """Its code is still in the picture: it is a back, and what is missing is the marks."""
    with pytest.raises(errors.MarkersNotFound) as caught:
        restore(field.finish(_without_marks(cert.back), np.random.default_rng(1)), keyring)
    assert type(caught.value) is errors.MarkersNotFound and "reason" not in caught.value.context
    assert "four square corner marks" in caught.value.message("en")
