"""Tiny hostile uploads: each is refused with a clear code, or read, within bounded time and memory."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.pipeline import hostile
from verify import intake, restore
from verify.errors import (
    MarkersNotFound,
    NotAPage,
    PdfEncrypted,
    PdfTooComplex,
    ResolutionTooLow,
    UnsupportedFormat,
    VerifyError,
)
from verify.intake import iter_pages, open_upload
from verify.model import Limits
from web.problems import status_for

ROOT = Path(__file__).resolve().parents[2]


def outcome_in_child(make: str, memory_mib: int, seconds: float) -> dict:
    """Verify ``hostile.<make>()`` in a fresh Python under an address-space limit of ``memory_mib`` above what the
    loaded interpreter holds, killed after ``seconds``: the error code, or why it did not finish."""
    script = textwrap.dedent(f"""
        import json, resource, sys
        from tests.pipeline import hostile
        from tests.pipeline.conftest import keyring
        from verify import restore
        from verify.errors import VerifyError
        data = hostile.{make}()
        ring = keyring.__wrapped__()
        size = next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmSize:')) * 1024
        resource.setrlimit(resource.RLIMIT_AS, (size + {memory_mib} * 2**20, resource.RLIM_INFINITY))
        try:
            restore(data, ring)
            print(json.dumps({{"code": None}}))
        except VerifyError as exc:
            print(json.dumps({{"code": exc.code, "detail": exc.detail}}))
        except MemoryError:
            print(json.dumps({{"code": "MemoryError"}}))
    """)
    try:
        done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True,
                              timeout=seconds)
    except subprocess.TimeoutExpired:
        return {"code": f"still running after {seconds} s"}
    if done.returncode != 0 or not done.stdout.strip():
        return {"code": f"exit {done.returncode}", "stderr": done.stderr[-500:]}
    return json.loads(done.stdout.strip().splitlines()[-1])


def code_of(data: bytes, keyring, limits: Limits | None = None) -> VerifyError:
    with pytest.raises(VerifyError) as info:
        restore(data, keyring, limits)
    return info.value


# --- 1. PDF pages drawn under a bound PDFium cannot escape -----------------------------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("make", ["pdf_form_bomb", "pdf_self_drawing_form"])
def test_pdf_whose_drawing_explodes_is_too_complex(make):
    """10 nested forms each drawing the next 10 times (2,964 bytes), or a form drawing itself (656 bytes): PDFium
    would take tens of GiB and hours; the answer is pdf_too_complex, even for a worker under a 3 GiB limit."""
    result = outcome_in_child(make, memory_mib=3072, seconds=60)
    assert result["code"] == "pdf_too_complex", result


def test_pdf_too_complex_is_a_client_error_with_next_steps():
    error = PdfTooComplex("page 1 of the PDF is too complex")
    assert status_for(error.code) == 422
    assert "JPEG" in error.message("en") and "JPEG" in error.message("ja") and "複雑" in error.message("ja")
    assert status_for(PdfEncrypted.code) == 422 and status_for(NotAPage.code) == 422


def test_pdf_renderer_is_a_separate_process_that_ends(keyring):
    """A PDF that does draw comes back through the child, and the child is gone once the pages are read."""
    data = hostile.pdf(hostile._page_drawing(5) + [hostile._stream(
        b"/Type /XObject /Subtype /Form /BBox " + hostile.A4_POINTS, b"0 0 1 1 re f")])
    upload = open_upload(data, Limits())
    with intake._PdfChild(data, Limits(), Limits().max_pixels) as child:
        assert child.count == 1 and child._process.pid is not None
        plan = child.take(0, pixels=True, jpeg=True)
    child._process.join(10)
    assert child._process.exitcode == 0  # the child ends by itself once its pipe is closed
    assert plan.rendered.shape == (3508, 2479, 3) and plan.rendered.min() == 0  # A4 at 300 dpi, one black dot
    assert [p.page_index for p in iter_pages(data, upload, Limits())] == [0]


# --- 2. pictures that cannot be a back never reach the costly marker search -----------------------------------


@pytest.mark.parametrize("size", [100, 165])
def test_tiny_checkerboard_is_refused_before_the_search(keyring, size):
    """A one-pixel checkerboard of a few hundred bytes held ArUco's thorough pass for 1 to 13 s."""
    error = code_of(hostile.checkerboard_png(size), keyring)
    assert isinstance(error, ResolutionTooLow) and f"{size} x {size} pixels" in error.detail


def test_ten_page_checkerboard_tiff_is_refused_page_by_page_at_once(keyring):
    assert isinstance(code_of(hostile.checkerboard_tiff(10), keyring), ResolutionTooLow)


def test_a_page_sized_checkerboard_is_no_scan_of_paper(keyring):
    """Large enough for a back at 150 dpi, yet busy all over: refused as no paper without searching it."""
    import cv2

    board = hostile.checkerboard(1800)
    error = code_of(cv2.imencode(".png", board)[1].tobytes(), keyring)
    assert isinstance(error, MarkersNotFound) and error.context.get("reason") == "not_paper"


def test_search_budget_ends_a_many_page_upload(keyring):
    """When the marker search budget is spent, later pages are not searched."""
    from verify import locate

    blank = Limits()
    import cv2
    import numpy as np

    page = cv2.imencode(".png", np.full((1754, 1240), 255, np.uint8))[1].tobytes()
    with locate.search_budget(0.0):
        error = code_of(page, keyring, blank)  # restore() opens its own budget: the page is searched to the end
    assert isinstance(error, MarkersNotFound) and error.context.get("reason") == "blank"
    with locate.search_budget(0.0), pytest.raises(MarkersNotFound) as info:
        locate.locate_markers(np.full((1754, 1240), 255, np.uint8))
    assert info.value.context["reason"] == "search_budget"


# --- 3. deep and wide samples decoded straight to 8 bits, within a memory bound -------------------------------


@pytest.mark.slow
@pytest.mark.parametrize("make", ["png16_rgba", "float_tiff"])
def test_sixty_megapixel_deep_images_verify_within_a_memory_bound(make):
    """A 482 KB 16-bit RGBA PNG and a 368 KB float32 TIFF of 60 MP (white paper): read and searched (no marks
    found) within 640 MiB of address space beyond the loaded interpreter, where decoding them took 1.0 to 1.4 GB."""
    result = outcome_in_child(make, memory_mib=640, seconds=120)
    assert result["code"] == "markers_not_found", result


def test_sixteen_bit_alpha_png_is_composited_on_white_in_eight_bits():
    import cv2
    import numpy as np

    row = b"\x00" + (b"\x00\x00" * 3 + b"\x80\x00") * 40  # black at half opacity
    page = iter_pages(data := hostile.png_raw(40, 30, 16, 6, row), open_upload(data, Limits()), Limits())
    image = next(page).image
    assert image.dtype == np.uint8 and image.shape == (30, 40, 3)
    assert abs(int(image[10, 10, 0]) - 127) <= 1
    gray16 = hostile.png_raw(40, 30, 16, 0, b"\x00" + b"\x80\x00" * 40)
    image = next(iter_pages(gray16, open_upload(gray16, Limits()), Limits())).image
    assert image.ndim == 2 and image[0, 0] == 128
    assert cv2.imdecode(np.frombuffer(gray16, np.uint8), cv2.IMREAD_GRAYSCALE)[0, 0] == 128


# --- 14. refusals that name their reason ----------------------------------------------------------------------


def test_encrypted_pdf_says_password(keyring):
    error = code_of(hostile.pdf_encrypted(), keyring)
    assert isinstance(error, PdfEncrypted) and "password" in error.message("en")


def test_pdf_header_after_the_first_kilobyte_is_named(keyring):
    data = b"\x00" * 1500 + hostile.pdf_encrypted()
    error = code_of(data, keyring)
    assert isinstance(error, UnsupportedFormat) and "byte 1500" in error.detail and "1,024" in error.detail


def test_one_row_png_is_not_a_page(keyring):
    error = code_of(hostile.png_one_row(), keyring)
    assert isinstance(error, NotAPage) and "60000000 x 1" in error.detail


def test_bmp_wrapping_a_jpeg_is_named(keyring):
    error = code_of(hostile.bmp_with_jpeg(), keyring)
    assert isinstance(error, UnsupportedFormat) and "wraps a JPEG" in error.detail


def test_animated_png_is_read_as_its_default_image():
    data = hostile.apng()
    page = next(iter_pages(data, open_upload(data, Limits()), Limits()))
    assert page.image.shape == (16, 16) and (page.image == 255).all()
