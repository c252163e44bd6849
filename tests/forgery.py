"""What a forger does to a printed back, for the tests: cover parts of it, put another code on it."""

from __future__ import annotations

import functools

import numpy as np

from verify import spec
from verify.code import qr_matrix
from verify.render import draw_matrix, fill_rect

PX = functools.partial(spec.units_to_px, dpi=spec.PRINT_DPI)


def whiten(page: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """A copy of a 300 dpi ``page`` with the box (page units) painted white."""
    out = page.copy()
    x0, y0, x1, y1 = box
    fill_rect(out, PX(x0), PX(y0), PX(x1), PX(y1), (255, 255, 255))
    return out


def with_code(page: np.ndarray, code: bytes) -> np.ndarray:
    """A copy of a 300 dpi ``page`` whose QR code carries ``code`` instead."""
    out = whiten(page, spec.QR_BOX)
    matrix = qr_matrix(code)
    x0, y0, x1, _ = spec.QR_BOX
    side = matrix.shape[0] * spec.QR_MODULE
    draw_matrix(out, matrix, PX(x0 + (x1 - x0 - side) / 2), PX(y0 + (x1 - x0 - side) / 2), PX(spec.QR_MODULE))
    return out
