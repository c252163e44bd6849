"""``python -m verify issue --front FRONT.pdf``: a municipality's PDF, drawn at 300 dpi, its pages the sheets of one
certificate, each with its own back."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import img2pdf
import numpy as np
import pytest

from tests.metrics import fidelity
from tests.pipeline.hostile import pdf_encrypted, pdf_form_bomb
from tests.pipeline.test_cli import run
from verify import KeyRing, fronts_from_pdf, restore, restore_pages
from verify.errors import CorruptFile, PdfEncrypted, PdfTooComplex, TooManyPages
from verify.output import encode_image
from verify.sample import default_fields, protected_regions, protected_texts, render_sample_front

A4 = img2pdf.get_layout_fun((img2pdf.mm_to_pt(210), img2pdf.mm_to_pt(297)))


def pdf_of(*fronts: np.ndarray) -> bytes:
    """A PDF with one A4 page per front, as a municipality's system exports it."""
    return img2pdf.convert([encode_image(front, "png") for front in fronts], layout_fun=A4)


@pytest.fixture(scope="module")
def samples():
    return [render_sample_front(default_fields(serial="PDF-0001", variant=v)) for v in (0, 1)]


@pytest.fixture(scope="module")
def keys(tmp_path_factory) -> Path:
    keys = tmp_path_factory.mktemp("pdfkeys") / "keys"
    assert run("keys", "init", keys=keys).returncode == 0
    return keys


@pytest.fixture(scope="module")
def two_pages(samples, keys, tmp_path_factory):
    """A two-page PDF front issued with regions named per page: page 1 binds its protected fields with their
    text, page 2 its own fields' boxes only for two of them, with text."""
    root = tmp_path_factory.mktemp("pdfissue")
    front = root / "front.pdf"
    front.write_bytes(pdf_of(*(s.image for s in samples)))
    names_2 = sorted(protected_regions(samples[1]))[:2]
    per_page = {
        "1": {name: {"box": list(box), "text": protected_texts(samples[0])[name]}
              for name, box in protected_regions(samples[0]).items()},
        "2": {name: {"box": list(protected_regions(samples[1])[name]), "text": protected_texts(samples[1])[name]}
              for name in names_2},
    }
    regions = root / "regions.json"
    regions.write_text(json.dumps(per_page, ensure_ascii=False), encoding="utf-8")
    out = root / "out"
    done = run("issue", "--out", str(out), "--front", str(front), "--regions", str(regions), "--serial", "PDF-0001",
               "--issued-on", "2026-12-01", "--no-ground", keys=keys)
    assert done.returncode == 0, done.stderr
    return out, json.loads(done.stdout), per_page


def test_a_pdf_page_is_drawn_at_300_dpi_as_the_front_it_shows(samples):
    fronts = fronts_from_pdf(pdf_of(*(s.image for s in samples)))
    assert len(fronts) == 2
    for front, sample in zip(fronts, samples, strict=True):
        assert front.shape == (3508, 2480, 3) and front.dtype == np.uint8  # A4 at 300 dpi, RGB
        assert np.abs(front.astype(int) - sample.image.astype(int)).mean() < 2  # drawn as the page shows
    assert np.abs(fronts[0].astype(int) - fronts[1].astype(int)).mean() > 2  # each page its own


def test_each_page_is_a_sheet_of_one_certificate_with_its_own_back(two_pages):
    out, report, _ = two_pages
    assert [s["sheet"] for s in report["sheets"]] == [1, 2]
    assert [(s["certificate"]["serial"], s["certificate"]["sheet"], s["certificate"]["sheets"])
            for s in report["sheets"]] == [("PDF-0001", 1, 2), ("PDF-0001", 2, 2)]
    for number in (1, 2):
        assert sorted(f.name for f in (out / f"sheet-{number}").iterdir()) == ["back.png", "front.png"]
    assert sorted(f.name for f in out.iterdir()) == ["certificate.pdf", "sheet-1", "sheet-2"]


def test_the_certificate_pdf_interleaves_fronts_and_backs_for_duplex_printing(two_pages, samples, keys):
    """Four A4 pages: sheet 1's front, its back, sheet 2's front, its back; each back is read as its sheet."""
    out, _, _ = two_pages
    results = list(restore_pages((out / "certificate.pdf").read_bytes(), KeyRing.load(keys)))
    assert [r.page for r in results] == [1, 2, 3, 4]
    assert [r.skipped for r in results] == ["no_back", None, "no_back", None]  # the fronts, named as such
    assert [r.restoration.certificate.sheet for r in results[1::2]] == [1, 2]
    for front, sample in zip(fronts_from_pdf((out / "certificate.pdf").read_bytes())[::2], samples, strict=True):
        assert fidelity(front, sample.image) >= 0.95


@pytest.mark.parametrize("number", [1, 2])
def test_each_back_restores_to_its_own_page_with_its_regions(two_pages, samples, keys, number):
    out, _, per_page = two_pages
    result = restore((out / f"sheet-{number}" / "back.png").read_bytes(), KeyRing.load(keys))
    assert (result.certificate.serial, result.certificate.sheet, result.certificate.sheets) == ("PDF-0001", number, 2)
    own, other = samples[number - 1].image, samples[2 - number].image
    assert fidelity(result.image, own) >= 0.95
    assert fidelity(result.image, own) > fidelity(result.image, other) + 0.05
    named = per_page[str(number)]
    assert result.content["bound"] is True and result.content["regions"] == len(named)
    assert {r["name"]: r["text"] for r in result.content["signed_text"]} == {n: v["text"] for n, v in named.items()}


def test_a_one_page_pdf_writes_what_an_image_front_writes(samples, keys, tmp_path):
    front = tmp_path / "front.pdf"
    front.write_bytes(pdf_of(samples[0].image))
    out = tmp_path / "out"
    done = run("issue", "--out", str(out), "--front", str(front), "--serial", "PDF-0002", "--no-ground", keys=keys)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert set(report) == {"certificate", "files"} and report["certificate"]["serial"] == "PDF-0002"
    assert sorted(f.name for f in out.iterdir()) == ["back.png", "certificate.pdf", "front.png"]
    assert cv2.imread(str(out / "back.png")).shape[:2] == (3508, 2480)


def test_a_front_of_several_pages_refuses_flat_regions_and_bad_serials_before_writing(samples, keys, tmp_path):
    front = tmp_path / "front.pdf"
    front.write_bytes(pdf_of(samples[0].image, samples[1].image))
    regions = tmp_path / "regions.json"
    regions.write_text(json.dumps({"name": [100, 100, 400, 200]}), encoding="utf-8")
    done = run("issue", "--out", str(tmp_path / "out"), "--front", str(front), "--regions", str(regions), keys=keys)
    assert done.returncode == 3 and "key the regions by page number" in done.stderr
    regions.write_text(json.dumps({"3": {"name": [100, 100, 400, 200]}}), encoding="utf-8")
    done = run("issue", "--out", str(tmp_path / "out"), "--front", str(front), "--regions", str(regions), keys=keys)
    assert done.returncode == 3 and "page 3" in done.stderr
    done = run("issue", "--out", str(tmp_path / "out"), "--front", str(front), "--serial", "S" * 33, keys=keys)
    assert done.returncode == 3 and "serial" in done.stderr  # the format's serials have at most 32 characters
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("content", "code"), [
    (pdf_encrypted(), "pdf_encrypted"),
    (b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n", "corrupt_file"),
    (b"this is not a PDF at all\n", "unsupported_format"),
])
def test_a_bad_pdf_front_gets_its_upload_error_code(content, code, keys, tmp_path):
    front = tmp_path / "front.pdf"
    front.write_bytes(content)
    done = run("issue", "--out", str(tmp_path / "out"), "--front", str(front), keys=keys)
    assert done.returncode == 3, done.stdout + done.stderr
    lines = done.stdout.strip().splitlines()
    assert len(lines) == 1 and json.loads(lines[0])["ok"] is False
    assert json.loads(lines[0])["error"]["code"] == code
    assert not (tmp_path / "out").exists()


def test_the_upload_bounds_hold_for_issuing():
    blank = np.full((350, 248, 3), 255, np.uint8)
    with pytest.raises(TooManyPages):
        fronts_from_pdf(pdf_of(*[blank] * 11))  # the upload limit is 10 pages
    with pytest.raises(PdfEncrypted):
        fronts_from_pdf(pdf_encrypted())
    with pytest.raises(CorruptFile):
        fronts_from_pdf(b"%PDF-1.4\n" + b"\x00" * 64)
    with pytest.raises(PdfTooComplex):  # drawn under the uploads' deadline and memory bound, in the child
        fronts_from_pdf(pdf_form_bomb())
