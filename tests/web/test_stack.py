"""A scanned stack through the site: ``?pages=all`` answers every page with its page number, each page is its own
log entry under the upload's request id, and the single answer keeps its shape."""

from __future__ import annotations

from tests.support import create_key
from tests.web.helpers import (
    METRICS_TOKEN,
    SERIAL,
    SERIAL_SHEETS,
    SERIAL_V1,
    check_schema,
    log_entries,
    metric,
    metric_samples,
    stack_pdf,
)

URL = "/api/v1/verifications"







def post(client, key: str, data: bytes, query: str = "?image=none&pages=all"):
    return client.post(URL + query, data=data, headers={"Authorization": f"Bearer {key}",
                                                        "Content-Type": "application/pdf"})


def test_two_backs_are_both_verified_with_their_page_numbers(app, client, api_key, sample, spec):
    response = post(client, api_key, stack_pdf(sample.back_png, sample.v1_png))
    assert response.status_code == 200, response.get_json()
    body = response.get_json()
    check_schema(spec, "Stack", body)
    assert body["page_count"] == 2 and body["unchecked_pages"] == []
    assert [(r["page"], r["outcome"], r["certificate"]["serial"]) for r in body["results"]] == [
        (1, "verified", SERIAL), (2, "verified", SERIAL_V1)]
    assert body["upload"]["format"] == "pdf" and body["upload"]["page_count"] == 2
    # the log: one entry per page, both under the upload's request id, and the chain verifies
    entries = log_entries(app)
    assert [(e["page"], e["outcome"], e["serial"]) for e in entries] == [(1, "verified", SERIAL),
                                                                        (2, "verified", SERIAL_V1)]
    assert {e["request_id"] for e in entries} == {body["request_id"]}
    assert response.headers["X-Request-ID"] == body["request_id"]
    checked = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert checked.exit_code == 0 and "2 entries verified" in checked.output, checked.output


def test_front_and_blank_pages_are_named(app, client, api_key, sample, blank_png, spec):
    """The kiosk's certificate.pdf (front, then back) with a blank sheet after it."""
    front = sample.pdf  # two pages: the front, then the back
    import pypdfium2

    doc = pypdfium2.PdfDocument(front)
    doc.import_pages(pypdfium2.PdfDocument(stack_pdf(blank_png)))
    import io

    out = io.BytesIO()
    doc.save(out)
    body = post(client, api_key, out.getvalue(), "?image=jpeg&pages=all").get_json()
    check_schema(spec, "Stack", body)
    pages = body["results"]
    assert [(r["page"], r["outcome"], r.get("skipped")) for r in pages] == [
        (1, "skipped", "no_back"), (2, "verified", None), (3, "skipped", "blank")]
    assert pages[0]["code"] == pages[2]["code"] == "markers_not_found"
    assert pages[0]["context"]["reason"] == "no_back" and pages[0]["status"] == 422
    assert pages[1]["restored_image"]["media_type"] == "image/jpeg"
    entries = log_entries(app)
    assert [(e["page"], e["outcome"], e["error_code"]) for e in entries] == [
        (1, "failed", "markers_not_found"), (2, "verified", None), (3, "failed", "markers_not_found")]


def test_the_sheets_of_a_certificate_are_grouped_and_the_missing_sheet_named(app, client, api_key, sample, spec):
    """Sheets 1 and 3 of a certificate of three, with another certificate's back between them."""
    sheet1, _, sheet3 = sample.sheet_pngs
    body = post(client, api_key, stack_pdf(sheet1, sample.back_png, sheet3, sample.v1_png)).get_json()
    check_schema(spec, "Stack", body)
    assert [(r["page"], r["outcome"], r["certificate"]["sheet"], r["certificate"]["sheets"])
            for r in body["results"]] == [(1, "verified", 1, 3), (2, "verified", 1, 1), (3, "verified", 3, 3),
                                          (4, "verified", None, None)]  # format v1 says nothing of sheets
    assert [(c["serial"], c["sheets"], c["seen"], c["missing"], c["complete"]) for c in body["certificates"]] == [
        (SERIAL_SHEETS, 3, [1, 3], [2], False), (SERIAL, 1, [1], [], True), (SERIAL_V1, None, [1], [], False)]
    assert body["certificates"][0]["pages"] == [{"sheet": 1, "page": 1}, {"sheet": 3, "page": 3}]


def test_a_sheet_of_another_issue_claiming_the_serial_is_refused(app, client, api_key, sample, spec):
    """Sheet 2 of the same serial issued on another day: genuine on its own, not a sheet of this issue."""
    sheet1, sheet2, sheet3 = sample.sheet_pngs
    body = post(client, api_key, stack_pdf(sheet1, sample.reissued_sheet_png, sheet3)).get_json()
    check_schema(spec, "Stack", body)
    refused = body["results"][1]
    assert (refused["outcome"], refused["code"], refused["status"]) == ("failed", "sheets_disagree", 422)
    assert refused["context"]["disagrees"] == ["issued_on"] and refused["context"]["with_page"] == 1
    assert refused["context"]["signature"] == "valid"  # each sheet is genuine; they are not one issue
    assert [(c["seen"], c["missing"]) for c in body["certificates"]] == [([1, 3], [2])]
    assert [(e["page"], e["outcome"], e["error_code"], e["serial"]) for e in log_entries(app)] == [
        (1, "verified", None, SERIAL_SHEETS), (2, "failed", "sheets_disagree", SERIAL_SHEETS),
        (3, "verified", None, SERIAL_SHEETS)]
    # the same three sheets of one issue: complete
    body = post(client, api_key, stack_pdf(sheet3, sheet1, sheet2)).get_json()
    assert [(c["seen"], c["missing"], c["complete"]) for c in body["certificates"]] == [([1, 2, 3], [], True)]


def test_a_single_page_upload_keeps_todays_answer(app, client, api_key, sample, spec):
    """Without ``pages=all`` nothing changes: a PNG, and the front-and-back PDF, answer the single Verification."""
    for data in (sample.back_png, sample.pdf):
        response = post(client, api_key, data, "?image=none")
        body = response.get_json()
        assert response.status_code == 200 and "results" not in body
        check_schema(spec, "Verification", body)
        assert body["outcome"] == "verified" and body["certificate"]["serial"] == SERIAL
    assert [e["page"] for e in log_entries(app)] == [None, None]  # one entry each, hashed as before
    checked = app.test_cli_runner().invoke(args=["audit", "verify"])
    assert checked.exit_code == 0 and "2 entries verified" in checked.output, checked.output


def test_a_single_picture_with_pages_all_is_a_list_of_one(app, client, api_key, sample, spec):
    response = post(client, api_key, sample.back_png)
    body = response.get_json()
    check_schema(spec, "Stack", body)
    assert [(r["page"], r["outcome"]) for r in body["results"]] == [(1, "verified")]
    assert [e["page"] for e in log_entries(app)] == [None]


def test_an_altered_page_is_answered_in_its_place(app, client, api_key, sample, spec):
    body = post(client, api_key, stack_pdf(sample.forged_png, sample.back_png)).get_json()
    check_schema(spec, "Stack", body)
    first, second = body["results"]
    assert first["page"] == 1 and first["outcome"] in {"altered", "failed"}
    assert first["code"] in {"altered", "content_unconfirmed"} and first["context"]["regions"]
    assert second["outcome"] == "verified"


def test_an_upload_refused_as_a_whole_is_one_problem(app_factory, sample):

    app = app_factory(MAX_PAGES=1)
    client, api_key = app.test_client(), create_key(app.test_cli_runner(), "bank-a")
    response = post(client, api_key, stack_pdf(sample.back_png, sample.back_png))
    assert response.status_code == 413 and response.get_json()["code"] == "too_many_pages"
    assert response.get_json()["context"]["max_pages"] == 1
    assert [(e["page"], e["error_code"]) for e in log_entries(app)] == [(None, "too_many_pages")]


def test_an_unknown_pages_value_is_a_bad_request(client, api_key, sample):
    response = post(client, api_key, sample.back_png, "?pages=some")
    assert response.status_code == 400 and response.get_json()["code"] == "bad_request"


def test_metrics_count_each_page(app_factory, sample, blank_png):

    app = app_factory(METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    key = create_key(app.test_cli_runner(), "bank-a")

    def counts() -> tuple[float, float]:
        text = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}).get_data(as_text=True)
        samples, name = metric_samples(text), "certverify_verifications_total"
        return (metric(samples, name, channel="api", outcome="verified", code="none"),
                metric(samples, name, channel="api", outcome="failed", code="markers_not_found"))

    before = counts()
    post(client, key, stack_pdf(sample.back_png, blank_png, sample.v1_png))
    after = counts()
    assert (after[0] - before[0], after[1] - before[1]) == (2, 1)  # as many as the log's entries


def test_pages_left_unchecked_are_listed(app, client, api_key, sample, spec, monkeypatch):
    """Once the pages without a back have spent the stack's search time, the answer lists the pages not checked
    (here the time is cut to nothing, so the first page's search runs out at once)."""
    import importlib

    monkeypatch.setattr(importlib.import_module("verify.restore"), "STACK_SEARCH_SECONDS", 1e-6)
    body = post(client, api_key, stack_pdf(sample.back_png, sample.v1_png, sample.back_png)).get_json()
    check_schema(spec, "Stack", body)
    assert [(r["page"], r["code"], r["context"]["reason"]) for r in body["results"]] == [
        (1, "markers_not_found", "search_budget")]
    assert body["unchecked_pages"] == [2, 3] and body["page_count"] == 3
    assert [e["page"] for e in log_entries(app)] == [1]


def test_a_page_that_cannot_be_read_keeps_the_pages_answered_before_it(app, client, api_key, sample, spec):
    """A stack whose second page is a form bomb: page 1's result is answered and logged, page 2 says why it could
    not be read, page 3 is listed unchecked. The stack page says the same."""
    from tests.pipeline.hostile import pdf_form_bomb, pdf_joined
    from tests.web.helpers import upload

    data = pdf_joined(stack_pdf(sample.back_png), pdf_form_bomb(), stack_pdf(sample.v1_png))
    response = post(client, api_key, data)
    assert response.status_code == 200
    body = response.get_json()
    check_schema(spec, "Stack", body)
    assert [(r["page"], r["outcome"], r.get("code")) for r in body["results"]] == [
        (1, "verified", None), (2, "failed", "pdf_too_complex")]
    assert body["unchecked_pages"] == [3]
    assert [(e["page"], e["error_code"]) for e in log_entries(app)] == [(1, None), (2, "pdf_too_complex")]
    html = upload(client, data, filename="stack.pdf", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert "Page 3 was not checked: page 2 could not be read" in html and 'id="page-1"' in html
