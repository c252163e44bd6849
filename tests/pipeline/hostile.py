"""Small hostile files, written byte by byte: the regression tests and bench/abuse.py share them."""

from __future__ import annotations

import io
import struct
import zlib

import numpy as np
from PIL import Image

A4_POINTS = b"[0 0 595 842]"


def pdf(objects: list[bytes]) -> bytes:
    """A PDF of the given numbered objects (1 is the catalog), with a correct cross-reference table."""
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def _stream(entries: bytes, data: bytes) -> bytes:
    return b"<< " + entries + b" /Length %d >>\nstream\n" % len(data) + data + b"\nendstream"


def _page_drawing(form: int) -> list[bytes]:
    """Catalog, page tree, one A4 page whose content draws form XObject ``form`` (objects 1 to 4)."""
    return [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox " + A4_POINTS + b" /Contents 4 0 R"
            b" /Resources << /XObject << /X %d 0 R >> >> >>" % form,
            _stream(b"", b"/X Do")]


def pdf_form_bomb(levels: int = 10, fanout: int = 10) -> bytes:
    """``levels`` nested form XObjects, each drawing the next ``fanout`` times: fanout ** levels draws."""
    objects = _page_drawing(5)
    for level in range(levels):
        if level == levels - 1:
            objects.append(_stream(b"/Type /XObject /Subtype /Form /BBox " + A4_POINTS, b"0 0 1 1 re f"))
        else:
            objects.append(_stream(b"/Type /XObject /Subtype /Form /BBox " + A4_POINTS
                                   + b" /Resources << /XObject << /X %d 0 R >> >>" % (6 + level),
                                   b"q /X Do Q " * fanout))
    return pdf(objects)


def pdf_joined(*documents: bytes) -> bytes:
    """One PDF with the pages of ``documents`` in order, joined by PDFium without drawing them (a stack in which
    one page is hostile)."""
    import pypdfium2

    joined = pypdfium2.PdfDocument.new()
    for document in documents:
        joined.import_pages(pypdfium2.PdfDocument(document))
    out = io.BytesIO()
    joined.save(out)
    return out.getvalue()


def pdf_self_drawing_form() -> bytes:
    """A form XObject that draws itself twice, shrunk a little each time."""
    return pdf(_page_drawing(5) + [_stream(b"/Type /XObject /Subtype /Form /BBox " + A4_POINTS
                                           + b" /Resources << /XObject << /X 5 0 R >> >>",
                                           b"q 0.9 0 0 0.9 1 1 cm /X Do /X Do Q")])


def pdf_encrypted() -> bytes:
    """A PDF under the standard security handler (no password known)."""
    return (b"%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
            b"2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
            b"3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>> endobj\n"
            b"4 0 obj <</Filter/Standard/V 1/R 2/O<" + b"00" * 32 + b">/U<" + b"11" * 32 + b">/P -4>> endobj\n"
            b"trailer <</Root 1 0 R/Size 5/Encrypt 4 0 R/ID[<00112233445566778899aabbccddeeff>"
            b"<00112233445566778899aabbccddeeff>]>>\n%%EOF\n")


def checkerboard(size: int = 165) -> np.ndarray:
    """A one-pixel black and white checkerboard (gray uint8)."""
    return (np.indices((size, size)).sum(0) % 2 * 255).astype(np.uint8)


def checkerboard_png(size: int = 165) -> bytes:
    out = io.BytesIO()
    Image.fromarray(checkerboard(size)).convert("1").save(out, "PNG", optimize=True)
    return out.getvalue()


def checkerboard_tiff(pages: int = 10, size: int = 165) -> bytes:
    frames = [Image.fromarray(checkerboard(size)).convert("1") for _ in range(pages)]
    out = io.BytesIO()
    frames[0].save(out, "TIFF", save_all=True, append_images=frames[1:], compression="packbits")
    return out.getvalue()


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_raw(width: int, height: int, depth: int, colour: int, row: bytes, extra: bytes = b"") -> bytes:
    """A PNG whose every row is ``row`` (filter byte included), compressed a row at a time (no big buffer)."""
    packer = zlib.compressobj(9)
    idat = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, depth, colour, 0, 0, 0))
            + extra + _chunk(b"IDAT", idat) + _chunk(b"IEND", b""))


def png16_rgba(side: int = 7745) -> bytes:
    """A white, opaque 16-bit RGBA PNG of ``side`` squared pixels (7745: 59.99 MP, just inside the limit)."""
    return png_raw(side, side, 16, 6, b"\x00" + b"\xff" * (8 * side))


def png_one_row(width: int = 60_000_000) -> bytes:
    """A valid gray PNG ``width`` pixels wide and one high."""
    return png_raw(width, 1, 8, 0, b"\x00" + b"\xff" * width)


def float_tiff(side: int = 7745) -> bytes:
    """A 32-bit floating-point gray TIFF, deflated."""
    out = io.BytesIO()
    Image.new("F", (side, side), 1.0).save(out, "TIFF", compression="tiff_adobe_deflate")
    return out.getvalue()


def bmp_with_jpeg() -> bytes:
    """A BMP whose pixels are a JPEG stream (BI_JPEG compression, meant for printers)."""
    out = io.BytesIO()
    Image.new("RGB", (16, 16), "white").save(out, "JPEG")
    stream = out.getvalue()
    info = struct.pack("<IiiHHIIiiII", 40, 16, 16, 1, 0, 4, len(stream), 2835, 2835, 0, 0)
    return b"BM" + struct.pack("<IHHI", 54 + len(stream), 0, 0, 54) + info + stream


def apng(size: int = 16) -> bytes:
    """An animated PNG of two frames; its default image (the IDAT) is white."""
    row = b"\x00" + b"\xff" * size
    control = struct.pack(">IIIIIHHBB", 0, size, size, 0, 0, 1, 10, 0, 0)
    later = struct.pack(">IIIIIHHBB", 1, size, size, 0, 0, 1, 10, 0, 0)
    frame = zlib.compress(row * size)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0))
            + _chunk(b"acTL", struct.pack(">II", 2, 0)) + _chunk(b"fcTL", control) + _chunk(b"IDAT", frame)
            + _chunk(b"fcTL", later) + _chunk(b"fdAT", struct.pack(">I", 2) + frame) + _chunk(b"IEND", b""))
