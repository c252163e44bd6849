"""Drawing the printable back: markers, dot track, QR code, text and the scrambled image, at exact positions."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

from . import spec
from .code import DOCUMENT_TYPES, qr_matrix
from .fonts import find_cjk_font
from .model import CertificateFacts

INK = (0, 0, 0)


def page_size_px(dpi: float = spec.PRINT_DPI) -> tuple[int, int]:
    """(width, height) of an A4 page in pixels at ``dpi``."""
    return round(spec.units_to_px(spec.PAGE_W, dpi)), round(spec.units_to_px(spec.PAGE_H, dpi))


def fill_rect(canvas: np.ndarray, x0: float, y0: float, x1: float, y1: float, color: Sequence[int] = INK) -> None:
    """Fill a rectangle given in continuous pixel coordinates, with exact partial coverage on its edges."""
    i0, i1 = int(np.floor(x0)), int(np.ceil(x1))
    j0, j1 = int(np.floor(y0)), int(np.ceil(y1))
    xs = np.arange(i0, i1, dtype=np.float32)
    ys = np.arange(j0, j1, dtype=np.float32)
    wx = np.clip(np.minimum(xs + 1, x1) - np.maximum(xs, x0), 0, 1)
    wy = np.clip(np.minimum(ys + 1, y1) - np.maximum(ys, y0), 0, 1)
    alpha = (wy[:, None] * wx[None, :])[..., None]
    region = canvas[j0:j1, i0:i1].astype(np.float32)
    col = np.asarray(color, dtype=np.float32)
    canvas[j0:j1, i0:i1] = np.round(region * (1 - alpha) + col * alpha).astype(np.uint8)


def draw_matrix(canvas: np.ndarray, matrix: np.ndarray, x: float, y: float, module: float) -> None:
    """Draw a boolean module matrix (True = ink) with its top-left corner at (x, y) pixels, ``module`` px a module."""
    for r, c in zip(*np.nonzero(matrix), strict=True):
        fill_rect(canvas, x + c * module, y + r * module, x + (c + 1) * module, y + (r + 1) * module)


def draw_dots(canvas: np.ndarray, tracks: dict[str, list[tuple[float, float]]], dpi: float) -> None:
    """Draw a square dot of DOT_SIZE units at every centre (page units) of ``tracks``."""
    half = spec.DOT_SIZE / 2
    for centres in tracks.values():
        for cx, cy in centres:
            x0, y0, x1, y1 = (spec.units_to_px(v, dpi) for v in (cx - half, cy - half, cx + half, cy + half))
            fill_rect(canvas, x0, y0, x1, y1)


@functools.cache
def marker_matrix(marker_id: int) -> np.ndarray:
    """The 7 x 7 module pattern (True = ink) of ArUco marker ``marker_id`` from the format's dictionary."""
    dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, spec.MARKER_DICT))
    img = cv2.aruco.generateImageMarker(dictionary, marker_id, spec.MARKER_MODULES)
    return img < 128


@functools.cache
def _font(size: int, cjk: bool) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, bool]:
    """A font of ``size`` px and whether it has Japanese glyphs."""
    path = find_cjk_font("gothic") if cjk else None
    if path is not None:
        return ImageFont.truetype(str(path), size), True
    for candidate in ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",):
        if Path(candidate).exists():
            return ImageFont.truetype(candidate, size), False
    return ImageFont.load_default(size), False


def draw_text_lines(canvas: np.ndarray, box: tuple[float, float, float, float], lines: list[tuple[str, str]],
                    size_u: float, dpi: float) -> None:
    """Write lines in ``box`` (page units); each line is (Japanese, English) and the English one is used when no
    Japanese font is installed."""
    px = functools.partial(spec.units_to_px, dpi=dpi)
    size = max(8, round(px(size_u)))
    font, cjk = _font(size, True)
    x0, y0, x1, y1 = (round(px(v)) for v in box)
    region = Image.fromarray(canvas[y0:y1, x0:x1])
    draw = ImageDraw.Draw(region)
    y = 0
    for ja, en in lines:
        text = ja if cjk else en
        draw.text((0, y), text, fill=INK, font=font)
        y += round(size * 1.45)
    canvas[y0:y1, x0:x1] = np.asarray(region)


def render_back(design: np.ndarray, code: bytes, facts: CertificateFacts, dpi: float = spec.PRINT_DPI,
                strip: np.ndarray | None = None) -> np.ndarray:
    """The whole printable back (RGB) at ``dpi``: markers, code, text, dot track, the scrambled design image and,
    in format v2, the data strip's modules (``strip``, True = dark)."""
    width, height = page_size_px(dpi)
    canvas = np.full((height, width, 3), 255, np.uint8)
    px = functools.partial(spec.units_to_px, dpi=dpi)

    gx, gy = round(px(spec.GRID_X)), round(px(spec.GRID_Y))
    gw, gh = round(px(spec.GRID_W)), round(px(spec.GRID_H))
    if design.ndim == 2:
        design = cv2.cvtColor(design, cv2.COLOR_GRAY2RGB)
    canvas[gy:gy + gh, gx:gx + gw] = cv2.resize(design, (gw, gh), interpolation=cv2.INTER_CUBIC)

    draw_dots(canvas, spec.dot_centres(), dpi)

    for corner, rect in spec.marker_rects().items():
        draw_matrix(canvas, marker_matrix(spec.MARKER_IDS[corner]), px(rect.x), px(rect.y),
                    px(spec.MARKER_SIZE / spec.MARKER_MODULES))

    matrix = qr_matrix(code)
    bx0, by0, bx1, by1 = spec.QR_BOX
    side_u = matrix.shape[0] * spec.QR_MODULE
    if side_u + 8 * spec.QR_MODULE > bx1 - bx0:
        raise ValueError("the code does not fit its box: fields too long")
    qx = bx0 + ((bx1 - bx0) - side_u) / 2
    qy = by0 + ((by1 - by0) - side_u) / 2
    draw_matrix(canvas, matrix, px(qx), px(qy), px(spec.QR_MODULE))

    doc = DOCUMENT_TYPES.get(facts.document_type, facts.document_type)
    draw_text_lines(canvas, spec.TEXT_BOX, [
        (f"{doc}(裏面)", f"{facts.document_type} (back)"),
        (f"証明書番号 {facts.serial}", f"Serial {facts.serial}"),
        (f"発行者 {facts.issuer}", f"Issuer {facts.issuer}"),
        (f"発行日 {facts.issued_on.isoformat()}", f"Issued {facts.issued_on.isoformat()}"),
        (f"鍵 {facts.key_id} / 形式 v{facts.format_version}", f"Key {facts.key_id} / format v{facts.format_version}"),
        *([(f"{facts.sheets} 枚中 {facts.sheet} 枚目", f"Sheet {facts.sheet} of {facts.sheets}")]
          if facts.sheets and facts.sheets > 1 else []),
    ], 28, dpi)
    notice = [
        ("この面の画像は表面の内容を", "The image on this side encodes"),
        ("暗号化したスクランブル画像です。", "the front of this certificate."),
        ("確認サイトにスキャンを送ると", "Upload a scan of this side to the"),
        ("発行時の表面が復元されます。", "checking site to see the front as issued."),
    ]
    advice = ("四隅のマークと QR コードがすべて写るように、300 dpi でスキャンしてください。",
              "Scan at 300 dpi with all four corner marks and the QR code in the picture.")
    if strip is None:  # format v1
        draw_text_lines(canvas, spec.NOTICE_BOX, notice, 24, dpi)
        draw_text_lines(canvas, spec.FOOTER_BOX, [advice], 22, dpi)
        return canvas
    draw_text_lines(canvas, spec.NOTICE_BOX, [*notice, ("四隅のマークとコード、下の帯が", "Scan at 300 dpi with the corner"),
                                              ("すべて写るよう 300 dpi でスキャン。", "marks, the code and the strip.")], 24, dpi)
    draw_matrix(canvas, strip, px(spec.STRIP_X), px(spec.STRIP_Y), px(spec.STRIP_MODULE))
    draw_dots(canvas, spec.strip_dot_centres(), dpi)
    return canvas
