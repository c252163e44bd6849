"""What a forger does to a printed back, for the tests and bench/forgery.py: cover parts of it, put another code or
another scrambled area on it, learn its block map from its own front, alter the front."""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools

import cv2
import numpy as np

from verify import spec
from verify.code import qr_matrix
from verify.derive import BlockMap
from verify.intake import iter_pages, open_upload
from verify.issuing import fit_front
from verify.locate import locate_markers, measure_dots, sample_blocks
from verify.model import Limits
from verify.render import draw_matrix, fill_rect, render_back
from verify.sample import default_fields, render_sample_front
from verify.scramble import scramble, turn

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


def with_area(back: np.ndarray, source: np.ndarray) -> np.ndarray:
    """A copy of the 300 dpi ``back`` (markers, signed code, data strip) with the scrambled area of ``source``."""
    x0, y0 = (round(PX(v)) for v in (spec.GRID_X, spec.GRID_Y))
    w, h = (round(PX(v)) for v in (spec.GRID_W, spec.GRID_H))
    out = back.copy()
    out[y0:y0 + h, x0:x0 + w] = source[y0:y0 + h, x0:x0 + w]
    return out


IDENTITY = BlockMap(np.arange(spec.COLS * spec.ROWS, dtype=np.int32), np.zeros(spec.COLS * spec.ROWS, np.uint8))


def printed_cells(scan: bytes) -> np.ndarray:
    """Every printed cell of a scanned back, upright as printed, in printed order: (cells, BLOCK, BLOCK) gray."""
    page = next(iter_pages(scan, open_upload(scan, Limits()), Limits()))
    gray = page.image if page.image.ndim == 2 else cv2.cvtColor(page.image, cv2.COLOR_BGR2GRAY)
    grid = measure_dots(gray, locate_markers(gray))
    return sample_blocks(gray, grid.block_affines(IDENTITY), cv2.INTER_LINEAR).reshape(-1, spec.BLOCK, spec.BLOCK)


def _normalise(blocks: np.ndarray) -> np.ndarray:
    """Blocks as 8 x 8 thumbnails stretched to the image's own ink and paper levels."""
    small = blocks.reshape(len(blocks), 8, 4, 8, 4).mean(axis=(2, 4)).reshape(len(blocks), 64)
    lo, hi = np.percentile(small, [1, 99])
    return np.clip((small - lo) / max(hi - lo, 1.0), 0, 1).astype(np.float32)


def recover_block_map(front: np.ndarray, scan: bytes) -> BlockMap:
    """The forger's block map: for each printed cell, the front block and turn that match it best."""
    b = spec.BLOCK
    gray = cv2.cvtColor(fit_front(front), cv2.COLOR_RGB2GRAY)
    blocks = gray.reshape(spec.ROWS, b, spec.COLS, b).swapaxes(1, 2).reshape(-1, b, b)
    candidates = np.concatenate([turn(blocks, t) for t in range(8)])  # index t * n + block
    a, c = _normalise(printed_cells(scan)), _normalise(candidates)
    distance = (a * a).sum(1)[:, None] + (c * c).sum(1)[None, :] - 2 * a @ c.T
    best = distance.argmin(axis=1)
    n = len(blocks)
    return BlockMap((best % n).astype(np.int32), (best // n).astype(np.uint8))


def with_changes(fields, *, address: tuple[str, str] | None = None, birth: tuple[str, str] | None = None,
                 name: tuple[str, str] | None = None):
    """``fields`` with text replaced (old, new) in the address and in the first resident's date of birth and name."""
    first = fields.residents[0]
    if birth:
        first = dataclasses.replace(first, birth=first.birth.replace(*birth))
    if name:
        first = dataclasses.replace(first, name=first.name.replace(*name))
    return dataclasses.replace(fields, address=fields.address.replace(*address) if address else fields.address,
                               residents=(first, *fields.residents[1:]))


def altered_fields(serial: str, issued_on: dt.date):
    """The genuine household with one digit of the address, one of the birth date and one character of the name
    changed."""
    return with_changes(default_fields(serial=serial, issued_on=issued_on), address=("2番3号", "2番8号"),
                        birth=("55年", "56年"), name=("太郎", "次郎"))


def smudge_strip(page: np.ndarray) -> np.ndarray:
    """A copy of a 300 dpi ``page`` with the upper half of its data strip blacked out: beyond repair."""
    out = page.copy()
    x0, y0 = spec.STRIP_X, spec.STRIP_Y
    x1, y1 = x0 + spec.STRIP_COLS * spec.STRIP_MODULE, y0 + spec.STRIP_ROWS * spec.STRIP_MODULE / 2
    fill_rect(out, PX(x0), PX(y0), PX(x1), PX(y1))
    return out


def rebuilt_back(cert, front: np.ndarray, block_map: BlockMap) -> np.ndarray:
    """What a forger prints: the genuine back of ``cert`` (markers, signed code, data strip) with its scrambled area
    rebuilt for ``front`` with ``block_map``, at 300 dpi."""
    return with_area(cert.back, render_back(scramble(fit_front(front), block_map), cert.code, cert.facts))


def exact_forgery(cert, keyring, fields=None) -> np.ndarray:
    """The best back a forger could make for the altered front (``fields``, by default ``altered_fields``): every
    block in its exact place (the block map derived with the issuer's own secret)."""
    altered = render_sample_front(fields or altered_fields(cert.facts.serial, cert.facts.issued_on)).image
    facts = cert.facts
    truth = BlockMap.derive(keyring.get(facts.key_id).scramble_secret, facts.issuer, facts.serial, facts.sheet_of)
    return rebuilt_back(cert, altered, truth)



def changed_blocks(genuine: np.ndarray, altered: np.ndarray) -> np.ndarray:
    """Indices of the front blocks where two fronts (RGB, any size) differ once fitted to the restored grid."""
    a, b = (cv2.cvtColor(fit_front(f), cv2.COLOR_RGB2GRAY).astype(np.int16) for f in (genuine, altered))
    diff = np.abs(a - b).reshape(spec.ROWS, spec.BLOCK, spec.COLS, spec.BLOCK).max(axis=(1, 3))
    return np.flatnonzero(diff.ravel() > 40)


STAMP_RED = (200, 40, 50)  # ink transmittance per channel (RGB), 255 none
GREY_TINT = (200, 200, 200)  # a grey felt-tip: the paper under it a fifth darker


def marked_over(back: np.ndarray, blocks: np.ndarray, block_map: BlockMap, length_mm: float = 16.0,
                ink: tuple[int, int, int] = STAMP_RED) -> np.ndarray:
    """A copy of the 300 dpi ``back`` with a stroke of ``ink`` (red stamp ink unless said), ``length_mm`` long and
    3 mm wide (longer than the 13 mm a mark must run to be taken for one), through the printed cell of every front
    block in ``blocks``: a forger hiding the blocks of a changed field under marks."""
    out = back.copy()
    stroke = np.zeros(back.shape[:2], np.uint8)
    half, width = PX(length_mm / 25.4 * spec.UNITS_PER_INCH) / 2, round(PX(3 / 25.4 * spec.UNITS_PER_INCH))
    for p in np.flatnonzero(np.isin(block_map.perm, blocks)):
        r, c = divmod(int(p), spec.COLS)
        cx, cy = PX(spec.GRID_X + (c + 0.5) * spec.PITCH), PX(spec.GRID_Y + (r + 0.5) * spec.PITCH)
        cv2.line(stroke, (round(cx - half), round(cy)), (round(cx + half), round(cy)), 255, width)
    cover = (stroke > 0)[..., None]
    return np.where(cover, out.astype(np.float32) * np.float32(ink) / 255, out).astype(np.uint8)
