"""Hostile uploads made in memory: truncated and corrupt files of every accepted type, wrong types behind right
names, decompression bombs and oversized PDFs. Shared by the test-client suite and the live-server suite."""

from __future__ import annotations

import io
import random
import struct
import zlib

import numpy as np
from PIL import Image

PIL_FORMATS = {"jpeg": ("JPEG", "jpg"), "png": ("PNG", "png"), "tiff": ("TIFF", "tif"), "bmp": ("BMP", "bmp"),
               "webp": ("WEBP", "webp")}


def small_page(fmt: str) -> bytes:
    """A small but real picture (not a certificate back) in ``fmt`` (jpeg, png, tiff, bmp, webp or pdf)."""
    rng = np.random.default_rng(7)
    image = Image.fromarray(rng.integers(0, 255, (400, 300, 3), dtype=np.uint8))
    out = io.BytesIO()
    if fmt == "pdf":
        image.save(out, "PDF", resolution=72)
    else:
        image.save(out, PIL_FORMATS[fmt][0])
    return out.getvalue()


def truncated(data: bytes) -> bytes:
    return data[: max(16, len(data) * 2 // 5)]


def corrupted(data: bytes) -> bytes:
    """The first 64 bytes (magic and headers) kept, the rest overwritten with noise."""
    rng = random.Random(11)
    return data[:64] + bytes(rng.getrandbits(8) for _ in range(len(data) - 64))


def png_bomb(width: int = 40_000, height: int = 40_000) -> bytes:
    """A valid 1-bit PNG of width x height zeros: ~200 KB on the wire, 1.6 GB as 8-bit RGB."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    row = b"\0" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def jpeg_claiming(width: int = 60_000, height: int = 60_000) -> bytes:
    """A small JPEG whose frame header claims a huge size."""
    data = bytearray(small_page("jpeg"))
    i = 2
    while i < len(data):
        marker, length = data[i + 1], struct.unpack(">H", data[i + 2:i + 4])[0]
        if marker in (0xC0, 0xC1, 0xC2):
            data[i + 5:i + 9] = struct.pack(">HH", height, width)
            return bytes(data)
        i += 2 + length
    raise AssertionError("no SOF marker")


def pdf(pages: int = 1, width_pt: float = 595, height_pt: float = 842) -> bytes:
    """A minimal valid PDF with ``pages`` empty pages of the given size (written by hand: no dependency)."""
    objects = ["<< /Type /Catalog /Pages 2 0 R >>"]
    kids = " ".join(f"{3 + i} 0 R" for i in range(pages))
    objects.append(f"<< /Type /Pages /Kids [{kids}] /Count {pages} >>")
    for _ in range(pages):
        objects.append(f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {width_pt} {height_pt}] >>")
    out = io.BytesIO()
    out.write(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(out.tell())
        out.write(f"{number} 0 obj\n{body}\nendobj\n".encode())
    xref = out.tell()
    out.write(f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode())
    for offset in offsets:
        out.write(f"{offset:010d} 00000 n \n".encode())
    out.write(f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode())
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (64, 64), "white").save(out, "GIF")
    return out.getvalue()


# (name, bytes, filename, expected status, expected codes)
def cases() -> list[tuple[str, bytes, str, int | None, set[str]]]:
    """Every hostile upload with what the site must answer (status None: any 4xx with a pipeline code)."""
    readable = {"corrupt_file", "resolution_too_low", "markers_not_found", "grid_not_found", "code_unreadable"}
    out: list[tuple[str, bytes, str, int | None, set[str]]] = []
    for fmt in ("jpeg", "png", "tiff", "bmp", "webp", "pdf"):
        ext = PIL_FORMATS[fmt][1] if fmt in PIL_FORMATS else "pdf"
        page = small_page(fmt)
        out.append((f"truncated-{fmt}", truncated(page), f"back.{ext}", None, readable))
        out.append((f"corrupt-{fmt}", corrupted(page), f"back.{ext}", None, readable))
        out.append((f"not-a-back-{fmt}", page, f"back.{ext}", 422, readable - {"corrupt_file"}))
    out += [
        ("text-as-png", b"This is a scan, honestly.\n" * 40, "back.png", 415, {"unsupported_format"}),
        ("html-as-jpg", b"<!doctype html><script>alert(1)</script>" * 10, "back.jpg", 415, {"unsupported_format"}),
        ("zip-as-pdf", b"PK\x03\x04" + b"\0" * 200, "back.pdf", 415, {"unsupported_format"}),
        ("gif-as-png", gif(), "back.png", 415, {"unsupported_format"}),
        ("svg-as-png", b'<svg xmlns="http://www.w3.org/2000/svg" width="9" height="9"/>', "back.png", 415,
         {"unsupported_format"}),
        ("elf-as-tif", b"\x7fELF\x02\x01\x01" + b"\0" * 300, "back.tif", 415, {"unsupported_format"}),
        ("magic-only-png", b"\x89PNG\r\n\x1a\n", "back.png", None, {"corrupt_file"}),
        ("magic-only-pdf", b"%PDF-1.7\n", "back.pdf", None, {"corrupt_file"}),
        ("png-bomb", png_bomb(), "back.png", 413, {"too_many_pixels"}),
        ("jpeg-claiming-huge", jpeg_claiming(), "back.jpg", None, {"too_many_pixels", "corrupt_file"}),
        ("pdf-too-many-pages", pdf(pages=500), "back.pdf", 413, {"too_many_pages"}),
        # 5 m square: either refused by its pixel count or rendered small and found to hold no back
        ("pdf-huge-page", pdf(width_pt=14_400, height_pt=14_400), "back.pdf", None,
         {"too_many_pixels", "markers_not_found", "resolution_too_low"}),
        ("empty", b"", "back.png", 400, {"empty_upload"}),
    ]
    return out
