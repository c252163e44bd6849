"""Format v4: a certificate of several sheets, each with its own back under one serial (docs/format.md, section 11)."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.forgery import with_code
from tests.metrics import fidelity
from verify import errors, issue, restore, restore_pages
from verify.code import CodePayload, parse_code, sign_payload
from verify.issuing import duplex_pdf, fit_front
from verify.output import encode_image
from verify.sample import default_fields, render_sample_front
from verify.sheets import group

DAY = dt.date(2026, 11, 2)
SERIAL = "SHEETS-000001"


@pytest.fixture(scope="module")
def sheets(keyring):
    """The three sheets of one certificate, each front a household page of its own."""
    fronts = [render_sample_front(default_fields(serial=SERIAL, issued_on=DAY, variant=v)).image for v in (0, 1, 2)]
    return [issue(keyring, front=front, serial=SERIAL, issued_on=DAY, sheet=(n, 3))
            for n, front in enumerate(fronts, start=1)]


def test_each_sheet_restores_to_its_own_front_and_names_its_sheet(sheets, keyring):
    for number, sheet in enumerate(sheets, start=1):
        result = restore(encode_image(sheet.back, "png"), keyring)
        facts = result.certificate
        assert (facts.format_version, facts.serial, facts.sheet, facts.sheets) == (4, SERIAL, number, 3)
        assert fidelity(result.image, fit_front(sheet.front)) >= 0.97
        others = [fidelity(result.image, fit_front(s.front)) for s in sheets if s is not sheet]
        assert max(others) < fidelity(result.image, fit_front(sheet.front)) - 0.05


def test_a_sheet_cannot_be_relabelled_as_another(sheets, keyring):
    """Sheet 1's back with a code signed for sheet 2 of the same serial (an issuer's own signature, as a replay would
    need): its blocks derive from sheet 2's key, so they no longer fit together."""
    payload = parse_code(sheets[0].code)[0]
    relabelled = sign_payload(CodePayload(payload.issuer, payload.key_id, payload.serial, payload.document_type,
                                          payload.issued_on, 4, payload.content_digest, 2, 3), keyring)
    with pytest.raises((errors.ScrambleMismatch, errors.ScanUnrestorable)):
        restore(encode_image(with_code(sheets[0].back, relabelled), "png"), keyring)


def test_a_stack_groups_the_sheets_and_names_the_one_missing(sheets, keyring):
    """The duplex PDF of sheets 3 and 1 (fronts and backs) and a sheet of the same serial from another issue."""
    reissued = issue(keyring, serial=SERIAL, issued_on=DAY + dt.timedelta(days=7), sheet=(2, 3))
    results = list(restore_pages(duplex_pdf([sheets[2], sheets[0], reissued]), keyring))
    assert [r.skipped for r in results[::2]] == ["no_back"] * 3  # the fronts
    backs = results[1::2]
    assert [r.restoration.certificate.sheet for r in backs[:2]] == [3, 1]
    refused = backs[2].error
    assert isinstance(refused, errors.SheetsDisagree) and refused.context["disagrees"] == ["issued_on"]
    assert refused.context["with_page"] == 2 and refused.context["signature"] == "valid"
    [certificate] = group((r.page, r.restoration.certificate) for r in results if r.restoration is not None)
    assert (certificate.serial, certificate.seen, certificate.missing) == (SERIAL, [1, 3], [2])
    assert certificate.to_dict()["pages"] == [{"sheet": 1, "page": 4}, {"sheet": 3, "page": 2}]
    assert certificate.to_dict()["complete"] is False


def test_older_backs_stand_alone_with_nothing_known_missing(keyring):
    v3 = issue(keyring, serial="SHEETS-000003", issued_on=DAY, version=3)
    [result] = list(restore_pages(encode_image(v3.back, "png"), keyring))
    facts = result.restoration.certificate
    assert (facts.format_version, facts.sheet, facts.sheets, facts.sheet_of) == (3, None, None, None)
    [certificate] = group([(1, facts)])
    assert (certificate.sheets, certificate.seen, certificate.missing) == (None, [1], [])
    assert certificate.to_dict()["complete"] is False  # how many sheets it has is not known


def test_a_back_of_an_older_version_cannot_claim_sheets(keyring):
    with pytest.raises(ValueError, match="issue format v4"):
        issue(keyring, serial="SHEETS-000004", version=3, sheet=(1, 2))
