"""Intake: uploads decoded by content into upright BGR/gray arrays, within limits, every failure a VerifyError."""

from __future__ import annotations

import hashlib
import io
import struct
import threading
import tracemalloc
import zlib

import cv2
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image, ImageOps

from verify import intake
from verify.errors import (
    CorruptFile,
    EmptyUpload,
    PdfEncrypted,
    TooLarge,
    TooManyPages,
    TooManyPixels,
    UnsupportedFormat,
    VerifyError,
)
from verify.intake import iter_pages, open_upload, sniff
from verify.model import Limits, Upload

LIMITS = Limits()


# --- inputs, all made here -------------------------------------------------------------------------------------


def page_bgr(height: int = 120, width: int = 80) -> np.ndarray:
    """An asymmetric colour test page (BGR): orientation mistakes and channel swaps change it."""
    img = np.full((height, width, 3), 255, np.uint8)
    img[: height // 4, : width // 2] = (255, 0, 0)  # blue, top left
    img[height // 2 :, width // 2 :] = (0, 0, 255)  # red, bottom right
    img[height // 3 : height // 2, :] = (0, 160, 0)  # green band
    img[-6:, :10] = 0
    return img


def page_gray(height: int = 120, width: int = 80) -> np.ndarray:
    return cv2.cvtColor(page_bgr(height, width), cv2.COLOR_BGR2GRAY)


def document_bgr(height: int, width: int) -> np.ndarray:
    """A page that compresses like a scanned document: paper, lines of 'text', a coloured seal."""
    rng = np.random.default_rng(7)
    img = np.full((height, width, 3), 245, np.uint8)
    for y in range(height // 10, height - height // 10, max(8, height // 60)):
        x = width // 10
        while x < width * 0.85:
            w = int(rng.integers(width // 80 + 2, width // 25 + 3))
            img[y : y + max(2, height // 150), x : x + w] = 20
            x += w + width // 100 + 1
    cv2.circle(img, (width * 3 // 4, height // 6), max(4, width // 20), (40, 40, 200), max(1, width // 200))
    noise = rng.normal(0, 3, img.shape)
    return np.clip(img + noise, 0, 255).astype(np.uint8)


def pil_bytes(image: Image.Image, fmt: str, **kwargs) -> bytes:
    buf = io.BytesIO()
    image.save(buf, fmt, **kwargs)
    return buf.getvalue()


def rgb(bgr: np.ndarray) -> Image.Image:
    return Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))


def jpeg(bgr: np.ndarray, quality: int = 95) -> bytes:
    return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, quality])[1].tobytes()


def assert_same_jpeg_picture(image: np.ndarray, data: bytes) -> None:
    """The picture OpenCV decodes from ``data``: colours that differ only where chroma was upsampled by
    replication instead of smoothing, so the same luminance except along the edges of saturated colours, where a
    channel clips."""
    opencv = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    assert image.shape == opencv.shape and image.dtype == np.uint8
    gray = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(int) - cv2.cvtColor(opencv, cv2.COLOR_BGR2GRAY)
    assert np.mean(np.abs(gray) > 1) < 0.03
    assert np.abs(image.astype(int) - opencv).mean() < 2


def exif_bytes(orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif.tobytes()


def decode(data: bytes, limits: Limits = LIMITS, **kwargs) -> list:
    upload = open_upload(data, limits)
    return list(iter_pages(data, upload, limits, **kwargs))


def decode_one(data: bytes, limits: Limits = LIMITS, **kwargs):
    pages = decode(data, limits, **kwargs)
    assert len(pages) == 1
    return pages[0]


def failure(data: bytes, limits: Limits = LIMITS) -> VerifyError | None:
    """The VerifyError opening and decoding ``data`` raises (None if it decodes); anything else fails the test."""
    try:
        decode(data, limits)
    except VerifyError as exc:
        return exc
    return None


def png_chunk(ctype: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + ctype + body + struct.pack(">I", zlib.crc32(ctype + body))


def bomb_png(width: int = 100_000, height: int = 100_000) -> bytes:
    """A valid-looking PNG header for a gigapixel image with a few hundred bytes of zlib'd zero rows."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    rows = zlib.compress(b"\x00" * (width + 1) * 4, 9)
    return (intake._PNG_SIGNATURE + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", rows)
            + png_chunk(b"IEND", b""))


def tiny_tiff(width: int, height: int, tile: int | None = None) -> bytes:
    """A hand-written uncompressed 8-bit gray TIFF header declaring ``width`` x ``height`` with one byte of data."""
    entries = [(256, 4, 1, width), (257, 4, 1, height), (258, 3, 1, 8), (259, 3, 1, 1), (262, 3, 1, 1),
               (273, 4, 1, 8), (277, 3, 1, 1), (278, 4, 1, height), (279, 4, 1, min(width * height, 2**32 - 1))]
    if tile:  # deflate tiles of tile x tile pixels instead of strips
        entries = entries[:3] + [(259, 3, 1, 8)] + entries[4:5] + entries[6:7] + [
            (322, 4, 1, tile), (323, 4, 1, tile), (324, 4, 1, 8), (325, 4, 1, 1)]
    ifd = struct.pack("<H", len(entries))
    for tag, typ, count, value in entries:
        ifd += struct.pack("<HHII", tag, typ, count, value) if typ == 4 else struct.pack("<HHIHH", tag, typ, count,
                                                                                          value, 0)
    ifd += struct.pack("<I", 0)
    return b"II*\x00" + struct.pack("<I", 10) + b"\x00\x00" + ifd


def patch_jpeg_size(data: bytes, width: int, height: int) -> bytes:
    i = data.find(b"\xff\xc0")
    out = bytearray(data)
    out[i + 5 : i + 9] = struct.pack(">HH", height, width)
    return bytes(out)


def pdf_bytes(pages: list[dict]) -> bytes:
    """A PDF with one page per spec: {'jpeg': bytes} or {'bgr': array}, size in points, optional rotation/extra."""
    pdf = pdfium.PdfDocument.new()
    for spec in pages:
        width_pt, height_pt = spec["size"]
        page = pdf.new_page(width_pt, height_pt)
        image = pdfium.PdfImage.new(pdf)
        if "jpeg" in spec:
            image.load_jpeg(io.BytesIO(spec["jpeg"]), inline=True)
        else:
            image.set_bitmap(pdfium.PdfBitmap.from_pil(rgb(spec["bgr"])))
        image.set_matrix(pdfium.PdfMatrix().scale(width_pt, height_pt))
        page.insert_obj(image)
        if spec.get("stamp"):  # a second, small image on top: the page is no longer a bare scan
            stamp = pdfium.PdfImage.new(pdf)
            stamp.set_bitmap(pdfium.PdfBitmap.from_pil(Image.new("RGB", (4, 4), (255, 0, 0))))
            stamp.set_matrix(pdfium.PdfMatrix().scale(10, 10).translate(5, 5))
            page.insert_obj(stamp)
        page.gen_content()
        if spec.get("rotation"):
            page.set_rotation(spec["rotation"])
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    return buf.getvalue()


def pt(px: int, dpi: int = 300) -> float:
    """Points for ``px`` pixels at ``dpi``: pages built with this render 1:1 at the default 300 dpi."""
    return px * 72 / dpi


# --- sniffing --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("head", "fmt"), [
    (b"\xff\xd8\xff\xe0\x00\x10JFIF", "jpeg"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "png"),
    (b"II*\x00\x08\x00\x00\x00", "tiff"),
    (b"MM\x00*\x00\x00\x00\x08", "tiff"),
    (b"II+\x00\x08\x00\x00\x00", "tiff"),
    (b"BM" + b"\x00" * 12 + struct.pack("<I", 40) + b"\x00" * 20, "bmp"),
    (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
    (b"%PDF-1.7\n", "pdf"),
    (b"\x00" * 500 + b"%PDF-1.4\n", "pdf"),
])
def test_sniff_by_magic(head: bytes, fmt: str) -> None:
    assert sniff(head + b"\x00" * 64) == (fmt, intake.MEDIA_TYPES[fmt])


@pytest.mark.parametrize("data", [
    b"hello, this is a text file saved as scan.png\n",
    b"<!DOCTYPE html><html><body><img src=x></body></html>",
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg"></svg>',
    b"PK\x03\x04" + b"\x00" * 100,
    b"GIF89a" + b"\x00" * 100,
    b"\x00\x00\x00\x18ftypheic" + b"\x00" * 100,
    b"BMW owners manual, chapter 1" + b" " * 40,  # "BM" but no bitmap header behind it
    b"RIFF\x10\x00\x00\x00WAVEfmt " + b"\x00" * 40,
    bytes(range(256)) * 8,
    b"\x00" * 1100 + b"%PDF-1.4",  # a PDF marker too far in
])
def test_sniff_refuses_other_content(data: bytes) -> None:
    with pytest.raises(UnsupportedFormat) as info:
        sniff(data)
    assert info.value.code == "unsupported_format"
    with pytest.raises(UnsupportedFormat):
        open_upload(data, LIMITS)


def test_empty_upload() -> None:
    with pytest.raises(EmptyUpload):
        sniff(b"")
    with pytest.raises(EmptyUpload):
        open_upload(b"", LIMITS)


def test_leading_magic_decides_for_polyglots() -> None:
    png = pil_bytes(rgb(page_bgr()), "PNG")
    polyglot = png[:40] + b"%PDF-1.4\n" + png[40:]  # a PDF marker inside a PNG's first kilobyte
    assert sniff(polyglot)[0] == "png"
    with pytest.raises(CorruptFile):  # ... and the inserted bytes break the PNG's chunk structure
        decode(polyglot)
    garbage = intake._PNG_SIGNATURE + bytes(range(256)) * 4
    assert isinstance(failure(garbage), CorruptFile)
    zip_then_png = b"PK\x03\x04" + png
    assert isinstance(failure(zip_then_png), UnsupportedFormat)
    gif_then_pdf = b"GIF89a" + b"\x00" * 20 + pdf_bytes([{"jpeg": jpeg(page_bgr()), "size": (80, 120)}])
    assert isinstance(failure(gif_then_pdf), UnsupportedFormat)


# --- open_upload -----------------------------------------------------------------------------------------------


def test_open_upload_reads_header_and_hashes() -> None:
    data = pil_bytes(rgb(page_bgr(120, 80)), "PNG")
    upload = open_upload(data, LIMITS)
    assert (upload.format, upload.media_type) == ("png", "image/png")
    assert (upload.width, upload.height, upload.page_count) == (80, 120, 1)
    assert upload.byte_size == len(data)
    assert upload.sha256 == hashlib.sha256(data).hexdigest()


def test_oversize_bytes_refused_before_sniffing() -> None:
    data = b"x" * 2000
    with pytest.raises(TooLarge) as info:
        open_upload(data, Limits(max_bytes=1000))
    assert info.value.context == {"byte_size": 2000, "max_bytes": 1000}


# --- each format decodes to the right pixels -------------------------------------------------------------------


@pytest.mark.parametrize(("fmt", "kwargs"), [
    ("PNG", {}),
    ("BMP", {}),
    ("WEBP", {"lossless": True}),
    ("TIFF", {}),
    ("TIFF", {"compression": "tiff_lzw"}),
    ("TIFF", {"compression": "packbits"}),
])
def test_lossless_formats_decode_exactly(fmt: str, kwargs: dict) -> None:
    src = page_bgr()
    page = decode_one(pil_bytes(rgb(src), fmt, **kwargs))
    assert page.image.dtype == np.uint8 and page.image.shape == src.shape
    np.testing.assert_array_equal(page.image, src)
    assert (page.page_index, page.grayscale, page.scale) == (0, False, 1.0)


def test_jpeg_decodes_like_opencv() -> None:
    src = page_bgr()
    data = jpeg(src)
    page = decode_one(data)
    assert_same_jpeg_picture(page.image, data)
    assert np.abs(page.image.astype(int) - src).mean() < 3
    assert not page.grayscale


def test_jpeg_with_a_trailer_after_its_end_is_fine() -> None:
    data = jpeg(page_bgr())
    trailer = b"\x00\x00\x00\x18ftypmp42" + b"\xff\xda\x00\x10" + bytes(range(256)) * 40  # a motion photo's video
    page = decode_one(data + trailer)
    assert_same_jpeg_picture(page.image, data)


def test_truncated_jpeg_is_refused_by_either_check() -> None:
    data = jpeg(document_bgr(200, 150), 90)
    cut = data[: len(data) // 2]
    with pytest.raises(CorruptFile, match="incomplete"):
        open_upload(cut, LIMITS)
    upload = Upload("image/jpeg", "jpeg", "0" * 64, len(cut), 150, 200)
    with pytest.raises(CorruptFile):  # iter_pages alone: OpenCV refuses the cut file
        next(iter_pages(cut, upload, LIMITS))


def test_lossy_webp_is_close() -> None:
    src = page_bgr()
    page = decode_one(pil_bytes(rgb(src), "WEBP", quality=95))
    assert page.image.shape == src.shape
    assert np.abs(page.image.astype(int) - src).mean() < 4


def test_grayscale_jpeg_stays_two_dimensional() -> None:
    src = page_gray()
    page = decode_one(jpeg(src))
    assert page.image.ndim == 2 and page.grayscale
    assert np.abs(page.image.astype(int) - src).mean() < 2


def test_cmyk_jpeg_becomes_bgr() -> None:
    src = page_bgr()
    data = pil_bytes(rgb(src).convert("CMYK"), "JPEG", quality=95)
    page = decode_one(data)
    assert page.image.shape == src.shape
    pillow = cv2.cvtColor(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")), cv2.COLOR_RGB2BGR)
    assert np.abs(page.image.astype(int) - pillow).mean() < 2


@pytest.mark.parametrize("fmt", ["PNG", "BMP", "TIFF"])
def test_gray_sources_decode_gray(fmt: str) -> None:
    src = page_gray()
    page = decode_one(pil_bytes(Image.fromarray(src), fmt))
    assert page.grayscale and page.image.ndim == 2
    np.testing.assert_array_equal(page.image, src)


@pytest.mark.parametrize(("fmt", "kwargs"), [
    ("TIFF", {"compression": "group4"}),
    ("TIFF", {"compression": "group3"}),
    ("TIFF", {"compression": "packbits"}),
    ("PNG", {}),
    ("BMP", {}),
])
def test_one_bit_images_become_gray_0_255(fmt: str, kwargs: dict) -> None:
    ink = np.zeros((64, 96), bool)
    ink[10:20, 5:90] = True
    ink[30:60, 40:45] = True
    bilevel = Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).convert("1")
    page = decode_one(pil_bytes(bilevel, fmt, **kwargs))
    assert page.grayscale and page.image.dtype == np.uint8 and page.image.shape == ink.shape
    np.testing.assert_array_equal(page.image, np.where(ink, 0, 255))


def test_sixteen_bit_png_and_tiff_become_eight_bit() -> None:
    gray16 = (page_gray().astype(np.uint16) * 257)
    color16 = (page_bgr().astype(np.uint16) * 257)
    for data, expect in [
        (cv2.imencode(".png", gray16)[1].tobytes(), page_gray()),
        (cv2.imencode(".png", color16)[1].tobytes(), page_bgr()),
        (cv2.imencode(".tiff", gray16)[1].tobytes(), page_gray()),
        (cv2.imencode(".tiff", color16)[1].tobytes(), page_bgr()),
    ]:
        page = decode_one(data)
        assert page.image.dtype == np.uint8 and page.image.shape == expect.shape
        assert np.abs(page.image.astype(int) - expect).max() <= 1
        assert page.grayscale == (expect.ndim == 2)


def test_sixteen_bit_rgba_png_composites_on_white() -> None:
    bgra = np.zeros((10, 20, 4), np.uint16)
    bgra[..., 2] = 65535  # red
    bgra[:, 10:, 3] = 65535  # right half opaque, left half transparent
    page = decode_one(cv2.imencode(".png", bgra)[1].tobytes())
    assert page.image.dtype == np.uint8 and page.image.shape == (10, 20, 3)
    np.testing.assert_array_equal(page.image[:, :10], 255)
    np.testing.assert_array_equal(page.image[:, 10:], np.broadcast_to([0, 0, 255], (10, 10, 3)))


def test_rgba_png_composites_on_white() -> None:
    rgba = np.zeros((4, 3, 4), np.uint8)
    rgba[..., 0] = 200  # red 200
    rgba[:, 0, 3] = 0
    rgba[:, 1, 3] = 255
    rgba[:, 2, 3] = 128
    page = decode_one(pil_bytes(Image.fromarray(rgba, "RGBA"), "PNG"))
    assert page.image.shape == (4, 3, 3) and not page.grayscale
    assert page.image[0, 0].tolist() == [255, 255, 255]
    assert page.image[0, 1].tolist() == [0, 0, 200]
    expected_mix = [round(255 * 127 / 255), round(255 * 127 / 255), round(200 * 128 / 255 + 255 * 127 / 255)]
    assert np.abs(page.image[0, 2].astype(int) - expected_mix).max() <= 1


def test_gray_alpha_png_composites_to_gray() -> None:
    la = np.zeros((4, 2, 2), np.uint8)
    la[..., 0] = 50
    la[:, 1, 1] = 255
    page = decode_one(pil_bytes(Image.fromarray(la, "LA"), "PNG"))
    assert page.grayscale and page.image.shape == (4, 2)
    assert page.image[:, 0].tolist() == [255] * 4 and page.image[:, 1].tolist() == [50] * 4


def test_palette_images() -> None:
    src = page_bgr()
    palette = rgb(src).quantize(8)
    expect = cv2.cvtColor(np.asarray(palette.convert("RGB")), cv2.COLOR_RGB2BGR)
    for fmt in ("PNG", "BMP", "TIFF"):
        page = decode_one(pil_bytes(palette, fmt))
        assert page.image.shape == src.shape and not page.grayscale
        np.testing.assert_array_equal(page.image, expect)
    # a transparent palette entry is paper
    indexed = Image.new("P", (6, 2), 0)
    indexed.putpalette([10, 20, 30, 200, 100, 0])
    indexed.paste(1, (3, 0, 6, 2))
    page = decode_one(pil_bytes(indexed, "PNG", transparency=0))
    assert page.image[0, 0].tolist() == [255, 255, 255]
    assert page.image[0, 5].tolist() == [0, 100, 200]


def test_tiff_cmyk_rgba_and_jpeg_compression() -> None:
    src = page_bgr()
    page = decode_one(pil_bytes(rgb(src).convert("CMYK"), "TIFF"))
    assert np.abs(page.image.astype(int) - src).max() <= 1
    rgba = rgb(src).convert("RGBA")
    rgba.putalpha(0)
    np.testing.assert_array_equal(decode_one(pil_bytes(rgba, "TIFF")).image, 255)
    page = decode_one(pil_bytes(rgb(src), "TIFF", compression="jpeg"))
    assert np.abs(page.image.astype(int) - src).mean() < 4


def test_bigtiff() -> None:
    src = page_gray()
    data = pil_bytes(Image.fromarray(src), "TIFF", big_tiff=True)
    assert data[:4] == b"II+\x00"
    np.testing.assert_array_equal(decode_one(data).image, src)


def test_multipage_tiff_yields_each_page_and_skips_thumbnails() -> None:
    first, second = page_gray(), page_bgr(60, 90)
    data = pil_bytes(Image.fromarray(first), "TIFF", save_all=True, append_images=[rgb(second)])
    upload = open_upload(data, LIMITS)
    assert upload.page_count == 2 and (upload.width, upload.height) == (80, 120)
    pages = list(iter_pages(data, upload, LIMITS))
    assert [p.page_index for p in pages] == [0, 1]
    np.testing.assert_array_equal(pages[0].image, first)
    np.testing.assert_array_equal(pages[1].image, second)
    with pytest.raises(TooManyPages):
        open_upload(data, Limits(max_pages=1))
    thumb = Image.fromarray(first[::4, ::4])
    data = mark_reduced_resolution(pil_bytes(Image.fromarray(first), "TIFF", save_all=True, append_images=[thumb],
                                             tiffinfo={254: 0}), frame=1)
    upload = open_upload(data, LIMITS)
    assert upload.page_count == 1
    assert [p.image.shape for p in iter_pages(data, upload, LIMITS)] == [first.shape]


def mark_reduced_resolution(tiff: bytes, frame: int) -> bytes:
    """Set NewSubfileType = 1 (a reduced-resolution copy) in one IFD of a little-endian TIFF."""
    out = bytearray(tiff)
    ifd = struct.unpack_from("<I", out, 4)[0]
    for _ in range(frame):
        count = struct.unpack_from("<H", out, ifd)[0]
        ifd = struct.unpack_from("<I", out, ifd + 2 + 12 * count)[0]
    for i in range(struct.unpack_from("<H", out, ifd)[0]):
        entry = ifd + 2 + 12 * i
        if struct.unpack_from("<H", out, entry)[0] == 254:
            struct.pack_into("<I", out, entry + 8, 1)
            return bytes(out)
    raise AssertionError("no NewSubfileType tag")


# --- orientation -----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_jpeg_exif_orientation_matches_pillow(orientation: int) -> None:
    data = pil_bytes(rgb(page_bgr(120, 80)), "JPEG", quality=95, exif=exif_bytes(orientation))
    upload = open_upload(data, LIMITS)
    page = decode_one(data)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    expect = cv2.cvtColor(np.asarray(upright), cv2.COLOR_RGB2BGR)
    assert page.image.shape == expect.shape
    assert np.abs(page.image.astype(int) - expect).mean() < 2
    assert (upload.width, upload.height) == (upright.width, upright.height)


def test_orientation_6_swaps_width_and_height_and_3_turns_upside_down() -> None:
    src = page_bgr(120, 80)
    six = pil_bytes(rgb(src), "JPEG", quality=95, exif=exif_bytes(6))
    upload = open_upload(six, LIMITS)
    assert (upload.width, upload.height) == (120, 80)
    page = decode_one(six)
    assert page.image.shape[:2] == (80, 120)
    assert np.abs(page.image.astype(int) - cv2.rotate(src, cv2.ROTATE_90_CLOCKWISE)).mean() < 3
    three = pil_bytes(rgb(src), "JPEG", quality=95, exif=exif_bytes(3))
    assert np.abs(decode_one(three).image.astype(int) - src[::-1, ::-1]).mean() < 3
    gray_six = pil_bytes(Image.fromarray(page_gray(120, 80)), "JPEG", quality=95, exif=exif_bytes(6))
    page = decode_one(gray_six)
    assert page.image.ndim == 2 and page.image.shape == (80, 120)


@pytest.mark.parametrize(("fmt", "kwargs"), [("PNG", {}), ("WEBP", {"lossless": True}), ("TIFF", {})])
def test_exif_orientation_in_png_webp_tiff(fmt: str, kwargs: dict) -> None:
    src = page_bgr(120, 80)
    for orientation, expect in [(6, cv2.rotate(src, cv2.ROTATE_90_CLOCKWISE)), (3, src[::-1, ::-1]),
                                (8, cv2.rotate(src, cv2.ROTATE_90_COUNTERCLOCKWISE))]:
        data = pil_bytes(rgb(src), fmt, exif=exif_bytes(orientation), **kwargs)
        upload = open_upload(data, LIMITS)
        assert (upload.width, upload.height) == (expect.shape[1], expect.shape[0])
        np.testing.assert_array_equal(decode_one(data).image, expect)


def test_rgba_png_with_orientation() -> None:
    src = page_bgr(30, 20)
    rgba = rgb(src).convert("RGBA")
    page = decode_one(pil_bytes(rgba, "PNG", exif=exif_bytes(6)))
    np.testing.assert_array_equal(page.image, cv2.rotate(src, cv2.ROTATE_90_CLOCKWISE))


# --- pixel budget (max_pixels) ---------------------------------------------------------------------------------


def test_large_jpeg_uses_reduced_decode() -> None:
    src = document_bgr(1400, 1000)
    data = jpeg(src, 90)
    page = decode_one(data, max_pixels=400_000)
    assert page.image.shape == (700, 500, 3) and page.scale == 0.5
    full = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    area = cv2.resize(full, (500, 700), interpolation=cv2.INTER_AREA)
    assert np.abs(page.image.astype(int) - area).mean() < 4
    page = decode_one(data, max_pixels=60_000)  # 1/4 gives 87 500 pixels: too many, 1/8 fits
    assert page.image.shape == (175, 125, 3) and page.scale == 0.125
    page = decode_one(data, max_pixels=5_000)  # even 1/8 is too large: reduced, then area-averaged
    assert page.image.shape[0] * page.image.shape[1] <= 5_000 and page.scale < 0.125
    page = decode_one(data, max_pixels=2_000_000)
    assert page.image.shape == src.shape and page.scale == 1.0


def test_reduced_decode_keeps_gray_and_orientation() -> None:
    data = pil_bytes(Image.fromarray(page_gray(400, 200)), "JPEG", quality=95, exif=exif_bytes(6))
    page = decode_one(data, max_pixels=30_000)
    assert page.image.ndim == 2 and page.grayscale
    assert page.image.shape == (100, 200) and page.scale == 0.5


def test_other_formats_are_area_downscaled() -> None:
    src = document_bgr(600, 400)
    page = decode_one(pil_bytes(rgb(src), "PNG"), max_pixels=60_000)
    height, width = page.image.shape[:2]
    assert height * width <= 60_000 and abs(width / height - 400 / 600) < 0.01
    assert page.scale == pytest.approx(width / 400)
    area = cv2.resize(src, (width, height), interpolation=cv2.INTER_AREA)
    np.testing.assert_array_equal(page.image, area)


# --- PDF -------------------------------------------------------------------------------------------------------


def forbid_rendering(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail if PDFium draws any page (the plans come back from the rendering child process)."""
    real = intake._finish_page

    def finish(plan, *args, **kwargs):
        assert plan.rendered is None, "a bare scanned page must not be rendered"
        return real(plan, *args, **kwargs)

    monkeypatch.setattr(intake, "_finish_page", finish)


def test_pdf_scanned_jpeg_fast_path(monkeypatch: pytest.MonkeyPatch) -> None:
    src = document_bgr(350, 250)
    data = jpeg(src, 90)
    pdf = pdf_bytes([{"jpeg": data, "size": (pt(250), pt(350))}])
    upload = open_upload(pdf, LIMITS)
    assert (upload.format, upload.media_type, upload.page_count) == ("pdf", "application/pdf", 1)
    assert (upload.width, upload.height) == (250, 350)

    forbid_rendering(monkeypatch)
    page = decode_one(pdf)
    assert_same_jpeg_picture(page.image, data)
    assert page.scale == 1.0 and not page.grayscale


def test_pdf_gray_jpeg_fast_path_stays_gray_and_ignores_exif() -> None:
    data = pil_bytes(Image.fromarray(page_gray(120, 80)), "JPEG", quality=95, exif=exif_bytes(6))
    page = decode_one(pdf_bytes([{"jpeg": data, "size": (pt(80), pt(120))}]))
    assert page.grayscale and page.image.shape == (120, 80)  # PDF viewers ignore EXIF inside a page's JPEG


def test_pdf_fast_path_matches_rendering_for_rotated_pages() -> None:
    src = page_bgr(120, 80)
    for rotation in (90, 180, 270):
        pdf = pdf_bytes([{"jpeg": jpeg(src), "size": (pt(80), pt(120)), "rotation": rotation}])
        fast = decode_one(pdf).image
        pdf_doc = pdfium.PdfDocument(pdf)
        try:
            rendered = intake._take_page(pdf_doc, 0, LIMITS, LIMITS.max_pixels, pixels=False, jpeg=False).rendered
        finally:
            pdf_doc.close()
        assert fast.shape == rendered.shape
        assert np.abs(fast.astype(int) - rendered).mean() < 6, rotation


def test_pdf_lossless_scan_uses_its_own_pixels(monkeypatch: pytest.MonkeyPatch) -> None:
    forbid_rendering(monkeypatch)
    odd = page_bgr(121, 83)  # rows of 249 bytes: no padding assumed anywhere
    page = decode_one(pdf_bytes([{"bgr": odd, "size": (pt(83), pt(121))}]))  # a Flate image
    np.testing.assert_array_equal(page.image, odd)
    assert page.scale == 1.0 and not page.grayscale
    page = decode_one(pdf_bytes([{"bgr": odd, "size": (pt(83), pt(121))}]), max_pixels=2_500)
    assert page.image.shape[0] * page.image.shape[1] <= 2_500 and page.scale < 0.6


def test_pdf_fax_and_palette_scans_made_by_img2pdf(monkeypatch: pytest.MonkeyPatch) -> None:
    img2pdf = pytest.importorskip("img2pdf")
    layout = img2pdf.get_fixed_dpi_layout_fun((300, 300))
    ink = np.zeros((120, 80), bool)
    ink[10:20, 5:70] = True
    bilevel = Image.fromarray(np.where(ink, 0, 255).astype(np.uint8)).convert("1")
    palette = rgb(page_bgr()).quantize(8)
    forbid_rendering(monkeypatch)
    page = decode_one(img2pdf.convert(pil_bytes(bilevel, "TIFF", compression="group4"), layout_fun=layout))
    assert page.grayscale  # CCITT fax inside a PDF stays a gray page, 0 and 255
    np.testing.assert_array_equal(page.image, np.where(ink, 0, 255))
    page = decode_one(img2pdf.convert(pil_bytes(palette, "PNG"), layout_fun=layout))
    np.testing.assert_array_equal(page.image, cv2.cvtColor(np.asarray(palette.convert("RGB")), cv2.COLOR_RGB2BGR))
    src = jpeg(page_gray())
    page = decode_one(img2pdf.convert(src, layout_fun=layout))
    np.testing.assert_array_equal(page.image, cv2.imdecode(np.frombuffer(src, np.uint8), cv2.IMREAD_GRAYSCALE))


def test_pdf_rendered_path(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = intake._finish_page
    monkeypatch.setattr(intake, "_finish_page", lambda plan, *a: calls.append(plan.rendered.shape[1::-1])
                        or real(plan, *a))
    src = page_bgr(121, 83)
    for spec in ({"jpeg": jpeg(src)}, {"bgr": src}):  # anything drawn over the scan: the page is rendered
        calls.clear()
        page = decode_one(pdf_bytes([{**spec, "size": (pt(83), pt(121)), "stamp": True}]))
        assert calls == [(83, 121)]
        assert page.image.shape == src.shape and not page.grayscale and page.scale == 1.0
        assert page.image[-40, 40].tolist() == [0, 0, 255]  # the red stamp near the bottom left corner
        page.image[-70:, :70] = src[-70:, :70]
        assert np.abs(page.image.astype(int) - src).mean() < 4


def test_pdf_masked_image_is_rendered() -> None:
    bgra = np.dstack([page_bgr(), np.full((120, 80), 255, np.uint8)])
    bgra[:, :40, 3] = 0  # the left half is transparent: a viewer shows paper there
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(pt(80), pt(120))
    image = pdfium.PdfImage.new(pdf)
    image.set_bitmap(pdfium.PdfBitmap.from_pil(Image.fromarray(cv2.cvtColor(bgra, cv2.COLOR_BGRA2RGBA), "RGBA")))
    image.set_matrix(pdfium.PdfMatrix().scale(pt(80), pt(120)))
    page.insert_obj(image)
    page.gen_content()
    buf = io.BytesIO()
    pdf.save(buf)
    pdf.close()
    decoded = decode_one(buf.getvalue()).image
    assert (decoded[:, :38] == 255).all()
    assert np.abs(decoded[:, 42:].astype(int) - page_bgr()[:, 42:]).mean() < 3


def test_pdf_pages_are_lazy_and_in_order(monkeypatch: pytest.MonkeyPatch) -> None:
    sources = [page_bgr(120, 80), page_gray(120, 80), page_bgr(80, 120)]
    pdf = pdf_bytes([{"jpeg": jpeg(s), "size": (pt(s.shape[1]), pt(s.shape[0]))} for s in sources])
    taken = []
    real = intake._PdfChild.ask  # what the parent asks of the child that reads the document
    monkeypatch.setattr(intake._PdfChild, "ask", lambda child, i, **k: taken.append(i) or real(child, i, **k))
    upload = open_upload(pdf, LIMITS)
    assert upload.page_count == 3
    pages = iter_pages(pdf, upload, LIMITS)
    first = next(pages)
    # the child reads one page ahead while the caller works on the first, no more
    assert taken == [0, 1] and first.page_index == 0 and first.image.shape == (120, 80, 3)
    rest = list(pages)
    assert taken == [0, 1, 2] and [p.page_index for p in rest] == [1, 2]
    assert rest[0].grayscale and rest[1].image.shape == (80, 120, 3)
    pages = iter_pages(pdf, upload, LIMITS)
    next(pages)
    pages.close()  # the caller stopped at the first page: the document is closed, nothing leaks


def test_pdf_page_limit() -> None:
    pdf = pdf_bytes([{"jpeg": jpeg(page_gray(40, 30)), "size": (30, 40)}] * 3)
    with pytest.raises(TooManyPages) as info:
        open_upload(pdf, Limits(max_pages=2))
    assert info.value.context == {"pages": 3, "max_pages": 2}
    upload = Upload("application/pdf", "pdf", "0" * 64, len(pdf), 30, 40, 3)
    with pytest.raises(TooManyPages):
        next(iter_pages(pdf, upload, Limits(max_pages=2)))


def test_pdf_huge_page_renders_within_the_pixel_limit() -> None:
    pdf = pdf_bytes([{"bgr": page_bgr(20, 20), "size": (14_400, 14_400), "stamp": True}])  # 200 x 200 inches
    upload = open_upload(pdf, LIMITS)
    assert (upload.width, upload.height) == (60_000, 60_000)  # what 300 dpi would be: never allocated
    page = decode_one(pdf, Limits(max_pixels=1_000_000))
    assert page.image.shape[0] * page.image.shape[1] <= 1_000_000
    assert page.scale == pytest.approx(1000 / 60_000, rel=0.01)
    page = decode_one(pdf, max_pixels=250_000)
    assert page.image.shape[:2] == (500, 500)


def test_pdf_with_a_bomb_image_is_refused() -> None:
    bomb = patch_jpeg_size(jpeg(np.full((16, 16, 3), 128, np.uint8)), 60_000, 60_000)
    pdf = pdf_bytes([{"jpeg": bomb, "size": (612, 792)}])
    with pytest.raises(TooManyPixels):
        decode(pdf)


def test_pdf_with_truncated_scan_is_corrupt() -> None:
    data = jpeg(document_bgr(200, 150), 90)
    pdf = pdf_bytes([{"jpeg": data[: len(data) * 2 // 3], "size": (pt(150), pt(200))}])
    with pytest.raises(CorruptFile, match="scan inside page 1"):
        decode(pdf)


def test_encrypted_pdf_is_named_password_protected() -> None:
    encrypted = (b"%PDF-1.4\n1 0 obj <</Type/Catalog/Pages 2 0 R>> endobj\n"
                 b"2 0 obj <</Type/Pages/Kids[3 0 R]/Count 1>> endobj\n"
                 b"3 0 obj <</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]>> endobj\n"
                 b"4 0 obj <</Filter/Standard/V 1/R 2/O<" + b"00" * 32 + b">/U<" + b"11" * 32 + b">/P -4>> endobj\n"
                 b"trailer <</Root 1 0 R/Size 5/Encrypt 4 0 R/ID[<00112233445566778899aabbccddeeff>"
                 b"<00112233445566778899aabbccddeeff>]>>\n%%EOF\n")
    with pytest.raises(PdfEncrypted, match="password") as info:
        open_upload(encrypted, LIMITS)
    assert info.value.code == "pdf_encrypted"
    assert "password" in info.value.message("en") and "パスワード" in info.value.message("ja")


def test_pdf_decoding_is_thread_safe() -> None:
    pdfs = [pdf_bytes([{"jpeg": jpeg(page_bgr(120, 80)), "size": (pt(80), pt(120))}]),
            pdf_bytes([{"bgr": page_bgr(120, 80), "size": (pt(80), pt(120)), "rotation": 90}])]
    expected = [decode_one(p).image for p in pdfs]
    errors: list[BaseException] = []

    def work() -> None:
        try:
            for _ in range(15):
                for pdf, expect in zip(pdfs, expected, strict=True):
                    np.testing.assert_array_equal(decode_one(pdf).image, expect)
        except BaseException as exc:  # reported to the main thread
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


# --- hostile input ---------------------------------------------------------------------------------------------


def samples() -> dict[str, bytes]:
    src = document_bgr(90, 70)
    return {
        "jpeg": jpeg(src, 90),
        "progressive": pil_bytes(rgb(src), "JPEG", quality=90, progressive=True),
        "png": pil_bytes(rgb(src), "PNG"),
        "tiff": pil_bytes(rgb(src), "TIFF", compression="tiff_lzw"),
        "fax": pil_bytes(rgb(src).convert("1"), "TIFF", compression="group4"),
        "webp": pil_bytes(rgb(src), "WEBP", quality=80),
        "webp_lossless": pil_bytes(rgb(src), "WEBP", lossless=True),
        "bmp": pil_bytes(rgb(src), "BMP"),
        "pdf": pdf_bytes([{"jpeg": jpeg(src), "size": (pt(70), pt(90))}]),
        "pdf_flate": pdf_bytes([{"bgr": src, "size": (pt(70), pt(90))}]),
        "pdf_rendered": pdf_bytes([{"bgr": src, "size": (pt(70), pt(90)), "stamp": True}]),
    }


@pytest.mark.parametrize("name", ["jpeg", "progressive", "png", "tiff", "fax", "webp", "webp_lossless", "bmp", "pdf",
                                  "pdf_flate", "pdf_rendered"])
@pytest.mark.parametrize("keep", [0.2, 0.5, 0.9, 0.99])
def test_truncated_files_are_corrupt(name: str, keep: float) -> None:
    data = samples()[name]
    assert failure(data) is None
    cut = data[: max(20, int(len(data) * keep))]
    assert isinstance(failure(cut), CorruptFile), name


@pytest.mark.parametrize("magic", [b"\xff\xd8\xff\xe0", intake._PNG_SIGNATURE, b"II*\x00", b"MM\x00*",
                                   b"RIFF\x00\x01\x00\x00WEBP", b"%PDF-1.7\n",
                                   b"BM" + b"\x00" * 12 + struct.pack("<I", 40)])
def test_magic_followed_by_garbage_is_corrupt(magic: bytes) -> None:
    garbage = np.random.default_rng(3).integers(0, 256, 3000, dtype=np.uint8).tobytes()
    assert isinstance(failure(magic + garbage), CorruptFile)
    assert isinstance(failure(magic), CorruptFile)


@pytest.mark.parametrize(("name", "make"), [
    ("png", lambda: bomb_png()),
    ("jpeg", lambda: patch_jpeg_size(jpeg(np.zeros((16, 16, 3), np.uint8)), 60_000, 60_000)),
    ("tiff", lambda: tiny_tiff(100_000, 100_000)),
    ("bmp", lambda: b"BM" + struct.pack("<IHHI", 0, 0, 0, 54) + struct.pack("<IiiHHIIiiII", 40, 50_000, 50_000, 1,
                                                                              24, 0, 0, 0, 0, 0, 0) + b"\x00" * 64),
    ("webp", lambda: b"RIFF" + struct.pack("<I", 4 + 18) + b"WEBPVP8X" + struct.pack("<I", 10) + b"\x00" * 4
     + (16383).to_bytes(3, "little") * 2),
])
def test_decompression_bombs_are_refused_without_allocating(name: str, make) -> None:
    data = make()
    assert len(data) < 2000
    assert sniff(data)[0] == name
    tracemalloc.start()
    try:
        with pytest.raises(TooManyPixels) as info:
            open_upload(data, LIMITS)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000
    assert info.value.context["max_pixels"] == LIMITS.max_pixels
    # iter_pages checks again, for a caller that skipped open_upload
    upload = Upload(intake.MEDIA_TYPES[name], name, "0" * 64, len(data), 1, 1)
    with pytest.raises(TooManyPixels):
        next(iter_pages(data, upload, LIMITS))


def test_tiff_tile_bomb_is_refused() -> None:
    # a 64 x 64 image whose single deflate tile would inflate to 30000 x 30000 bytes inside libtiff
    data = tiny_tiff(64, 64, tile=30_000)
    with pytest.raises(CorruptFile, match="tiles"):
        open_upload(data, LIMITS)
    upload = Upload("image/tiff", "tiff", "0" * 64, len(data), 64, 64)
    with pytest.raises(CorruptFile, match="tiles"):
        next(iter_pages(data, upload, LIMITS))
    assert failure(tiny_tiff(64, 64, tile=256)).code == "corrupt_file"  # an ordinary tile size: only the data fails


def test_jpeg_with_endless_scans_is_refused() -> None:
    data = pil_bytes(rgb(page_bgr()), "JPEG", progressive=True)
    assert data.endswith(b"\xff\xd9")
    with pytest.raises(CorruptFile, match="scans"):  # 600 more scans before the end: refused before decoding
        decode(data[:-2] + (b"\xff\xda\x00\x08\x01\x01\x00\x00\x3f\x00" + b"\x00" * 8) * 600 + data[-2:])


def test_bomb_within_a_raised_limit_is_not_pillow_warning() -> None:
    # 10 000 x 10 000 is over Pillow's warning threshold (89 MP); with a raised limit our own check decides
    with pytest.raises(TooManyPixels):
        open_upload(tiny_tiff(10_000, 10_000), Limits(max_pixels=50_000_000))
    upload = open_upload(tiny_tiff(10_000, 10_000), Limits(max_pixels=200_000_000))
    assert (upload.width, upload.height) == (10_000, 10_000)


@pytest.mark.parametrize("name", ["jpeg", "png", "tiff", "fax", "webp", "bmp", "pdf", "pdf_flate", "pdf_rendered"])
def test_mutated_files_never_raise_anything_but_verify_errors(name: str) -> None:
    data = samples()[name]
    rng = np.random.default_rng(sum(name.encode()))
    for _ in range(25):
        mutated = bytearray(data)
        for pos in rng.integers(0, len(data), int(rng.integers(1, 8))):
            mutated[pos] = int(rng.integers(0, 256))
        if rng.random() < 0.3:
            mutated = mutated[: int(rng.integers(8, len(mutated)))]
        outcome = failure(bytes(mutated))  # decodes, or raises a VerifyError: nothing else
        assert outcome is None or outcome.code


def test_every_intake_error_has_a_stable_code_and_messages() -> None:
    for cls in (EmptyUpload, UnsupportedFormat, CorruptFile, TooLarge, TooManyPixels, TooManyPages):
        err = cls("detail")
        assert err.code and err.message("ja") and err.message("en")
        assert err.to_dict()["detail"] == "detail"
