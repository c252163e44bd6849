"""Typed values that cross the package boundary: limits, decoded pages, certificate facts, restorations."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MIN_DPI = 120  # below this the block grid cannot be resolved: the back is refused (``ResolutionTooLow``)


@dataclass(frozen=True)
class Limits:
    """Bounds on one upload, checked before any expensive decoding."""

    max_bytes: int = 40 * 1024 * 1024
    max_pixels: int = 60_000_000  # an A4 page at 600 dpi is 34.8 MP
    max_pages: int = 10
    min_dpi: float = MIN_DPI
    pdf_render_dpi: int = 300


@dataclass
class DecodedPage:
    """One page of an upload, decoded to 8 bits (EXIF orientation applied)."""

    image: np.ndarray  # H x W x 3 uint8 BGR (OpenCV order), or H x W uint8 gray for gray and 1-bit sources
    page_index: int = 0
    grayscale: bool = False  # the source had no colour (L, 1-bit or equal channels)
    scale: float = 1.0  # decoded size / original size (< 1 when decoded reduced to fit a pixel budget)


@dataclass
class Upload:
    """What intake learnt about an upload: its format and how to get its pages."""

    media_type: str  # e.g. "image/jpeg", "application/pdf"
    format: str  # short name: jpeg, png, tiff, bmp, webp, pdf
    sha256: str
    byte_size: int
    width: int  # of the first page, in pixels
    height: int
    page_count: int = 1


@dataclass(frozen=True)
class CertificateFacts:
    """What the signed code on the back says about the certificate."""

    format_version: int
    issuer: str
    key_id: str
    serial: str
    document_type: str
    issued_on: dt.date
    signature: str = "valid"
    issuer_name: str | None = None  # the verifying site's name for the issuer code (its key ring), if it has one
    sheet: int | None = None  # format v4 on: this sheet's number (from 1) and the number of sheets of the certificate;
    sheets: int | None = None  # None for earlier versions, whose codes do not say

    @property
    def sheet_of(self) -> tuple[int, int] | None:
        """(sheet, sheets) where the code carries them, which every keyed derivation of the sheet takes in."""
        return (self.sheet, self.sheets) if self.sheet is not None and self.sheets is not None else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "format_version": self.format_version,
            "issuer": self.issuer,
            "issuer_name": self.issuer_name,
            "key_id": self.key_id,
            "serial": self.serial,
            "document_type": self.document_type,
            "issued_on": self.issued_on.isoformat(),
            "signature": self.signature,
            "sheet": self.sheet,
            "sheets": self.sheets,
        }


@dataclass
class Restoration:
    """A successful restoration: the front as issued, the facts of its code and how good the scan was."""

    image: np.ndarray  # H x W x 3 uint8 RGB, the whole front page (A4 aspect)
    certificate: CertificateFacts
    quality: dict[str, float] = field(default_factory=dict)
    upload: Upload | None = None
    page_index: int = 0
    timings_ms: dict[str, float] = field(default_factory=dict)
    # Whether the signature binds the front's content (format v2) and how closely each bound region matched.
    content: dict[str, Any] = field(default_factory=lambda: {"bound": False})
    # The regions the signature binds (format v2 on), by name: their boxes (x0, y0, x1, y1) on the restored front.
    regions: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
