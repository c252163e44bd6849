"""Decoding uploads by content, with limits on bytes, pixels and pages, into OpenCV arrays (BGR or gray).

Every size is read from the file's header and checked before anything is decoded, so a decompression bomb is
refused without allocating its pixels. Colour JPEGs are decoded by libjpeg-turbo through simplejpeg; other JPEGs,
PNG, BMP and WebP by OpenCV (16-bit and alpha PNGs by Pillow); TIFF goes through Pillow, converted to 8 bits a strip
at a time; PDF pages are read and drawn by PDFium in a child process under an address-space limit and a deadline
(``_PdfChild``). Every decoder failure becomes a ``VerifyError``.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import math
import multiprocessing
import multiprocessing.connection
import multiprocessing.context
import re
import resource
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import simplejpeg
from PIL import Image, PngImagePlugin, TiffImagePlugin

from .errors import (
    CorruptFile,
    EmptyUpload,
    NotAPage,
    PdfEncrypted,
    PdfTooComplex,
    TooLarge,
    TooManyPages,
    TooManyPixels,
    UnsupportedFormat,
    VerifyError,
)
from .model import DecodedPage, Limits, Upload

# PDFium is not thread-safe: every call into it, in this package or elsewhere in the process, holds this lock.
# Re-entrant so that a garbage-collected page generator can close its document in a thread that holds the lock.
PDFIUM_LOCK = threading.RLock()

MEDIA_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "tiff": "image/tiff",
    "bmp": "image/bmp",
    "webp": "image/webp",
    "pdf": "application/pdf",
}

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_IEND = b"\x00\x00\x00\x00IEND\xaeB`\x82"
_TIFF_MAGICS = (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+")  # classic TIFF and BigTIFF
_BMP_HEADER_SIZES = {12, 16, 40, 52, 56, 64, 108, 124}  # BITMAPCOREHEADER .. BITMAPV5HEADER, OS/2 2.x
_JPEG_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}
_REDUCED = {  # JPEG DCT-domain downscaling: factor -> (colour flag, gray flag)
    2: (cv2.IMREAD_REDUCED_COLOR_2, cv2.IMREAD_REDUCED_GRAYSCALE_2),
    4: (cv2.IMREAD_REDUCED_COLOR_4, cv2.IMREAD_REDUCED_GRAYSCALE_4),
    8: (cv2.IMREAD_REDUCED_COLOR_8, cv2.IMREAD_REDUCED_GRAYSCALE_8),
}
_JPEG_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # not a stuffed 0xFF, a restart marker or fill
_JPEG_BETWEEN_SCANS = {0xC4, 0xCC, 0xDB, 0xDC, 0xDD, *range(0xE0, 0xF0), 0xFE}  # tables, DNL, APPn, comments
_JPEG_MAX_SCANS = 500  # libjpeg-turbo's suggested limit: each progressive scan is a pass over the whole image
MAX_ASPECT = 10  # long side over short side: A4 is 1.41, a phone photo of it at most about 2
_TIFF_MAX_SMALL_TILE = 1 << 20  # tiles up to this many pixels are fine even on a tiny image
_WEBP_MAX_CHUNKS = 64  # a still WebP has at most six; the rest of a hostile file is not walked
_PDF_LATE_HEADER = 1 << 16  # a PDF header this far in is named in the error (and refused)
_PDF_FULL_PAGE_TOLERANCE = 0.01  # an embedded JPEG covering the page to within 1 % of its size is the page
_PDF_MAX_OBJECTS_CHECKED = 5000  # image objects among the first N page objects are checked against the pixel limit
_PDF_FAST_COLORSPACES = {
    (pdfium_c.FPDF_COLORSPACE_DEVICEGRAY, 8),
    (pdfium_c.FPDF_COLORSPACE_DEVICERGB, 24),
    (pdfium_c.FPDF_COLORSPACE_ICCBASED, 8),
    (pdfium_c.FPDF_COLORSPACE_ICCBASED, 24),
}
_PDF_MASK = re.compile(rb"/S?Mask\s*[\d\[<]")  # an image's soft mask or colour-key mask (not "/SMask /None")
_PDF_DCT_TWEAK = re.compile(rb"/Decode\s*\[|/ColorTransform")  # JPEG streams a viewer does not show as-is
_NOT_SUPPORTED = (  # recognisable but refused formats, named in the error detail
    (b"GIF8", "GIF"),
    (b"PK\x03\x04", "ZIP (or an Office document)"),
    (b"\x00\x00\x00\x0cjP  \r\n\x87\n", "JPEG 2000"),
    (b"8BPS", "Photoshop"),
)


@dataclass(frozen=True)
class _Header:
    """What a raster file's header says: size as stored, EXIF orientation and how to decode it."""

    width: int
    height: int
    orientation: int = 1
    kind: str = "color"  # gray | color | alpha | alpha_gray | any (decode unchanged)
    depth: int = 8  # bits per sample


# --- sniffing and opening --------------------------------------------------------------------------------------


def sniff(data: bytes) -> tuple[str, str]:
    """The format and media type of an upload, from its leading magic bytes (never from its name)."""
    if not data:
        raise EmptyUpload("the upload has no bytes")
    head = bytes(data[:16])
    if head.startswith(b"\xff\xd8\xff"):
        fmt = "jpeg"
    elif head.startswith(_PNG_SIGNATURE):
        fmt = "png"
    elif head[:4] in _TIFF_MAGICS:
        fmt = "tiff"
    elif head.startswith(b"BM") and len(data) >= 18 and struct.unpack_from("<I", data, 14)[0] in _BMP_HEADER_SIZES:
        fmt = "bmp"
    elif head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        fmt = "webp"
    elif b"%PDF-" in bytes(data[:1024]) and not any(head.startswith(m) for m, _ in _NOT_SUPPORTED):
        fmt = "pdf"
    else:
        late = bytes(data[:_PDF_LATE_HEADER]).find(b"%PDF-")
        if late >= 1024:  # PDF readers, PDFium among them, look for the header in the first 1,024 bytes only
            raise UnsupportedFormat(f"a PDF header appears at byte {late}, after the first 1,024 bytes where PDF "
                                    "readers look for it: save the PDF again from the program that made it")
        raise UnsupportedFormat(f"the content is {_describe(bytes(data[:512]))}, not a supported image or PDF")
    return fmt, MEDIA_TYPES[fmt]


def open_upload(data: bytes, limits: Limits) -> Upload:
    """Check an upload's size, format and header-declared dimensions against ``limits`` without decoding pixels."""
    if not data:
        raise EmptyUpload("the upload has no bytes")
    if len(data) > limits.max_bytes:
        raise TooLarge(f"the file has {len(data)} bytes, the limit is {limits.max_bytes}",
                       byte_size=len(data), max_bytes=limits.max_bytes)
    fmt, media_type = sniff(data)
    if fmt == "pdf":
        width, height, pages = _pdf_summary(bytes(data), limits)
    elif fmt == "tiff":
        width, height, pages = _tiff_summary(data, limits)
    else:
        header = _raster_header(fmt, data)
        _check_pixels(header.width, header.height, limits.max_pixels)
        _check_shape(header.width, header.height)
        width, height = _oriented(header.width, header.height, header.orientation)
        pages = 1
    return Upload(media_type=media_type, format=fmt, sha256=hashlib.sha256(data).hexdigest(), byte_size=len(data),
                  width=width, height=height, page_count=pages)


def iter_pages(data: bytes, upload: Upload, limits: Limits, *, max_pixels: int | None = None,
               render: bool = False) -> Iterator[DecodedPage]:
    """Decode the pages of an opened upload lazily, in order, each at most ``max_pixels`` (downscaled if larger).
    ``render`` draws every PDF page at ``limits.pdf_render_dpi`` (as issuing needs), never taking a scan's own
    pixels at their resolution."""
    if max_pixels is not None and max_pixels < 1:
        raise ValueError("max_pixels must be positive")
    if upload.format == "pdf":
        yield from _iter_pdf(bytes(data), limits, max_pixels, render=render)
    elif upload.format == "tiff":
        yield from _iter_tiff(data, limits, max_pixels)
    else:
        # open_upload followed the JPEG's scans to its end already (and OpenCV refuses a cut JPEG too)
        header = _raster_header(upload.format, data, follow_scans=False)
        _check_pixels(header.width, header.height, limits.max_pixels)
        image, scale = _decode_raster(upload.format, data, header, max_pixels)
        yield DecodedPage(image=image, page_index=0, grayscale=image.ndim == 2, scale=scale)


def is_bilevel(image: np.ndarray) -> bool:
    """True for a 1-bit scan (a fax or a scanner's black-and-white mode: only black and white pixels), which loses the
    print's grey tones and thin strokes."""
    return image.ndim == 2 and np.unique(image[::97, ::89]).size <= 2


# --- limits and small helpers ----------------------------------------------------------------------------------


def _check_shape(width: int, height: int, what: str = "the image") -> None:
    """Refuse a picture far longer than wide (or the reverse): no page is, and decoders refuse such sizes."""
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise NotAPage(f"{what} has {width} x {height} pixels: no page has that shape", width=width, height=height)


def _check_pixels(width: int, height: int, max_pixels: int, what: str = "the image") -> None:
    """Refuse an image whose declared size exceeds the pixel limit (before anything is allocated)."""
    if width < 1 or height < 1:
        raise CorruptFile(f"{what} declares an empty size ({width} x {height} pixels)")
    if width * height > max_pixels:
        raise TooManyPixels(f"{what} has {width} x {height} pixels, the limit is {max_pixels}",
                            width=width, height=height, max_pixels=max_pixels)


@contextlib.contextmanager
def _decoder_errors(what: str) -> Iterator[None]:
    """Turn whatever a decoder raises (truncation, corruption, Pillow's bomb guard, cv2, PDFium) into a VerifyError."""
    try:
        yield
    except VerifyError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise TooManyPixels(f"{what} is too large to decode: {exc}") from exc
    except MemoryError as exc:
        raise TooManyPixels(f"{what} is too large to decode in memory") from exc
    except Exception as exc:  # any decoder failure on hostile input is the upload's fault, never a server error
        raise CorruptFile(f"{what} could not be decoded ({type(exc).__name__}: {str(exc)[:200]})") from exc


def _describe(head: bytes) -> str:
    """A short name for unsupported content, for the error detail."""
    for magic, name in _NOT_SUPPORTED:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        return "HEIF/AVIF or MP4"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if text.startswith((b"<svg", b"<?xml")):
        return "XML or SVG"
    if text.startswith((b"<!doctype html", b"<html")):
        return "HTML"
    try:
        head.decode("utf-8")
    except UnicodeDecodeError as exc:
        if b"\x00" in head or exc.start < len(head) - 3:  # not merely a character cut at the end of the sample
            return "of an unknown type"
    return "text"


def _oriented(width: int, height: int, orientation: int) -> tuple[int, int]:
    """Display size after an EXIF orientation: 5 to 8 swap the axes."""
    return (height, width) if orientation >= 5 else (width, height)


def _apply_orientation(image: np.ndarray, orientation: int) -> np.ndarray:
    """Turn stored pixels upright according to the EXIF/TIFF orientation tag (1 to 8)."""
    if orientation == 2:
        return cv2.flip(image, 1)
    if orientation == 3:
        return cv2.rotate(image, cv2.ROTATE_180)
    if orientation == 4:
        return cv2.flip(image, 0)
    if orientation == 5:
        return cv2.transpose(image)
    if orientation == 6:
        return cv2.rotate(image, cv2.ROTATE_90_CLOCKWISE)
    if orientation == 7:
        return cv2.transpose(cv2.rotate(image, cv2.ROTATE_180))
    if orientation == 8:
        return cv2.rotate(image, cv2.ROTATE_90_COUNTERCLOCKWISE)
    return image


def _tiff_orientation(tiff: bytes) -> int:
    """The Orientation tag (0x0112) of IFD0 in a TIFF-structured EXIF block; 1 when absent or unreadable."""
    if tiff.startswith(b"Exif\x00\x00"):
        tiff = tiff[6:]
    order = {b"II": "<", b"MM": ">"}.get(tiff[:2])
    if order is None or len(tiff) < 8 or struct.unpack_from(order + "H", tiff, 2)[0] != 42:
        return 1
    ifd = struct.unpack_from(order + "I", tiff, 4)[0]
    if ifd + 2 > len(tiff):
        return 1
    count = min(struct.unpack_from(order + "H", tiff, ifd)[0], (len(tiff) - ifd - 2) // 12)
    for i in range(count):
        tag, typ = struct.unpack_from(order + "HH", tiff, ifd + 2 + 12 * i)
        if tag == 0x0112 and typ == 3:
            value = struct.unpack_from(order + "H", tiff, ifd + 2 + 12 * i + 8)[0]
            return value if 1 <= value <= 8 else 1
    return 1


def _fit(width: int, height: int, max_pixels: int | None) -> tuple[int, int]:
    """The largest size with the same aspect that holds at most ``max_pixels`` pixels."""
    if max_pixels is None or width * height <= max_pixels:
        return width, height
    factor = math.sqrt(max_pixels / (width * height))
    return max(1, int(width * factor)), max(1, int(height * factor))


def _downscale(image: np.ndarray, max_pixels: int | None) -> tuple[np.ndarray, float]:
    """Shrink ``image`` with area averaging to at most ``max_pixels``; returns it and the scale applied."""
    height, width = image.shape[:2]
    new_w, new_h = _fit(width, height, max_pixels)
    if (new_w, new_h) == (width, height):
        return image, 1.0
    return cv2.resize(image, (new_w, new_h), interpolation=cv2.INTER_AREA), new_w / width


def _to_uint8(image: np.ndarray) -> np.ndarray:
    """8 bits per channel from whatever depth a decoder produced."""
    if image.dtype == np.uint8:
        return image
    if image.dtype == np.uint16:
        return (image >> 8).astype(np.uint8)
    if image.dtype.kind == "f":
        peak = 1.0 if float(np.nanmax(image, initial=0.0)) <= 1.0 else 255.0
        return np.clip(np.nan_to_num(image) * (255.0 / peak), 0, 255).astype(np.uint8)
    if image.dtype.kind in "iu":
        return (np.clip(image, 0, 65535).astype(np.uint32) >> 8).astype(np.uint8)
    raise CorruptFile(f"unsupported sample type {image.dtype}")


def _on_white(bgra: np.ndarray) -> np.ndarray:
    """Composite a BGRA image on white paper and drop the alpha channel."""
    alpha = bgra[..., 3]
    alpha3 = cv2.merge([alpha, alpha, alpha])
    paper = cv2.merge([255 - alpha] * 3)
    return cv2.add(cv2.multiply(bgra[..., :3], alpha3, scale=1 / 255), paper)


# --- raster headers (parsed here: fast, no allocation, no library warnings) ------------------------------------


def _raster_header(fmt: str, data: bytes, *, follow_scans: bool = True) -> _Header:
    """Read the header of a JPEG, PNG, BMP or WebP upload (for a JPEG, also check it is complete)."""
    parse = {"png": _png_header, "bmp": _bmp_header, "webp": _webp_header}.get(fmt)
    if parse is None and fmt != "jpeg":
        raise UnsupportedFormat(f"no decoder for format {fmt!r}")
    try:
        return _jpeg_header(data, follow_scans=follow_scans) if parse is None else parse(data)
    except (struct.error, IndexError) as exc:
        raise CorruptFile(f"the {fmt.upper()} header is cut short") from exc


def _jpeg_header(data: bytes, *, follow_scans: bool = True) -> _Header:
    """Walk the JPEG marker segments up to the first scan: frame size, components and EXIF orientation."""
    pos, size, components, orientation = 2, None, 0, 1
    while True:
        if pos + 4 > len(data):
            raise CorruptFile("the JPEG ends inside its header")
        if data[pos] != 0xFF:
            raise CorruptFile(f"the JPEG header is damaged (no marker at byte {pos})")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD8:  # markers without a length
            pos += 2
            continue
        if marker == 0xD9:
            raise CorruptFile("the JPEG ends before any image data")
        length = struct.unpack_from(">H", data, pos + 2)[0]
        if length < 2 or pos + 2 + length > len(data):
            raise CorruptFile("the JPEG ends inside its header")
        segment = data[pos + 4 : pos + 2 + length]
        if marker == 0xE1 and segment.startswith(b"Exif\x00\x00") and orientation == 1:
            orientation = _tiff_orientation(bytes(segment))
        elif marker in _JPEG_SOF and size is None:
            height, width = struct.unpack_from(">HH", segment, 1)
            components = segment[5]
            size = (width, height)
        elif marker == 0xDA:
            break
        pos += 2 + length
    if size is None:
        raise CorruptFile("the JPEG has no frame header")
    if follow_scans:
        _check_jpeg_scans(data, pos)
    return _Header(size[0], size[1], orientation, "gray" if components == 1 else "color")


def _check_jpeg_scans(data: bytes, pos: int) -> None:
    """Follow the scans from the first SOS at ``pos`` to the end-of-image marker, which a cut file never reaches."""
    # Some decoders accept a truncated JPEG silently. What follows the end marker (the video of a phone's motion
    # photo, maker trailers) is left alone.
    scans = 0
    for _ in range(4 * _JPEG_MAX_SCANS):
        marker = data[pos + 1]
        if marker == 0xD9:
            return
        if marker == 0xDA:
            scans += 1
            if scans > _JPEG_MAX_SCANS:
                raise CorruptFile(f"the JPEG has more than {_JPEG_MAX_SCANS} scans")
        elif marker not in _JPEG_BETWEEN_SCANS:
            raise CorruptFile(f"the JPEG image data is damaged (marker 0x{marker:02X} inside it)")
        found = _JPEG_MARKER.search(data, pos + 2 + struct.unpack_from(">H", data, pos + 2)[0])
        if found is None:
            raise CorruptFile("the JPEG is incomplete: it ends before its end-of-image marker")
        pos = found.start()
    raise CorruptFile("the JPEG has too many segments between its scans")


def _png_header(data: bytes) -> _Header:
    """Walk the PNG chunks before the image data: size, colour type, transparency and eXIf orientation."""
    if not data.startswith(_PNG_SIGNATURE):
        raise CorruptFile("the PNG signature is damaged")
    pos, ihdr, transparent, orientation = 8, None, False, 1
    while True:
        if pos + 8 > len(data):
            raise CorruptFile("the PNG ends before its image data")
        length, ctype = struct.unpack_from(">I4s", data, pos)
        if pos + 12 + length > len(data):
            raise CorruptFile(f"the PNG is incomplete: chunk {ctype!r} is cut short")
        body = data[pos + 8 : pos + 8 + length]
        if ihdr is None:
            if ctype != b"IHDR" or length != 13:
                raise CorruptFile("the PNG does not start with a valid IHDR chunk")
            ihdr = struct.unpack(">IIBB", body[:10])
        elif ctype == b"tRNS":
            transparent = True
        elif ctype == b"eXIf":
            orientation = _tiff_orientation(bytes(body))
        elif ctype in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    if data.find(_PNG_IEND, pos) < 0:
        raise CorruptFile("the PNG is incomplete: it has no end chunk")
    width, height, depth, colour = ihdr
    kind = {0: "gray", 2: "color", 3: "alpha" if transparent else "color", 4: "alpha_gray", 6: "alpha"}.get(colour)
    if kind is None:
        raise CorruptFile(f"the PNG declares an invalid colour type {colour}")
    return _Header(width, height, orientation, kind, depth)


def _bmp_header(data: bytes) -> _Header:
    """Read the BMP info header: size (bottom-up or top-down)."""
    if struct.unpack_from("<I", data, 14)[0] == 12:  # BITMAPCOREHEADER: 16-bit unsigned sizes
        width, height = struct.unpack_from("<HH", data, 18)
    else:
        width, height = struct.unpack_from("<ii", data, 18)
        compression = struct.unpack_from("<I", data, 30)[0]
        if compression in (4, 5):  # BI_JPEG, BI_PNG: a printer's wrapping around another format
            inner = "JPEG" if compression == 4 else "PNG"
            raise UnsupportedFormat(f"a BMP that wraps a {inner} stream (a format meant for printers) is not "
                                    f"supported: send the {inner} file itself")
    return _Header(width, abs(height), 1, "any")


def _webp_header(data: bytes) -> _Header:
    """Read the RIFF/WebP chunks: canvas size, alpha, animation and EXIF orientation."""
    riff_size = struct.unpack_from("<I", data, 4)[0]
    end = 8 + riff_size
    if end > len(data):
        raise CorruptFile(f"the WebP is incomplete: {len(data)} of {end} bytes")
    pos, size, alpha, orientation = 12, None, False, 1
    for _ in range(_WEBP_MAX_CHUNKS):
        if pos + 8 > end:
            break
        fourcc, length = struct.unpack_from("<4sI", data, pos)
        body = data[pos + 8 : pos + 8 + length]
        if len(body) < length:
            raise CorruptFile(f"the WebP is incomplete: chunk {fourcc!r} is cut short")
        if size is None:
            if fourcc == b"VP8X":
                flags = body[0]
                if flags & 0x02:
                    raise UnsupportedFormat("animated WebP files are not supported: send a still scan")
                alpha = bool(flags & 0x10)
                size = (int.from_bytes(body[4:7], "little") + 1, int.from_bytes(body[7:10], "little") + 1)
            elif fourcc == b"VP8 ":
                if body[3:6] != b"\x9d\x01\x2a":
                    raise CorruptFile("the WebP (lossy) header is damaged")
                w, h = struct.unpack_from("<HH", body, 6)
                size = (w & 0x3FFF, h & 0x3FFF)
            elif fourcc == b"VP8L":
                if body[0] != 0x2F:
                    raise CorruptFile("the WebP (lossless) header is damaged")
                bits = struct.unpack_from("<I", body, 1)[0]
                size = ((bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1)
                alpha = bool(bits >> 28 & 1)
            else:
                raise CorruptFile(f"the WebP starts with an unknown chunk {fourcc!r}")
        elif fourcc == b"EXIF":
            orientation = _tiff_orientation(bytes(body))
        pos += 8 + length + (length & 1)
    if size is None:
        raise CorruptFile("the WebP has no image chunk")
    return _Header(size[0], size[1], orientation, "alpha" if alpha else "color")


# --- raster decoding -------------------------------------------------------------------------------------------


def _decode_raster(fmt: str, data: bytes, header: _Header, max_pixels: int | None) -> tuple[np.ndarray, float]:
    """Decode a JPEG, PNG, BMP or WebP with OpenCV, upright, within ``max_pixels``; returns image and scale."""
    buffer = np.frombuffer(data, np.uint8)
    kind, scale = header.kind, 1.0
    if kind == "gray":
        flags = cv2.IMREAD_GRAYSCALE
    elif kind == "color":
        flags = cv2.IMREAD_COLOR
    else:
        flags = cv2.IMREAD_UNCHANGED
    if fmt == "jpeg" and max_pixels is not None and header.width * header.height > max_pixels:
        factor = next((f for f in (2, 4, 8) if -(-header.width // f) * -(-header.height // f) <= max_pixels), 8)
        flags = _REDUCED[factor][kind == "gray"]
        scale = 1 / factor
    image: np.ndarray | None
    if fmt == "png" and (header.depth > 8 or kind in ("alpha", "alpha_gray")):
        # OpenCV would decode these at 16 bits and with alpha: 8 bytes a pixel, then several full copies on the
        # way to 8-bit BGR. Pillow reads 16-bit colour as 8-bit and the rest is converted a strip at a time.
        with _decoder_errors("the PNG image"):
            image = _pil_to_cv(PngImagePlugin.PngImageFile(io.BytesIO(data)))
        image, extra = _downscale(image, max_pixels)
        return _apply_orientation(image, header.orientation), extra
    with _decoder_errors(f"the {fmt.upper()} image"):
        image = _decode_jpeg_colour(data) if fmt == "jpeg" and flags == cv2.IMREAD_COLOR else None
        if image is None:
            image = cv2.imdecode(buffer, flags | cv2.IMREAD_IGNORE_ORIENTATION)
        if image is None:
            raise CorruptFile(f"the {fmt.upper()} image data is damaged or incomplete")
        image = _normalize_channels(_to_uint8(image), kind)
    image, extra = _downscale(image, max_pixels)
    return _apply_orientation(image, header.orientation), scale * extra


def _decode_jpeg_colour(data: bytes) -> np.ndarray | None:
    """A colour JPEG decoded to BGR by libjpeg-turbo through simplejpeg, about a fifth faster than OpenCV, with
    chroma upsampled by replication: the pipeline reads colour at half resolution and luminance is untouched.
    None for what simplejpeg declines (CMYK, 12-bit, arithmetic coding): OpenCV decodes those."""
    try:
        return simplejpeg.decode_jpeg(data, "BGR", fastupsample=True)
    except ValueError:
        return None


def _normalize_channels(image: np.ndarray, kind: str) -> np.ndarray:
    """BGR or gray from what ``IMREAD_UNCHANGED`` returned: alpha composited on white, stray alpha dropped."""
    if image.ndim == 2:
        return image
    if image.shape[2] == 4:
        if kind in ("alpha", "alpha_gray"):
            image = _on_white(image)
            return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if kind == "alpha_gray" else image
        return np.ascontiguousarray(image[..., :3])  # BMP: the fourth byte is padding more often than alpha
    if image.shape[2] == 3:
        return image
    raise CorruptFile(f"unexpected number of channels ({image.shape[2]})")


# --- TIFF (Pillow: CCITT fax, LZW, packbits, 16-bit, CMYK, multi-page) ----------------------------------------


def _tiff_frames(data: bytes, limits: Limits) -> Iterator[TiffImagePlugin.TiffImageFile]:
    """The full-resolution frames of a TIFF, positioned in turn (reduced-resolution thumbnails skipped)."""
    with _decoder_errors("the TIFF header"):
        # The plugin class directly: Image.open would run Pillow's own bomb check (and warn) before ours runs.
        tiff = TiffImagePlugin.TiffImageFile(io.BytesIO(data))
    for index in range(1, 2 * limits.max_pages + 2):
        if not tiff.tag_v2.get(254, 0) & 1:
            yield tiff
        with _decoder_errors("the TIFF header"):
            try:
                tiff.seek(index)
            except EOFError:
                return
    raise TooManyPages(f"the TIFF has more than {limits.max_pages} pages", max_pages=limits.max_pages)


def _tiff_summary(data: bytes, limits: Limits) -> tuple[int, int, int]:
    """Size of the first page and number of pages of a TIFF, every page checked against the limits."""
    first, pages = None, 0
    for frame in _tiff_frames(data, limits):
        pages += 1
        if pages > limits.max_pages:
            raise TooManyPages(f"the TIFF has more than {limits.max_pages} pages", max_pages=limits.max_pages)
        width, height = _check_tiff_frame(frame, limits.max_pixels, f"page {pages} of the TIFF")
        if first is None:
            first = _oriented(width, height, _tiff_frame_orientation(frame))
    if first is None:
        raise CorruptFile("the TIFF has no full-resolution page")
    return first[0], first[1], pages


def _check_tiff_frame(frame: TiffImagePlugin.TiffImageFile, max_pixels: int, what: str) -> tuple[int, int]:
    """Stored width and height of the current TIFF frame, refused if it or its tiles exceed the pixel budget."""
    width, height = frame.tag_v2.get(256), frame.tag_v2.get(257)
    if not (isinstance(width, int) and isinstance(height, int)):
        raise CorruptFile(f"{what} has no valid size")
    _check_pixels(width, height, max_pixels, what)
    _check_shape(width, height, what)
    # libtiff allocates and inflates a whole tile at once: a tile far larger than the image is a bomb of its own.
    tile_w, tile_h = frame.tag_v2.get(322), frame.tag_v2.get(323)
    if tile_w is not None or tile_h is not None:
        if not (isinstance(tile_w, int) and isinstance(tile_h, int) and tile_w > 0 and tile_h > 0) \
                or tile_w * tile_h > max(width * height, _TIFF_MAX_SMALL_TILE):
            raise CorruptFile(f"{what} declares tiles of {tile_w} x {tile_h} pixels, larger than the image")
    return width, height


def _tiff_frame_orientation(frame: TiffImagePlugin.TiffImageFile) -> int:
    """The Orientation tag of the current TIFF frame."""
    value = frame.tag_v2.get(274, 1)
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _iter_tiff(data: bytes, limits: Limits, max_pixels: int | None) -> Iterator[DecodedPage]:
    """Decode each full-resolution TIFF page in turn."""
    for index, frame in enumerate(_tiff_frames(data, limits)):
        if index >= limits.max_pages:
            raise TooManyPages(f"the TIFF has more than {limits.max_pages} pages", max_pages=limits.max_pages)
        _check_tiff_frame(frame, limits.max_pixels, f"page {index + 1} of the TIFF")
        orientation = _tiff_frame_orientation(frame)
        with _decoder_errors(f"page {index + 1} of the TIFF"):
            image = _pil_to_cv(frame)
        if 274 not in frame.tag_v2:  # Pillow turned the frame upright while loading (and dropped the tag)
            orientation = 1
        image, scale = _downscale(_apply_orientation(image, orientation), max_pixels)
        yield DecodedPage(image=image, page_index=index, grayscale=image.ndim == 2, scale=scale)


_STRIP_PIXELS = 1 << 20  # pixels converted at once: the full-depth copy of a strip stays a few MB


def _pil_to_cv(im: Image.Image) -> np.ndarray:
    """A decoded Pillow image as an OpenCV array: gray for 1-bit and gray modes, BGR otherwise (alpha on white).

    Converted a strip of rows at a time into the 8-bit result, so that a 16-bit or floating-point picture never
    exists at full depth beside Pillow's own copy: the peak is Pillow's image plus the 8-bit result."""
    im.load()
    mode = im.mode
    gray = mode in ("1", "L", "LA", "La", "I", "F") or mode.startswith("I;16")
    width, height = im.size
    out = np.empty((height, width) if gray else (height, width, 3), np.uint8)
    rows = max(1, _STRIP_PIXELS // max(1, width))
    peak = None
    if mode == "F":  # floating-point samples: 0..1 or 0..255, decided on the whole image, read a strip at a time
        peak = 1.0 if all(float(np.nanmax(np.asarray(im.crop((0, y, width, min(height, y + rows)))), initial=0.0))
                          <= 1.0 for y in range(0, height, rows)) else 255.0
    for y in range(0, height, rows):
        strip = im.crop((0, y, width, min(height, y + rows)))
        out[y : y + strip.size[1]] = _pil_strip(strip, mode, peak)
    return out


def _pil_strip(im: Image.Image, mode: str, peak: float | None) -> np.ndarray:
    """One strip of ``_pil_to_cv``."""
    if mode == "1":
        return np.asarray(im.convert("L"))
    if mode == "L":
        return np.asarray(im)
    if mode.startswith("I;16"):
        return _to_uint8(np.asarray(im).astype(np.uint16))
    if mode == "F":
        return np.clip(np.nan_to_num(np.asarray(im)) * (255.0 / (peak or 1.0)), 0, 255).astype(np.uint8)
    if mode == "I":
        return _to_uint8(np.asarray(im))
    if mode in ("LA", "La"):
        return cv2.cvtColor(_on_white(cv2.cvtColor(np.asarray(im.convert("RGBA")), cv2.COLOR_RGBA2BGRA)),
                            cv2.COLOR_BGR2GRAY)
    if mode in ("RGBA", "RGBa", "PA") or (mode == "P" and "transparency" in im.info):
        return _on_white(cv2.cvtColor(np.asarray(im.convert("RGBA")), cv2.COLOR_RGBA2BGRA))
    rgb = im if mode == "RGB" else im.convert("RGB")
    return cv2.cvtColor(np.asarray(rgb), cv2.COLOR_RGB2BGR)


# --- PDF (PDFium, serialised) ----------------------------------------------------------------------------------


def _open_pdf(data: bytes) -> pdfium.PdfDocument:
    """Load a PDF document (caller holds ``PDFIUM_LOCK``, or is the PDF child); password protection is PdfEncrypted,
    damage CorruptFile."""
    try:
        return pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise PdfEncrypted("the PDF is password-protected or encrypted") from exc
        raise CorruptFile(f"the PDF is damaged or incomplete ({exc})") from exc


def _pdf_summary(data: bytes, limits: Limits) -> tuple[int, int, int]:
    """Size of the first page at the render resolution, and the page count, of a PDF."""
    with PDFIUM_LOCK:
        pdf = _open_pdf(data)
        try:
            with _decoder_errors("the PDF"):
                pages = len(pdf)
                if pages > limits.max_pages:
                    raise TooManyPages(f"the PDF has {pages} pages, the limit is {limits.max_pages}",
                                       pages=pages, max_pages=limits.max_pages)
                width_pt, height_pt = pdf.get_page_size(0)
        finally:
            pdf.close()
    width, height = _pdf_pixels(width_pt, height_pt, limits.pdf_render_dpi / 72)
    return width, height, pages


def _pdf_pixels(width_pt: float, height_pt: float, scale: float) -> tuple[int, int]:
    """Pixel size of a page rendered at ``scale`` pixels per point."""
    if not (width_pt > 0 and height_pt > 0 and math.isfinite(width_pt * height_pt)):
        raise CorruptFile(f"the PDF page has an invalid size ({width_pt} x {height_pt} points)")
    return max(1, round(width_pt * scale)), max(1, round(height_pt * scale))


@dataclass
class _PdfPlan:
    """What the PDF child took out of one page; the rest of the work happens in the parent."""

    jpeg: bytes | None = None  # the page's own JPEG stream, to decode with OpenCV
    pixels: np.ndarray | None = None  # the page's own image at its native resolution, still to turn and fit
    rendered: np.ndarray | None = None  # the page rendered by PDFium: final
    rotation: int = 0  # the page's /Rotate, for the first two
    scale: float = 1.0  # for ``rendered``


def _iter_pdf(data: bytes, limits: Limits, max_pixels: int | None, *, render: bool = False
              ) -> Iterator[DecodedPage]:
    """Yield PDF pages one by one. PDFium reads and draws the pages in a child process under an address-space limit
    and a deadline per page (``_PdfChild``): a page whose drawing escapes them is ``PdfTooComplex``."""
    cap = limits.max_pixels if max_pixels is None else min(max_pixels, limits.max_pixels)
    # Image masks and /Decode or /ColorTransform tweaks live in stream dictionaries, which are never compressed:
    # where they appear, the page's own pixels are not what a viewer shows, so such documents are rendered.
    own_pixels = not render and _PDF_MASK.search(data) is None
    own_jpeg = own_pixels and _PDF_DCT_TWEAK.search(data) is None
    with _PdfChild(data, limits, cap) as child:
        count = child.count
        if count > limits.max_pages:
            raise TooManyPages(f"the PDF has {count} pages, the limit is {limits.max_pages}",
                               pages=count, max_pages=limits.max_pages)
        ahead: _PdfPlan | None = None  # the next page's plan, when taken already
        if count:
            child.ask(0, pixels=own_pixels, jpeg=own_jpeg)
        for index in range(count):
            what = f"page {index + 1} of the PDF"
            plan = ahead or child.answer(what)
            ahead = None
            if index + 1 < count:  # the child reads the next page while this one is verified
                child.ask(index + 1, pixels=own_pixels, jpeg=own_jpeg)
            page = _finish_page(plan, limits, cap, what)
            if page is None:  # the page's JPEG was not one OpenCV could read: let PDFium draw it
                if index + 1 < count:
                    ahead = child.answer(f"page {index + 2} of the PDF")
                page = _finish_page(child.take(index, pixels=False, jpeg=False), limits, cap, what)
            assert page is not None  # a page PDFium rendered is never None
            page.page_index = index
            yield page


# PDFium has no budget of its own: ten nested forms that each draw the next ten times, or a form that draws itself,
# hold it for hours and take tens of GiB while it merely loads the page. Pages are therefore read and drawn in a
# child process forked from a small server process started once (never from a worker that holds other requests'
# memory), with an address-space limit and a deadline that the parent enforces by killing it.
PDF_CHILD_MEMORY = 1536 << 20  # bytes of address space a child may add to what it starts with
PDF_PAGE_SECONDS = 5.0  # to read or draw one page (a 300 dpi A4 page of ordinary vector content takes < 0.5 s)
PDF_DOCUMENT_SECONDS = 15.0  # for all the pages of one upload, counting the waits for the child only (opening the
# document, then each page's wait), not the verification of the pages in between, so a stack is not cut short by
# the work done on its backs. The child reads one page ahead while the parent verifies the one before: a page's
# deadline then starts when the parent waits for it, and its work is bounded by that deadline plus one page's
# verification
_PDF_CONTEXT: multiprocessing.context.ForkServerContext | None = None
_PDF_CONTEXT_LOCK = threading.Lock()


def _pdf_context() -> multiprocessing.context.ForkServerContext:
    """The forkserver context, its server preloaded with this module (so a child starts in a few milliseconds).
    As with any multiprocessing child, a script that reads PDFs keeps its own work under
    ``if __name__ == "__main__":`` (each child imports the main script; gunicorn's and the CLI's are safe)."""
    global _PDF_CONTEXT
    with _PDF_CONTEXT_LOCK:
        if _PDF_CONTEXT is None:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload([__name__])
            _PDF_CONTEXT = context
        return _PDF_CONTEXT


class _PdfChild:
    """One PDF document open in a child process; ``take`` asks it for one page's plan, within the deadlines."""

    def __init__(self, data: bytes, limits: Limits, cap: int) -> None:
        context = _pdf_context()
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(target=_pdf_child_main, args=(child_conn, data, limits, cap), daemon=True)
        self._process.start()
        child_conn.close()
        self._document_left = PDF_DOCUMENT_SECONDS
        self.count = self._answer("the PDF")

    def __enter__(self) -> _PdfChild:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close(kill=exc[0] is not None)  # an error: the child may be busy with a page nobody awaits

    def close(self, *, kill: bool = False) -> None:
        """End the child: closing the pipe ends a child that waits for a request (the forkserver reaps it, so nobody
        waits here); ``kill`` ends one that is still drawing."""
        with contextlib.suppress(OSError):
            self._conn.close()
        if kill and self._process.is_alive():
            self._process.kill()
            self._process.join(1.0)

    def __del__(self) -> None:  # a page generator dropped half-way still ends its child
        with contextlib.suppress(Exception):
            self.close()

    def take(self, index: int, *, pixels: bool, jpeg: bool) -> _PdfPlan:
        self.ask(index, pixels=pixels, jpeg=jpeg)
        return self.answer(f"page {index + 1} of the PDF")

    def ask(self, index: int, *, pixels: bool, jpeg: bool) -> None:
        """Ask for one page's plan without waiting (``answer`` takes it): the child works meanwhile."""
        try:
            self._conn.send((index, pixels, jpeg))
        except OSError as exc:
            raise self._too_complex(f"page {index + 1} of the PDF", "the renderer stopped") from exc

    def answer(self, what: str) -> _PdfPlan:
        """The plan of the page asked for first among those not yet answered."""
        plan: _PdfPlan = self._answer(what)
        return plan

    def _answer(self, what: str) -> Any:
        timeout = min(PDF_PAGE_SECONDS, self._document_left)
        started = time.monotonic()
        try:
            ready = timeout > 0 and self._conn.poll(timeout)
            self._document_left -= time.monotonic() - started
            if not ready:
                raise self._too_complex(what, f"it was not drawn within {PDF_PAGE_SECONDS:g} s")
            kind, *payload = self._conn.recv()
        except (EOFError, OSError) as exc:  # the child ran out of address space (PDFium aborts) or crashed
            raise self._too_complex(what, f"drawing it needs more than {PDF_CHILD_MEMORY >> 20} MiB") from exc
        if kind == "error":
            cls, detail, context = payload
            raise cls(detail, **context)
        return payload[0]

    def _too_complex(self, what: str, why: str) -> PdfTooComplex:
        self.close(kill=True)
        return PdfTooComplex(f"{what} is too complex: {why}", seconds=PDF_PAGE_SECONDS,
                             memory_mib=PDF_CHILD_MEMORY >> 20)


def _pdf_child_main(conn: multiprocessing.connection.Connection, data: bytes, limits: Limits, cap: int) -> None:
    """In the child: limit the address space, open the document, then answer page requests until told to stop."""
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    budget = _address_space() + PDF_CHILD_MEMORY
    if hard == resource.RLIM_INFINITY or budget < hard:
        resource.setrlimit(resource.RLIMIT_AS, (budget, hard))
    try:
        pdf = _open_pdf(data)
        with _decoder_errors("the PDF"):
            conn.send(("ok", len(pdf)))
        while True:
            try:
                index, pixels, jpeg = conn.recv()
            except EOFError:
                return
            try:
                with _decoder_errors(f"page {index + 1} of the PDF"):
                    conn.send(("ok", _take_page(pdf, index, limits, cap, pixels=pixels, jpeg=jpeg)))
            except VerifyError as exc:
                conn.send(("error", type(exc), exc.detail, exc.context))
    except VerifyError as exc:
        conn.send(("error", type(exc), exc.detail, exc.context))


def _address_space() -> int:
    """This process's virtual memory size in bytes (VmSize)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmSize:"):
                return int(line.split()[1]) * 1024
    return 0


def _take_page(pdf: pdfium.PdfDocument, index: int, limits: Limits, cap: int, *, pixels: bool,
               jpeg: bool) -> _PdfPlan:
    """In the PDF child: a scanned page's own JPEG or pixels when allowed, else the page rendered within ``cap``."""
    page = pdf[index]
    try:
        _check_page_images(page, limits)
        image = _full_page_image(page) if pixels else None
        if image is not None:
            rotation = page.get_rotation()
            if jpeg and _plain_jpeg(image):
                return _PdfPlan(jpeg=bytes(image.get_data(decode_simple=True)), rotation=rotation)
            own = _image_pixels(image)
            if own is not None:
                return _PdfPlan(pixels=own, rotation=rotation)
        width_pt, height_pt = page.get_size()
        full_w, full_h = _pdf_pixels(width_pt, height_pt, limits.pdf_render_dpi / 72)
        width, height = _fit(full_w, full_h, cap)
        return _PdfPlan(rendered=_render_page(page, width, height), scale=width / full_w)
    finally:
        page.close()


def _check_page_images(page: pdfium.PdfPage, limits: Limits) -> None:
    """Refuse a page whose embedded images declare more pixels than the limit (PDFium would decode them all)."""
    for number, obj in enumerate(page.get_objects(max_depth=4)):
        if number >= _PDF_MAX_OBJECTS_CHECKED:
            break
        if isinstance(obj, pdfium.PdfImage):
            size: tuple[int, int] = obj.get_px_size()  # (width, height); named so the checker sees two arguments
            _check_pixels(*size, limits.max_pixels, "an image inside the PDF")


def _full_page_image(page: pdfium.PdfPage) -> pdfium.PdfImage | None:
    """The page's one image when the page is nothing but an upright, opaque, full-page picture (a scan)."""
    if pdfium_c.FPDFPage_GetAnnotCount(page) > 0 or pdfium_c.FPDFPage_HasTransparency(page):
        return None
    image = None
    for obj in page.get_objects(max_depth=1):
        if obj.type == pdfium_c.FPDF_PAGEOBJ_TEXT and \
                pdfium_c.FPDFTextObj_GetTextRenderMode(obj) == pdfium_c.FPDF_TEXTRENDERMODE_INVISIBLE:
            continue  # the OCR layer a scanner adds under the picture
        if image is not None or not isinstance(obj, pdfium.PdfImage):
            return None
        image = obj
    if image is None or pdfium_c.FPDFPageObj_HasTransparency(image):
        return None
    if image.get_metadata().colorspace == pdfium_c.FPDF_COLORSPACE_UNKNOWN:  # a stencil mask painted in a colour
        return None
    a, b, c, d, _e, _f = image.get_matrix().get()
    if not (a > 0 and d > 0 and abs(b) <= 1e-6 * a and abs(c) <= 1e-6 * d):
        return None
    left, bottom, right, top = image.get_bounds()
    box_l, box_b, box_r, box_t = page.get_cropbox()
    tol_x, tol_y = (box_r - box_l) * _PDF_FULL_PAGE_TOLERANCE, (box_t - box_b) * _PDF_FULL_PAGE_TOLERANCE
    if max(abs(left - box_l), abs(right - box_r)) > tol_x or max(abs(bottom - box_b), abs(top - box_t)) > tol_y:
        return None
    return image


def _plain_jpeg(image: pdfium.PdfImage) -> bool:
    """Whether the image is a gray or RGB JPEG stream that OpenCV decodes exactly as a viewer shows it."""
    if image.get_filters(skip_simple=True) != ["DCTDecode"]:
        return False
    metadata = image.get_metadata()
    return (metadata.colorspace, metadata.bits_per_pixel) in _PDF_FAST_COLORSPACES


def _image_pixels(image: pdfium.PdfImage) -> np.ndarray | None:
    """The image decoded by PDFium at its native resolution (colour spaces, palettes, fax and JBIG2 handled)."""
    bitmap = image.get_bitmap(render=False)
    bitmap.warn_on_close = False  # closing frees PDFium's buffer: safe, the pixels are copied out first
    try:
        pixels = bitmap.to_numpy()
        if bitmap.format == pdfium_c.FPDFBitmap_Gray:
            return np.array(pixels)
        if bitmap.format in (pdfium_c.FPDFBitmap_BGR, pdfium_c.FPDFBitmap_BGRx):
            return np.array(pixels[..., :3])
        return None
    finally:
        bitmap.close()


def _render_page(page: pdfium.PdfPage, width: int, height: int) -> np.ndarray:
    """Render a page (its /Rotate applied) into a white BGR array of exactly ``width`` x ``height``."""
    out = np.empty((height, width, 3), np.uint8)
    # ignore: an ndarray is a writable buffer; numpy's stubs declare its __buffer__ only from Python 3.12 on
    buffer = (ctypes.c_ubyte * out.size).from_buffer(out)  # type: ignore[arg-type]
    bitmap = pdfium.PdfBitmap.new_native(width, height, pdfium_c.FPDFBitmap_BGR, buffer=buffer)
    try:
        bitmap.fill_rect((255, 255, 255, 255), 0, 0, width, height)
        pdfium_c.FPDF_RenderPageBitmap(bitmap, page, 0, 0, width, height, 0, pdfium_c.FPDF_ANNOT)
    finally:
        bitmap.close()
    return out


def _finish_page(plan: _PdfPlan, limits: Limits, cap: int, what: str) -> DecodedPage | None:
    """Outside the lock: decode, fit and turn what ``_take_page`` took; None when OpenCV cannot read the JPEG."""
    if plan.rendered is not None:
        return DecodedPage(image=plan.rendered, grayscale=False, scale=plan.scale)
    if plan.jpeg is not None:
        try:
            header = _jpeg_header(plan.jpeg)
        except (struct.error, IndexError) as exc:
            raise CorruptFile(f"the scan inside {what} is damaged") from exc
        except CorruptFile as exc:
            raise CorruptFile(f"the scan inside {what}: {exc.detail}") from exc
        _check_pixels(header.width, header.height, limits.max_pixels, f"the scan inside {what}")
        # PDF viewers ignore EXIF orientation inside a page's JPEG, and so must we.
        header = _Header(header.width, header.height, 1, header.kind)
        try:
            image, scale = _decode_raster("jpeg", plan.jpeg, header, cap)
        except CorruptFile:
            return None
    else:
        assert plan.pixels is not None  # a plan is rendered, a JPEG or the page's own pixels
        image, scale = _downscale(plan.pixels, cap)
    if plan.rotation:
        image = cv2.rotate(image, {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180,
                                   270: cv2.ROTATE_90_COUNTERCLOCKWISE}[plan.rotation])
    return DecodedPage(image=image, grayscale=image.ndim == 2, scale=scale)
