"""The paper as a kiosk prints it: the certificate's front over the background security pattern (地紋).

The pattern belongs to the paper, not to the certificate: a kiosk prints it under every sheet, and it is made not to
survive copying (a latent 複写 comes out on a photocopy). What the issuer signs and the back carries is the front
without it (``verify.issuing.issue``); the paper front a person holds, and the ``front.png`` and
``certificate.pdf`` that ``python -m verify issue`` writes for printing, carry it.
"""

from __future__ import annotations

import dataclasses
import functools
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw

from .fonts import find_cjk_font, load_font

if TYPE_CHECKING:
    from .issuing import IssuedCertificate

__all__ = ["on_paper", "print_on_ground"]

A4_WIDTH_MM = 210.0
_GROUND_TINT = (96, 140, 178)


@functools.lru_cache(maxsize=2)
def _ground(width: int, height: int, dpi: int, face: str, latent_word: str) -> np.ndarray:
    """Pale guilloche mesh with a latent word (複写) in dots of the same tone that a photocopier brings out."""
    pitch = max(3, round(0.85 * dpi / 25.4))
    tile_w = pitch * max(4, round(6.0 * dpi / 25.4 / pitch))
    tile_h = pitch * max(4, round(9.0 * dpi / 25.4 / pitch))
    yy, xx = np.mgrid[0:tile_h, 0:tile_w].astype(np.float64)
    half = max(0.8, 0.12 * dpi / 25.4) / 2
    wave = 1.3 * pitch * np.sin(2 * np.pi * (xx / tile_w + yy / tile_h))
    lines = np.zeros_like(xx)
    for sign in (1.0, -1.0):
        f = (yy + sign * wave) / pitch
        dist = np.abs(f - np.round(f)) * pitch
        lines = np.maximum(lines, np.clip(half + 0.5 - dist, 0, 1))
    # dots of the same mean tone as the mesh, so the latent word hardly shows on the original
    dist = np.hypot((xx % pitch) - (pitch - 1) / 2, (yy % pitch) - (pitch - 1) / 2)
    lo, hi = 0.0, pitch / 2
    for _ in range(30):
        radius = (lo + hi) / 2
        if np.clip(radius + 0.5 - dist, 0, 1).mean() < lines.mean():
            lo = radius
        else:
            hi = radius
    dots = np.clip(lo + 0.5 - dist, 0, 1)

    def tint(level: np.ndarray) -> np.ndarray:
        alpha = 0.27 * level[..., None]
        rgb = 255.0 - alpha * (255.0 - np.array(_GROUND_TINT, dtype=np.float64))
        return np.round(rgb).astype(np.uint8)

    reps = (-(-height // tile_h), -(-width // tile_w), 1)
    mesh = np.tile(tint(lines), reps)[:height, :width]
    dotted = np.tile(tint(dots), reps)[:height, :width]

    scale = 4
    small = Image.new("L", (-(-width // scale), -(-height // scale)), 0)
    draw = ImageDraw.Draw(small)
    size = max(8, round(16 * dpi / 25.4 / scale))
    font = load_font(face, size)
    step_x, step_y = round(60 * dpi / 25.4 / scale), round(42 * dpi / 25.4 / scale)
    for row, y in enumerate(range(-step_y // 2, small.height + step_y, step_y)):
        for x in range(-step_x + (row % 2) * step_x // 2, small.width + step_x, step_x):
            draw.text((x, y), latent_word, fill=255, font=font, anchor="lm")
    latent = np.asarray(small) > 127
    latent = np.repeat(np.repeat(latent, scale, axis=0), scale, axis=1)[:height, :width]
    out = np.where(latent[..., None], dotted, mesh)
    out.flags.writeable = False
    return out


def print_on_ground(page: np.ndarray, latin: bool = False) -> np.ndarray:
    """``page`` (RGB, A4 at any resolution) as a kiosk prints it: over the background security pattern, ink
    multiplying the pattern's tint. The pattern is a property of the paper, as the kiosk prints it on every sheet,
    not of the certificate: the back carries the page without it (see ``verify.issuing.issue``)."""
    h, w = page.shape[:2]
    face = "" if latin else str(find_cjk_font("gothic") or find_cjk_font("mincho") or "")
    ground = _ground(w, h, max(72, round(w * 25.4 / A4_WIDTH_MM)), face, "複写" if face else "COPY")
    return ((page.astype(np.uint16) * ground + 127) // 255).astype(np.uint8)


def on_paper(cert: IssuedCertificate) -> IssuedCertificate:
    """The certificate as a kiosk prints it: its front over the background security pattern, its back as issued."""
    return dataclasses.replace(cert, front=print_on_ground(cert.front))
