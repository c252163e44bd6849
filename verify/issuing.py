"""Issuing: a front page in, a signed printable back out (PNG pages and an A4 PDF)."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from pathlib import Path

import cv2
import img2pdf
import numpy as np

from . import spec
from .code import CodePayload, sign_payload
from .derive import BlockMap
from .keys import KeyRing
from .model import CertificateFacts
from .output import encode_image
from .render import render_back
from .scramble import scramble

A4_POINTS = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))


@dataclass
class IssuedCertificate:
    """The two printed sides of one certificate and the facts its code carries."""

    front: np.ndarray  # RGB, A4 at 300 dpi
    back: np.ndarray  # RGB, A4 at 300 dpi
    facts: CertificateFacts
    code: bytes

    def pdf_bytes(self) -> bytes:
        """An A4 PDF: the front, then the back, embedded losslessly."""
        pages = [encode_image(self.front, "png"), encode_image(self.back, "png")]
        return img2pdf.convert(pages, layout_fun=img2pdf.get_layout_fun(A4_POINTS))

    def save(self, out_dir: str | Path) -> dict[str, Path]:
        """Write front.png, back.png and certificate.pdf into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"front": out / "front.png", "back": out / "back.png", "pdf": out / "certificate.pdf"}
        paths["front"].write_bytes(encode_image(self.front, "png"))
        paths["back"].write_bytes(encode_image(self.back, "png"))
        paths["pdf"].write_bytes(self.pdf_bytes())
        return paths


def fit_front(front: np.ndarray) -> np.ndarray:
    """The front resized to the restored grid (FRONT_W x FRONT_H), padded with white to keep its aspect ratio."""
    if front.ndim == 2:
        front = cv2.cvtColor(front, cv2.COLOR_GRAY2RGB)
    h, w = front.shape[:2]
    scale = min(spec.FRONT_W / w, spec.FRONT_H / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    small = cv2.resize(front, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.full((spec.FRONT_H, spec.FRONT_W, 3), 255, np.uint8)
    x, y = (spec.FRONT_W - nw) // 2, (spec.FRONT_H - nh) // 2
    out[y:y + nh, x:x + nw] = small
    return out


def new_serial(issued_on: dt.date) -> str:
    """A fresh serial: issue date and ten random digits."""
    return f"{issued_on:%Y%m%d}-{secrets.randbelow(10**10):010d}"


def issue(keyring: KeyRing, *, front: np.ndarray | None = None, serial: str | None = None, issuer: str = "990001",
          key_id: str | None = None, document_type: str = "residence", issued_on: dt.date | None = None) -> IssuedCertificate:
    """Make a certificate's printable back from its front (RGB); without ``front`` a sample 住民票の写し is drawn."""
    issued_on = issued_on or dt.date.today()
    serial = serial or new_serial(issued_on)
    key = keyring.get(key_id) if key_id else keyring.default_signing_key()
    if front is None:
        from .sample import default_fields, render_sample_front

        front = render_sample_front(default_fields(serial=serial, issued_on=issued_on)).image
    payload = CodePayload(issuer=issuer, key_id=key.key_id, serial=serial, document_type=document_type,
                          issued_on=issued_on)
    code = sign_payload(payload, keyring)
    design = scramble(fit_front(front), BlockMap.derive(key.scramble_secret, issuer, serial))
    facts = payload.facts()
    return IssuedCertificate(front=front, back=render_back(design, code, facts), facts=facts, code=code)
