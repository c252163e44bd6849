"""The print-and-scan model: sizes follow dpi, geometry is where page_corners says, seeds repeat, files decode."""

from __future__ import annotations

import io
import math
from dataclasses import replace

import cv2
import numpy as np
import pytest
from PIL import Image

from tests.simulate import (
    CLASSES,
    OUT_OF_ENVELOPE,
    Degradation,
    encode_scan,
    page_corners,
    scan_bytes,
    simulate,
    text_page,
)

A4_INCHES = (297 / 25.4, 210 / 25.4)  # height, width


def synthetic_back(dpi: float = 75, seed: int = 0) -> np.ndarray:
    """A back-like A4 page: corner squares (a different one at top left), code-like modules, strokes, a picture."""
    rng = np.random.default_rng(seed)
    h, w = round(A4_INCHES[0] * dpi), round(A4_INCHES[1] * dpi)
    page = np.full((h, w, 3), 255, np.uint8)
    m, side = round(0.4 * dpi), round(0.5 * dpi)
    for x, y in [(m, m), (w - m - side, m), (w - m - side, h - m - side), (m, h - m - side)]:
        cv2.rectangle(page, (x, y), (x + side - 1, y + side - 1), (0, 0, 0), -1)
    q = side // 3
    cv2.rectangle(page, (m + q, m + q), (m + side - 1 - q, m + side - 1 - q), (255, 255, 255), -1)
    # A code-like module field and a dotted frame.
    cell = max(2, round(dpi / 30))
    modules = rng.random((25, 25)) < 0.5
    code = np.kron(modules, np.ones((cell, cell), bool))
    page[m : m + code.shape[0], w // 2 - code.shape[1] // 2 : w // 2 + (code.shape[1] + 1) // 2][code] = 0
    top, left, bottom, right = round(1.6 * dpi), m, h - round(1.2 * dpi), w - m
    for x in range(left, right, max(2, round(dpi / 25))):
        page[top : top + max(1, round(dpi / 100)) + 1, x : x + 1] = 0
        page[bottom : bottom + max(1, round(dpi / 100)) + 1, x : x + 1] = 0
    # A scrambled-looking picture: blocks of smooth colour with text-like strokes.
    pic = np.zeros((bottom - top - 20, right - left - 20, 3), np.float32)
    yy, xx = np.mgrid[0 : pic.shape[0], 0 : pic.shape[1]].astype(np.float32)
    for ch in range(3):
        pic[..., ch] = 150 + 80 * np.sin(xx / (17 + 9 * ch) + ch) * np.cos(yy / (23 + 5 * ch))
    pic = pic.astype(np.uint8)
    for _ in range(int(pic.shape[0] * pic.shape[1] / dpi**2 * 6)):
        x, y = int(rng.integers(0, pic.shape[1])), int(rng.integers(0, pic.shape[0]))
        cv2.putText(pic, "AB", (x, y), cv2.FONT_HERSHEY_SIMPLEX, dpi / 300, (20, 20, 20), max(1, round(dpi / 150)))
    cv2.circle(
        pic, (pic.shape[1] * 3 // 4, pic.shape[0] // 5), round(0.4 * dpi), (200, 30, 30), max(1, round(dpi / 60))
    )
    page[top + 10 : bottom - 10, left + 10 : right - 10] = pic
    return page


@pytest.fixture(scope="module")
def page() -> np.ndarray:
    return synthetic_back(75)


def marker_darkness(scan: np.ndarray, page_shape: tuple[int, ...], corners: np.ndarray, dpi: float) -> list[float]:
    """Darkness (255 - mean gray) at the centres of the four corner squares, found through the mapped corners."""
    h, w = page_shape[:2]
    outline = np.float32([[-0.5, -0.5], [w - 0.5, -0.5], [w - 0.5, h - 0.5], [-0.5, h - 0.5]])
    to_scan = cv2.getPerspectiveTransform(outline, corners.astype(np.float32))
    m = (0.4 + 0.25) * dpi - 0.5  # marker centre, from the page edge, in page pixels
    centres = np.float32([[m, m], [w - 1 - m, m], [w - 1 - m, h - 1 - m], [m, h - 1 - m]])
    gray = scan if scan.ndim == 2 else cv2.cvtColor(scan, cv2.COLOR_RGB2GRAY)
    r = max(1, round(0.06 * dpi * scan_scale(corners, page_shape)))
    out = []
    for x, y in cv2.perspectiveTransform(centres[None], to_scan)[0]:
        x0, y0 = max(0, round(x) - r), max(0, round(y) - r)
        out.append(255.0 - float(gray[y0 : round(y) + r + 1, x0 : round(x) + r + 1].mean()))
    return out


def scan_scale(corners: np.ndarray, page_shape: tuple[int, ...]) -> float:
    """Scan pixels per page pixel, from the mapped page width."""
    return float(np.linalg.norm(corners[1] - corners[0]) / page_shape[1])


def test_output_size_follows_dpi(page: np.ndarray) -> None:
    d = Degradation("plain", dpi=150)
    scan = simulate(page, d)
    corners = page_corners(page.shape, d)
    width = np.linalg.norm(corners[1] - corners[0])
    height = np.linalg.norm(corners[3] - corners[0])
    assert width == pytest.approx(1240, abs=2) and height == pytest.approx(1754, abs=2)
    # A small lid margin around the page, nothing more.
    assert 1240 < scan.shape[1] < 1240 + 0.5 * 150 and 1754 < scan.shape[0] < 1754 + 0.5 * 150
    assert scan.dtype == np.uint8 and scan.shape[2] == 3


def test_clean_is_a_faithful_copy(page: np.ndarray) -> None:
    d = replace(CLASSES["clean"][0], dpi=75)
    scan = simulate(page, d)
    tl = page_corners(page.shape, d)[0]
    x, y = round(tl[0] + 0.5), round(tl[1] + 0.5)
    np.testing.assert_array_equal(scan[y : y + page.shape[0], x : x + page.shape[1]], page)


@pytest.mark.parametrize("rotation", [90.0, 180.0, 270.0, 33.0])
def test_rotation_moves_the_page_where_page_corners_says(page: np.ndarray, rotation: float) -> None:
    d = Degradation("rot", dpi=75, rotation_deg=rotation)
    scan = simulate(page, d)
    corners = page_corners(page.shape, d)
    # The page's top-left marker is hollow, the other three are solid: each is where the mapped corners put it.
    hollow, *solid = marker_darkness(scan, page.shape, corners, 75)
    assert hollow < 60 and min(solid) > 200
    assert np.all(corners > -1) and np.all(corners < scan.shape[1::-1])
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
    np.testing.assert_allclose(sides, [page.shape[1], page.shape[0]] * 2, atol=1e-6)
    if rotation == 180.0:
        # Upside down: the page's top-left corner is now the bottom-right one, and the picture is flipped.
        assert corners[0, 0] > corners[2, 0] and corners[0, 1] > corners[2, 1]
        x, y = np.round(corners[2] + 0.5).astype(int)
        np.testing.assert_array_equal(scan[y : y + page.shape[0], x : x + page.shape[1]], page[::-1, ::-1])


def test_page_corners_match_the_page_in_a_phone_photo(page: np.ndarray) -> None:
    d = replace(CLASSES["phone"][2], dpi=75)
    scan = simulate(page, replace(d, noise_sigma=0, lighting=0, jpeg_quality=None, blur_sigma_px=0))
    corners = page_corners(page.shape, d)
    quad = np.round(corners).astype(np.int32)
    mask = np.zeros(scan.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, quad, 1)
    inside = cv2.erode(mask, np.ones((9, 9), np.uint8)).astype(bool)
    outside = ~cv2.dilate(mask, np.ones((9, 9), np.uint8)).astype(bool)
    gray = cv2.cvtColor(scan, cv2.COLOR_RGB2GRAY)
    # White paper along the inner edge of the predicted outline, dark table outside it.
    ring = inside & ~cv2.erode(mask, np.ones((25, 25), np.uint8)).astype(bool)
    assert np.median(gray[ring]) > 200 and np.median(gray[outside]) < 130
    # Each corner (moved by the lens too) is paper just inside and table just outside.
    centre = corners.mean(0)
    for c in corners:
        toward = (centre - c) / np.linalg.norm(centre - c)
        (xi, yi), (xo, yo) = np.round(c + 4 * toward).astype(int), np.round(c - 4 * toward).astype(int)
        assert gray[yi, xi] > 150 and gray[yo, xo] < 130
    # Perspective: opposite sides are no longer equal.
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
    assert abs(sides[0] - sides[2]) > 1 or abs(sides[1] - sides[3]) > 1


def test_sheet_feeder_stretches_along_the_feed(page: np.ndarray) -> None:
    d = replace(CLASSES["feeder"][3], dpi=75)
    corners = page_corners(page.shape, d, seed=2)
    length = np.linalg.norm(corners[3] - corners[0]) / page.shape[0]
    assert length - 1 == pytest.approx(d.feed_stretch, rel=0.15)
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(page.shape[1], rel=1e-3)
    scan = simulate(page, d, seed=2)
    hollow, *solid = marker_darkness(scan, page.shape, corners, 75)
    assert hollow < 100 and min(solid) > 180


def test_same_seed_same_scan_other_seed_other_scan(page: np.ndarray) -> None:
    d = replace(CLASSES["office300"][3], dpi=75)
    a, b, c = simulate(page, d, seed=4), simulate(page, d, seed=4), simulate(page, d, seed=5)
    np.testing.assert_array_equal(a, b)
    assert a.shape != c.shape or np.abs(a.astype(int) - c).mean() > 1
    np.testing.assert_array_equal(page_corners(page.shape, d, 4), page_corners(page.shape, d, 4))


def test_jpeg_png_and_one_bit_tiff_decode(page: np.ndarray) -> None:
    jpeg = replace(CLASSES["office300"][0], dpi=75)
    data, media = scan_bytes(page, jpeg)
    assert media == "image/jpeg"
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "JPEG" and im.mode == "RGB" and im.info["dpi"] == (75, 75)
        assert im.size == simulate(page, jpeg).shape[1::-1]
    fax = replace(CLASSES["fax"][0], dpi=75)
    data, media = scan_bytes(page, fax)
    assert media == "image/tiff"
    with Image.open(io.BytesIO(data)) as im:
        assert im.mode == "1" and im.info["compression"] == "group4"
        bits = np.asarray(im.convert("L"))
    np.testing.assert_array_equal(bits, simulate(page, fax))
    assert set(np.unique(bits)) == {0, 255}
    clean = replace(CLASSES["clean"][1], dpi=75)
    data, media = encode_scan(simulate(page, clean), clean)
    assert media == "image/png"
    with Image.open(io.BytesIO(data)) as im:
        assert im.format == "PNG" and im.mode == "RGB"


def test_grayscale_scan_is_two_dimensional(page: np.ndarray) -> None:
    scan = simulate(page, Degradation("gray", dpi=75, grayscale=True, noise_sigma=2))
    assert scan.ndim == 2 and scan.dtype == np.uint8


@pytest.mark.parametrize("name", sorted(CLASSES))
def test_every_class_case_runs(page: np.ndarray, name: str) -> None:
    assert name == "clean" or 6 <= len(CLASSES[name]) <= 12
    for i, d in enumerate(CLASSES[name]):
        small = replace(d, dpi=d.dpi / 4)  # the page is 75 dpi, a quarter of the real one
        scan = simulate(page, small, seed=i, page_dpi=75)
        corners = page_corners(page.shape, small, seed=i, page_dpi=75)
        assert scan.dtype == np.uint8 and scan.ndim == (2 if d.grayscale or d.bilevel else 3)
        assert corners.min() > -1 and np.all(corners.max(0) < scan.shape[1::-1])
        page_area = cv2.contourArea(corners.astype(np.float32))
        expected = page.shape[0] * page.shape[1] * (small.dpi / 75) ** 2
        assert page_area == pytest.approx(expected, rel=0.2)
        hollow, *solid = marker_darkness(scan, page.shape, corners, 75)
        assert min(solid) > hollow + 60, d.name  # the markers survive every condition


def test_phone_photos_show_the_table(page: np.ndarray) -> None:
    d = replace(CLASSES["phone"][0], dpi=60)
    corners = page_corners(page.shape, d, page_dpi=75)
    scan = simulate(page, d, page_dpi=75)
    share = (corners.max(0) - corners.min(0)) / scan.shape[1::-1]
    assert 0.65 < share.max() < 0.9
    assert scan.shape[0] * 3 == pytest.approx(scan.shape[1] * 4, abs=8)  # a 3:4 portrait frame


def test_crop_removes_a_third_of_the_page(page: np.ndarray) -> None:
    d = replace(OUT_OF_ENVELOPE["third_cut_off"], dpi=75)
    whole = replace(d, crop_fraction=0.0)
    for seed in range(4):
        full, cut = simulate(page, whole, seed), simulate(page, d, seed)
        lost = 1 - cut.shape[0] * cut.shape[1] / (full.shape[0] * full.shape[1])
        assert 0.25 < lost < 0.4
        corners = page_corners(page.shape, d, seed)
        outside = (corners[:, 0] < 0) | (corners[:, 1] < 0)
        outside |= (corners[:, 0] > cut.shape[1]) | (corners[:, 1] > cut.shape[0])
        assert outside.sum() == 2  # one side of the page is beyond the frame


def test_out_of_envelope_cases_are_what_they_say(page: np.ndarray) -> None:
    """The too-low-dpi scan maps the page at 90 dpi; the foreign pictures repeat by seed, differ between seeds and
    look like what they are named (a busy photo, a page of text)."""
    low = OUT_OF_ENVELOPE["too_low_dpi"]
    corners = page_corners(page.shape, low)
    assert np.linalg.norm(corners[1] - corners[0]) == pytest.approx(210 / 25.4 * 90, abs=2)
    scan = simulate(page, low)
    assert scan.shape[1] < 210 / 25.4 * 90 + 0.5 * 90
    scene = OUT_OF_ENVELOPE["random_scene"]
    first = scene(1)
    assert np.array_equal(first, scene(1)) and not np.array_equal(first, scene(2))
    assert first.dtype == np.uint8 and first.ndim == 3 and min(first.shape[:2]) >= 2000 and first.std() > 20
    text = text_page(2, shape=(877, 620))
    assert 0.01 < (text < 128).mean() < 0.5 and not np.array_equal(text, text_page(3, shape=(877, 620)))


def test_print_stage_effects(page: np.ndarray) -> None:
    plain = Degradation("plain", dpi=75)
    base = simulate(page, plain).astype(np.float32)
    pale = simulate(page, replace(plain, contrast=0.6)).astype(np.float32)
    assert pale.min() > 60 and base.min() < 5
    screened = simulate(page, replace(plain, halftone=True)).astype(np.float32)
    assert screened.shape == base.shape and math.isclose(screened.mean(), base.mean(), rel_tol=0.15)
    lit = simulate(page, replace(plain, lighting=0.5)).astype(np.float32)
    assert lit.mean() < base.mean() - 5
