"""The geometry of locating a back, piece by piece, on inputs whose answer is known exactly: the markers' fit, a dot's
centre, the blur of its edges, the boundary correction, and the block sampler against the reference descramble."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from verify import spec
from verify.locate import (
    GridFit,
    _clean_track,
    _dot_centroids,
    _edge_blur,
    _fit_markers,
    _pitch_step,
    _unslipped,
    project,
    sample_blocks,
)
from verify.scramble import BlockMap, descramble, place_blocks, scramble


def similarity(angle_deg: float, scale: float, shift: tuple[float, float], mirrored: bool = False) -> np.ndarray:
    """Page units -> scan pixels: turned by ``angle_deg``, ``scale`` pixels a unit, shifted; optionally mirrored."""
    a = np.deg2rad(angle_deg)
    m = scale * np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    if mirrored:
        m = m @ np.diag([-1.0, 1.0])
    return np.array([[*m[0], shift[0]], [*m[1], shift[1]], [0, 0, 1]])


def markers_seen(h: np.ndarray, names=("tl", "tr", "br", "bl")) -> dict[str, np.ndarray]:
    """Each named marker's four corners where ``h`` puts them, as the detector reports them."""
    rects = spec.marker_rects()
    return {n: project(h, np.array(rects[n].corners(), np.float64)) for n in names}


PAGE_CORNERS = np.array(spec.Rect(0, 0, spec.PAGE_W, spec.PAGE_H).corners(), np.float64)


# --- the corner markers ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("angle", [0.0, 3.5, 90.0, 181.0, -97.0])
def test_four_markers_give_the_page_they_were_drawn_from(angle):
    h = similarity(angle, 1.25, (1800.0, 400.0))
    fit = _fit_markers(markers_seen(h))
    assert fit is not None and sorted(fit.corners) == ["bl", "br", "tl", "tr"]
    assert np.abs(fit.project(PAGE_CORNERS) - project(h, PAGE_CORNERS)).max() < 0.01
    assert fit.marker_error_px < 0.01
    assert fit.dpi == pytest.approx(1.25 * spec.UNITS_PER_INCH)
    assert fit.rotation_deg == pytest.approx(-((angle + 180) % 360 - 180) if angle != 180 else 180.0)


def test_a_false_fourth_marker_is_left_out():
    h = similarity(2.0, 1.25, (150.0, 90.0))
    found = markers_seen(h)
    found["br"] = found["br"] + [300.0, -220.0]  # a mark elsewhere on the sheet read as the fourth marker
    fit = _fit_markers(found)
    assert fit is not None and sorted(fit.corners) == ["bl", "tl", "tr"]
    assert np.abs(fit.project(PAGE_CORNERS) - project(h, PAGE_CORNERS)).max() < 0.01


def test_three_true_markers_suffice_and_two_do_not():
    h = similarity(-1.0, 0.8, (60.0, 120.0))
    fit = _fit_markers(markers_seen(h, ("tl", "tr", "bl")))
    assert fit is not None and np.abs(fit.project(PAGE_CORNERS) - project(h, PAGE_CORNERS)).max() < 0.01
    assert _fit_markers(markers_seen(h, ("tl", "br"))) is None
    assert _fit_markers({}) is None


def test_a_mirrored_page_is_no_fit():
    """A back scanned through the paper or flipped in software: the markers agree, but as a mirror image."""
    assert _fit_markers(markers_seen(similarity(0.0, 1.25, (3000.0, 100.0), mirrored=True))) is None


# --- the dots of the track ---------------------------------------------------------------------------------------


def dot_image(centres: np.ndarray, side_px: float, shape=(200, 200)) -> np.ndarray:
    """Black squares of ``side_px`` centred at sub-pixel ``centres`` (pixel centres at integers) on white, each pixel
    the share of its area the squares leave white, as a sensor integrates light."""
    white = np.ones(shape, np.float64)

    def coverage(centre: float, n: int) -> np.ndarray:  # per pixel, the part of [i - 0.5, i + 0.5] inside the dot
        i = np.arange(n)
        return np.clip(np.minimum(i + 0.5, centre + side_px / 2) - np.maximum(i - 0.5, centre - side_px / 2), 0, 1)

    for x, y in centres:
        white -= np.outer(coverage(y, shape[0]), coverage(x, shape[1]))
    return np.round(255 * np.clip(white, 0, 1)).astype(np.uint8)


@pytest.mark.parametrize(("blur", "within"), [(1.0, 0.05), (1.5, 0.05), (0.0, 0.1)])
def test_a_dot_is_found_within_five_hundredths_of_a_pixel(blur, within):
    """As printed and scanned (edges blurred by about a pixel) a dot's centre is found within 0.05 px; a perfectly
    sharp dot, which no scanner delivers, within 0.1 px (the centroid leaves out pixels less than 30 % inked)."""
    rng = np.random.default_rng(4)
    truth = np.column_stack([rng.uniform(30, 170, 12), rng.uniform(30, 170, 12)])
    truth = truth[np.argsort(truth[:, 0])]
    truth = truth[np.r_[True, np.diff(truth[:, 0]) > 16]]  # dots apart, as on the track
    side = spec.DOT_SIZE * 1.25  # at 300 dpi
    img = dot_image(truth, side).astype(np.float32)
    if blur:
        img = cv2.GaussianBlur(img, (0, 0), blur)
    guesses = truth + rng.uniform(-1.5, 1.5, truth.shape)  # where the page fit predicts them
    found = _dot_centroids(np.round(img).astype(np.uint8), guesses, 10, side)
    assert not np.isnan(found[:, 0]).any()
    assert np.abs(found[:, :2] - truth).max() < within
    assert np.all(found[:, 2] < 10) and np.all(found[:, 3] > 245)  # darkest ink, paper


@pytest.mark.parametrize("sigma", [0.8, 1.2, 2.0, 3.0])
def test_the_edge_blur_recovers_a_known_sigma(sigma):
    ppu = 1.25
    side = spec.DOT_SIZE * ppu
    centres = np.array([[40.0 + 40 * i + 0.5, 60.5] for i in range(4)] + [[40.0 + 40 * i + 0.5, 140.5] for i in range(4)])
    img = cv2.GaussianBlur(dot_image(centres, 16.0).astype(np.float32), (0, 0), sigma)
    estimate = _edge_blur(np.clip(img, 0, 255).astype(np.uint8), centres, side, 0.0, 255.0)
    assert estimate == pytest.approx(sigma, rel=0.12)


# --- the boundary correction (Coons patch) ------------------------------------------------------------------------


def grid_with(residual: np.ndarray | tuple[float, float]) -> GridFit:
    """A grid at 1.25 pixels a unit whose dots all stray from the homography by ``residual`` (pixels)."""
    n = {"top": spec.COLS + 1, "bottom": spec.COLS + 1, "left": spec.ROWS + 1, "right": spec.ROWS + 1}
    residuals = {side: np.tile(np.asarray(residual, np.float64), (k, 1)) for side, k in n.items()}
    return GridFit(similarity(0.5, 1.25, (20.0, 30.0)), residuals, 1.0, 0.0, 20.0, 240.0, 1.0)


def test_the_correction_of_zero_residuals_is_the_homography():
    grid = grid_with((0.0, 0.0))
    xs, ys = np.linspace(0, spec.GRID_W, 9), np.linspace(0, spec.GRID_H, 11)
    assert not grid.needs_correction
    plain = grid.scan_points(xs, ys, correct=False)
    assert np.array_equal(grid.scan_points(xs, ys), plain)
    assert np.abs(grid._coons(xs, ys)).max() == 0


def test_a_constant_residual_moves_every_point_by_it():
    grid = grid_with((2.0, -1.5))
    xs, ys = np.linspace(-spec.DOT_OFFSET, spec.GRID_W + spec.DOT_OFFSET, 13), np.linspace(0, spec.GRID_H, 17)
    assert grid.needs_correction
    moved = grid.scan_points(xs, ys) - grid.scan_points(xs, ys, correct=False)
    assert np.abs(moved - [2.0, -1.5]).max() < 1e-9


# --- a folded sheet's track, slipped a dot ------------------------------------------------------------------------


def along_track(grid: GridFit, side: str) -> np.ndarray:
    """Each dot's residual along its own track, in units."""
    step = _pitch_step(grid.homography, side)
    return grid.residuals[side] @ step / float(step @ step) * spec.PITCH


def test_single_dots_found_a_place_off_are_put_back():
    grid = grid_with((3.0, 0.0))
    step = _pitch_step(grid.homography, "left")
    res = grid.residuals["left"].copy()
    res[[10, 12, 30]] += step  # their windows found the next dot
    res[31] -= step
    assert np.abs(_unslipped(res, np.ones(len(res), bool), step) - grid.residuals["left"]).max() < 1e-9


def folded_grid(moves: dict[str, tuple[float, float, float]]) -> GridFit:
    """A grid whose side tracks show a sheet folded in three (creases after dots 19 and 38 of the left and right
    tracks): per side, the three panels' moves along the track (units), as the dots were found."""
    grid = grid_with((0.0, 0.0))
    for side, panel_moves in moves.items():
        step = _pitch_step(grid.homography, side)
        for (a, b), move in zip([(0, 20), (20, 39), (39, spec.ROWS + 1)], panel_moves, strict=True):
            grid.residuals[side][a:b] += move / spec.PITCH * step
    grid.creases = {"left": np.array([19, 38]), "right": np.array([19, 38]), "top": np.zeros(0, int),
                    "bottom": np.zeros(0, int)}
    return grid


def test_a_flat_track_and_a_panel_that_moved_little_have_one_reading():
    assert grid_with((0.5, -0.3)).slipped_readings() == []
    assert folded_grid({"left": (0, 9, 0), "right": (0, 11, 0)}).slipped_readings() == []


def test_a_middle_panel_moved_half_a_pitch_is_read_both_ways():
    """A 2 mm fold moved the middle panel 17 units down the left side and, turned a little, 20 down the right:
    the right track found each of its dots one place off, at -16. Among the readings is the panel as it lay."""
    readings = folded_grid({"left": (0, 17, 0), "right": (0, -16, 0)}).slipped_readings()
    assert 2 <= len(readings) <= 16
    middle = [(along_track(r, "left")[25], along_track(r, "right")[25]) for r in readings]
    assert any(abs(left - 17) < 1e-6 and abs(right - 20) < 1e-6 for left, right in middle)
    assert all(abs(left - right) <= 24 + 1e-6 for left, right in middle)


def test_an_end_panel_is_read_to_agree_with_the_track_across_it():
    """The top panel's left dots were found a place off (-9 for +27): the top track, whose move across itself a
    slip cannot change, says where the corner is."""
    grid = folded_grid({"left": (-9, 0, 0), "right": (25, 0, 0)})
    down = _pitch_step(grid.homography, "left") / spec.PITCH
    grid.residuals["top"] += 26 * down  # the top track moved 26 units down the sheet
    readings = grid.slipped_readings()
    assert readings and all(abs(along_track(r, "left")[5] - 27) < 1e-6 for r in readings)
    assert all(abs(along_track(r, "right")[5] - 25) < 1e-6 for r in readings)


def test_a_track_no_crease_crosses_is_read_to_agree_with_the_corners():
    """The top panel of a sheet folded twice moved 31 units left (two 2 mm folds, panels adding up): the top track,
    which no crease crosses, found each dot the next one along, at +5. The left and right tracks' moves across
    themselves at the corners say where the panel is."""
    grid = folded_grid({"left": (0, 0, 0), "right": (0, 0, 0)})
    across = _pitch_step(grid.homography, "top") / spec.PITCH
    for side in ("left", "right"):
        grid.residuals[side][:20] -= 31 * across
    grid.residuals["top"] += 5 * across
    readings = grid.slipped_readings()
    assert readings and all(np.abs(along_track(r, "top") + 31).max() < 1e-6 for r in readings)
    assert all(np.abs(along_track(r, "bottom")).max() < 1e-6 for r in readings)


def test_the_paper_lifting_beside_a_crease_does_not_end_a_panel():
    """A photographed sheet's paper bends the track beside a crease a unit or two from dot to dot, often enough to
    count as a crease at every dot of the top panel: too little for a panel's edge, so the panel is still read to
    agree with the track across it."""
    grid = folded_grid({"left": (-9, 0, 0), "right": (25, 0, 0)})
    down = _pitch_step(grid.homography, "left") / spec.PITCH
    grid.residuals["top"] += 26 * down
    for side in ("left", "right"):
        grid.residuals[side][:20] += np.arange(20)[:, None] * 1.5 * down  # 1.5 units more at each dot
        grid.creases[side] = np.r_[np.arange(19), grid.creases[side]]
    readings = grid.slipped_readings()
    assert readings and all(abs(np.median(along_track(r, "left")[:20]) - 27 - 14.25) < 1e-6 for r in readings)


def test_a_dot_at_the_end_of_a_track_measured_on_something_else_is_an_outlier():
    """The first dot of a side, next to the corner, found on the dot of the track across it: it is replaced by its
    neighbours' move, and the track shows no crease there."""
    res = np.tile([2.0, -1.0], (spec.ROWS + 1, 1))
    res[0] = [-24.0, 20.0]
    out, jumps = _clean_track(res, np.ones(len(res), bool), 1.9, 0.75)
    assert np.abs(out - [2.0, -1.0]).max() < 1e-9
    assert len(jumps) == 0


# --- the block sampler ---------------------------------------------------------------------------------------------


def test_the_sampler_on_an_identity_grid_is_the_reference_descramble():
    """With the scrambled area drawn at one pixel a unit and a grid that maps units to those pixels, sampling every
    block through its affine map gives exactly what ``scramble.descramble`` computes from the design image."""
    rng = np.random.default_rng(11)
    front = rng.integers(0, 256, (spec.FRONT_H, spec.FRONT_W), dtype=np.uint8)
    block_map = BlockMap.derive(b"k" * 32, "990001", "GEOMETRY-1")
    design = scramble(front, block_map)
    canvas = np.full((spec.GRID_Y + spec.GRID_H + 50, spec.GRID_X + spec.GRID_W + 50), 255, np.uint8)
    canvas[spec.GRID_Y:spec.GRID_Y + spec.GRID_H, spec.GRID_X:spec.GRID_X + spec.GRID_W] = design
    # unit u spans [u, u + 1): its pixel's centre, at integer coordinate u, is at unit u + 0.5
    identity = np.array([[1.0, 0, -0.5], [0, 1.0, -0.5], [0, 0, 1]])
    n = {"top": spec.COLS + 1, "bottom": spec.COLS + 1, "left": spec.ROWS + 1, "right": spec.ROWS + 1}
    grid = GridFit(identity, {s: np.zeros((k, 2)) for s, k in n.items()}, 1.0, 0.0, 0.0, 255.0, 0.5)
    sampled = place_blocks(sample_blocks(canvas, grid.block_affines(block_map), cv2.INTER_LINEAR), block_map)
    reference = descramble(design, block_map)
    assert np.array_equal(reference, front)
    assert np.abs(sampled.astype(int) - reference.astype(int)).max() <= 1  # bilinear weights in float32
    assert np.mean(sampled == reference) > 0.99
