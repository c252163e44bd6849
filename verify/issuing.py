"""Issuing: a front page in, a signed printable back out (PNG pages and an A4 PDF)."""

from __future__ import annotations

import datetime as dt
import importlib.util
import secrets
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import cv2
import numpy as np

from . import content, spec, strip
from .code import CodePayload, sign_payload
from .derive import BlockMap, strip_key
from .errors import ConfigurationError, TooManyPixels, UnsupportedFormat
from .intake import iter_pages, open_upload
from .keys import KeyRing
from .model import CertificateFacts, Limits
from .output import encode_image
from .render import render_back
from .scramble import scramble

# QR generation and the PDF: the `issue` extra, imported where they are used, so that verifying needs neither.
ISSUING_MODULES = ("segno", "img2pdf")
MAX_TEXT_BYTES = 1024  # of one bound field's text: a field, not a document (the strip holds 666 bytes in all)


@dataclass
class IssuedCertificate:
    """The two printed sides of one certificate and the facts its code carries."""

    front: np.ndarray  # RGB: the front page as issued (as given, or the sample): what the back carries
    back: np.ndarray  # RGB, A4 at 300 dpi
    facts: CertificateFacts
    code: bytes
    fingerprint: content.Fingerprint | None = None  # formats v2, v3: what the signature binds the back to

    def pdf_bytes(self) -> bytes:
        """An A4 PDF: the front, then the back, embedded losslessly."""
        return duplex_pdf([self])

    def save(self, out_dir: str | Path, pdf: bool = True) -> dict[str, Path]:
        """Write front.png, back.png and (with ``pdf``) certificate.pdf into ``out_dir``."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        paths = {"front": out / "front.png", "back": out / "back.png"}
        paths["front"].write_bytes(encode_image(self.front, "png"))
        paths["back"].write_bytes(encode_image(self.back, "png"))
        if pdf:
            paths["pdf"] = out / "certificate.pdf"
            paths["pdf"].write_bytes(self.pdf_bytes())
        return paths


def duplex_pdf(sheets: Sequence[IssuedCertificate]) -> bytes:
    """An A4 PDF of the sheets of one certificate in order, each front followed by its back (as a duplex printer
    takes them), embedded losslessly."""
    import img2pdf

    a4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))
    pages = [encode_image(side, "png") for sheet in sheets for side in (sheet.front, sheet.back)]
    return img2pdf.convert(pages, layout_fun=img2pdf.get_layout_fun(a4))


def _placement(shape: tuple[int, ...]) -> tuple[float, int, int, int, int]:
    """How a front of ``shape`` sits on the restored grid: scale, x, y, width and height in grid pixels."""
    h, w = shape[:2]
    scale = min(spec.FRONT_W / w, spec.FRONT_H / h)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    return scale, (spec.FRONT_W - nw) // 2, (spec.FRONT_H - nh) // 2, nw, nh


def fit_front(front: np.ndarray) -> np.ndarray:
    """The front resized to the restored grid (FRONT_W x FRONT_H), padded with white to keep its aspect ratio."""
    if front.ndim == 2:
        front = cv2.cvtColor(front, cv2.COLOR_GRAY2RGB)
    _, x, y, nw, nh = _placement(front.shape)
    small = cv2.resize(front, (nw, nh), interpolation=cv2.INTER_AREA)
    out = np.full((spec.FRONT_H, spec.FRONT_W, 3), 255, np.uint8)
    out[y:y + nh, x:x + nw] = small
    return out


def regions_on_grid(front_shape: tuple[int, ...], regions: dict[str, tuple[int, int, int, int]]
                    ) -> dict[str, tuple[float, float, float, float]]:
    """Boxes given in the front's own pixels, carried to restored-front pixels as ``fit_front`` places it."""
    scale, x, y, _, _ = _placement(front_shape)
    return {name: (x + x0 * scale, y + y0 * scale, x + x1 * scale, y + y1 * scale)
            for name, (x0, y0, x1, y1) in regions.items()}


def new_serial(issued_on: dt.date) -> str:
    """A fresh serial: issue date and ten random digits."""
    return f"{issued_on:%Y%m%d}-{secrets.randbelow(10**10):010d}"


def fronts_from_pdf(data: bytes, limits: Limits | None = None) -> list[np.ndarray]:
    """The pages of a municipality's PDF as fronts to issue (RGB, drawn at ``limits.pdf_render_dpi``, 300 dpi).

    The PDF is read as an upload is, by PDFium in a child process under the same bounds (bytes, pages, pixels,
    memory, time), and a bad one raises the same errors (``PdfEncrypted``, ``TooManyPages``, ``PdfTooComplex``,
    ``CorruptFile``, ``UnsupportedFormat`` for content that is no PDF). A page too large to draw within the pixel
    limit at that resolution is refused (``TooManyPixels``), never issued smaller than its regions were measured."""
    limits = limits or Limits()
    upload = open_upload(data, limits)
    if upload.format != "pdf":
        raise UnsupportedFormat(f"the front is {upload.format.upper()}, not a PDF")
    fronts = []
    for page in iter_pages(data, upload, limits, render=True):
        if page.scale < 1:
            raise TooManyPixels(f"page {page.page_index + 1} of the PDF has more than {limits.max_pixels} pixels at "
                                f"{limits.pdf_render_dpi} dpi", max_pixels=limits.max_pixels)
        fronts.append(cv2.cvtColor(page.image, cv2.COLOR_BGR2RGB))
    return fronts


SAMPLE_ISSUER = "990001"  # the fictitious issuer code of the sample certificate


def _check_issuing_modules() -> None:
    """``ConfigurationError`` naming the extra when an installation for verifying only is asked to issue."""
    missing = [name for name in ISSUING_MODULES if importlib.util.find_spec(name) is None]
    if missing:
        raise ConfigurationError(f"issuing needs {' and '.join(missing)}, which this installation lacks: "
                                 "pip install 'certverify[issue]'")


def issue(keyring: KeyRing, *, front: np.ndarray | None = None, serial: str | None = None, issuer: str = SAMPLE_ISSUER,
          key_id: str | None = None, document_type: str = "residence", issued_on: dt.date | None = None,
          regions: dict[str, tuple[int, int, int, int]] | None = None, texts: dict[str, str] | None = None,
          version: int = spec.FORMAT_VERSION, sheet: tuple[int, int] = (1, 1)) -> IssuedCertificate:
    """Make a certificate's printable back from its front (RGB); without ``front`` a sample 住民票の写し is drawn.

    ``regions`` names the boxes of the front (in its own pixels) whose content the signature binds, such as the
    name, address and date fields; without them the whole front is bound, coarsely. ``texts`` gives the text
    printed in some of those regions ("昭和55年4月1日"): the back carries it, encrypted, and a verification shows
    it beside the restored front. The sample names its personal fields and their text. ``sheet`` is (this sheet's
    number, the number of sheets) of a certificate that fills several: each sheet is issued with the same serial
    and gets its own back. ``version=3`` makes a back that carries no sheet number, ``version=2`` one that binds
    regions without text, ``version=1`` one that binds no content.

    The back carries the front as given. The background security pattern (地紋) a kiosk prints under the paper front
    belongs to the paper, not to the certificate, and is made not to survive copying: it is not issued, and the
    restored front shows the certificate's content, as the checking site of the kiosk service does. The paper copy
    with the pattern is ``verify.paper.on_paper(cert)``."""
    _check_issuing_modules()
    if version not in spec.VERSIONS:
        raise ValueError(f"format version {version} is not one of {spec.VERSIONS}")
    issued_on = issued_on or dt.date.today()
    serial = serial or new_serial(issued_on)
    key = keyring.get(key_id) if key_id else keyring.default_signing_key()
    if front is None:
        from .sample import default_fields, protected_regions, protected_texts, render_sample_front

        sample = render_sample_front(default_fields(serial=serial, issued_on=issued_on))
        front = sample.image
        if regions is None:
            regions = protected_regions(sample)
            if texts is None and version >= 3:
                texts = protected_texts(sample)
    if texts and version < 3:
        raise ValueError(f"a format v{version} back carries no text: issue format v3")
    if front.ndim == 2:
        front = cv2.cvtColor(front, cv2.COLOR_GRAY2RGB)
    fitted = fit_front(front)
    payload = CodePayload(issuer=issuer, key_id=key.key_id, serial=serial, document_type=document_type,
                          issued_on=issued_on, version=version, sheet=sheet[0], sheets=sheet[1])
    fp, strip_modules, digest = None, None, b""
    if version >= 2:
        boxes: Mapping[str, tuple[float, float, float, float]] = (
            regions_on_grid(front.shape, regions) if regions else content.whole_page())
        _check_texts(texts or {}, boxes)
        skey = strip_key(key.scramble_secret, issuer, serial, issued_on, payload.sheet_of) if version >= 3 else None
        fp, data = content.fitting_fingerprint(cv2.cvtColor(fitted, cv2.COLOR_RGB2GRAY), boxes, strip.CAPACITY,
                                               texts=texts, version=version, key=skey)
        strip_modules, digest = strip.encode(data), strip.digest(data)
    payload = replace(payload, content_digest=digest)
    code = sign_payload(payload, keyring)
    design = scramble(fitted, BlockMap.derive(key.scramble_secret, issuer, serial, payload.sheet_of))
    facts = replace(payload.facts(), issuer_name=key.issuer_name(issuer))
    back = render_back(design, code, facts, strip=strip_modules)
    return IssuedCertificate(front=front, back=back, facts=facts, code=code, fingerprint=fp)


def _check_texts(texts: dict[str, str], regions: Mapping[str, tuple[float, float, float, float]]) -> None:
    """ValueError unless every text belongs to a named region and can be carried."""
    for name, text in texts.items():
        if name not in regions:
            raise ValueError(f"text for {name!r}, which is not one of the bound regions")
        if not isinstance(text, str) or len(text.encode("utf-8")) > MAX_TEXT_BYTES:
            raise ValueError(f"the text of {name!r} must be a string of at most {MAX_TEXT_BYTES} bytes in UTF-8")
        if any(ch != "\n" and unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text):
            raise ValueError(f"the text of {name!r} holds control or unassigned characters")
