"""Every page of an upload: a scanned stack gets one result per page, with the page numbers of the upload."""

from __future__ import annotations

import img2pdf
import numpy as np
import pytest

from verify import Limits, encode_image, errors, restore, restore_pages
from verify.model import Restoration

A4 = (img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297))


def stack_pdf(*pages: np.ndarray) -> bytes:
    """A PDF of ``pages`` (RGB arrays) in order, one A4 page each, as a sheet feeder sends a stack."""
    return img2pdf.convert([encode_image(p, "png") for p in pages], layout_fun=img2pdf.get_layout_fun(A4))


def blank_like(page: np.ndarray) -> np.ndarray:
    return np.full_like(page, 255)


def test_two_backs_both_verified_with_their_page_numbers(cert, other_cert, keyring):
    data = stack_pdf(cert.back, other_cert.back)
    results = list(restore_pages(data, keyring))
    assert [r.page for r in results] == [1, 2]
    assert all(r.error is None and isinstance(r.restoration, Restoration) for r in results), \
        [r.error for r in results]
    assert [r.restoration.certificate.serial for r in results] == ["TEST-000001", "TEST-000002"]
    assert [r.restoration.page_index for r in results] == [0, 1]
    assert all(r.restoration.upload is not None and r.restoration.upload.page_count == 2 for r in results)
    # the single answer, unchanged, is still the first back only
    assert restore(data, keyring).certificate.serial == "TEST-000001"


def test_front_and_blank_pages_are_named_and_skipped(cert, keyring):
    data = stack_pdf(cert.front, cert.back, blank_like(cert.back))
    results = list(restore_pages(data, keyring))
    assert [(r.page, r.skipped) for r in results] == [(1, "no_back"), (2, None), (3, "blank")]
    assert isinstance(results[0].error, errors.NotTheBack) and isinstance(results[2].error, errors.BlankPage)
    assert results[1].restoration is not None and results[1].restoration.certificate.serial == "TEST-000001"
    assert results[0].error.context["format"] == "pdf"  # what the upload was, as restore's errors say
    assert "refused" in results[0].error.timings_ms
    # the front's picture is handed over (RGB, as drawn), to compare with the back beside it; no other page's
    assert results[0].picture is not None and results[0].picture.shape[:2] == (3508, 2480)
    assert results[1].picture is None and results[2].picture is None
    # a kept refusal holds no traceback, whose frames would keep the page's pixels alive until the upload is done
    # (about 45 MB a page at 300 dpi: a stack's fronts added theirs one after another)
    assert all(r.error.__traceback__ is None and r.error.__context__ is None for r in results if r.error)


def test_a_refused_back_is_a_result_not_a_skip(cert, keyring):
    """A back that does not verify is answered for its page; the next page is still checked."""
    tampered = cert.back.copy()
    tampered[:, : tampered.shape[1] // 3] = 255  # the left third cut away: no longer a readable back
    results = list(restore_pages(stack_pdf(tampered, cert.back), keyring))
    assert results[0].error is not None and results[0].skipped is None, results[0].error
    assert isinstance(results[0].error, errors.LocateError | errors.CodeError)
    assert results[1].restoration is not None


def test_a_single_picture_is_one_page(cert, keyring):
    results = list(restore_pages(encode_image(cert.back, "png"), keyring))
    assert len(results) == 1 and results[0].page == 1 and results[0].upload.page_count == 1
    assert results[0].restoration is not None


def test_the_page_limit_refuses_the_upload_and_says_the_limit(cert, keyring):
    data = stack_pdf(cert.back, cert.back, cert.back)
    with pytest.raises(errors.TooManyPages) as caught:
        list(restore_pages(data, keyring, Limits(max_pages=2)))
    assert caught.value.context["max_pages"] == 2 and caught.value.context["pages"] == 3


def test_an_unreadable_upload_is_refused_as_a_whole(keyring):
    with pytest.raises(errors.UnsupportedFormat):
        list(restore_pages(b"GIF89a" + bytes(64), keyring))


def test_pages_without_a_back_share_the_stack_search_time(cert, keyring, monkeypatch):
    """Once the pages without a back have spent the stack's search time, the rest is left unchecked (the caller
    sees fewer results than pages)."""
    import importlib

    monkeypatch.setattr(importlib.import_module("verify.restore"), "STACK_SEARCH_SECONDS", 1e-6)
    results = list(restore_pages(stack_pdf(cert.front, cert.back), keyring))
    assert [r.page for r in results] == [1]  # page 2 left unchecked
    assert isinstance(results[0].error, errors.MarkersNotFound)
    assert results[0].error.context["reason"] == "search_budget" and results[0].skipped is None
    assert results[0].upload.page_count == 2


def test_a_page_that_cannot_be_read_ends_the_reading_and_keeps_the_pages_before(cert, keyring):
    """A stack whose second page is a form bomb: the first page's result is kept, the second carries its error, the
    third is left unchecked (the PDF's reader was stopped with the bomb). Nothing answered is lost."""
    from tests.pipeline.hostile import pdf_form_bomb, pdf_joined

    back = stack_pdf(cert.back)
    results = list(restore_pages(pdf_joined(back, pdf_form_bomb(), back), keyring))
    assert [r.page for r in results] == [1, 2]
    assert results[0].restoration is not None
    assert isinstance(results[1].error, errors.PdfTooComplex) and results[1].error.context["format"] == "pdf"
    assert results[1].upload.page_count == 3  # the caller lists page 3 as unchecked
    with pytest.raises(errors.PdfTooComplex):  # the bomb first: nothing answered, the upload refused as a whole
        list(restore_pages(pdf_joined(pdf_form_bomb(), back), keyring))
