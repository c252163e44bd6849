"""The JSON API: authentication, both ways of sending a scan, answers that match the OpenAPI document."""

from __future__ import annotations

import base64
import json
import re

import cv2
import numpy as np
import pytest
from openapi_spec_validator import validate as validate_spec

from tests.support import create_key
from tests.web.helpers import (
    METRICS_TOKEN,
    SERIAL,
    check_schema,
    log_entries,
    metric,
    metric_samples,
    multipart,
    upload,
)
from web.problems import all_codes, status_for

URL = "/api/v1/verifications"




def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def scrape(client) -> dict:
    """The app's /metrics, read as samples."""
    response = client.get("/metrics", headers=auth(METRICS_TOKEN))
    assert response.status_code == 200
    return metric_samples(response.get_data(as_text=True))


def test_openapi_document_is_valid_and_served(client, spec):
    validate_spec(spec)
    response = client.get("/api/v1/openapi.json")
    assert response.status_code == 200 and response.json == spec
    assert spec["openapi"].startswith("3.1")
    assert "/api/v1/verifications" in spec["paths"]


def test_openapi_lists_every_error_code(spec):
    documented = set(spec["components"]["schemas"]["ErrorCode"]["enum"])
    assert set(all_codes()) <= documented
    responses = spec["paths"]["/api/v1/verifications"]["post"]["responses"]
    not_for_this_operation = {"forbidden", "not_found", "method_not_allowed"}  # console / other paths and methods
    for code in set(all_codes()) - not_for_this_operation:
        assert str(status_for(code)) in responses, code


def test_raw_body_verifies_with_png_by_default(app, client, api_key, sample, spec):
    response = client.post(URL, data=sample.back_jpeg, headers={**auth(api_key), "Content-Type": "image/jpeg"})
    assert response.status_code == 200, response.json
    assert response.headers["Cache-Control"] == "no-store"
    body = response.json
    check_schema(spec, "Verification", body)
    assert body["outcome"] == "verified"
    assert body["certificate"]["serial"] == SERIAL
    assert body["certificate"]["signature"] == "valid"
    assert body["quality"]["dpi"] > 100
    assert body["restored_image"]["media_type"] == "image/png"
    assert base64.b64decode(body["restored_image"]["data"])[:8] == b"\x89PNG\r\n\x1a\n"
    assert body["upload"]["format"] == "jpeg"
    entries = log_entries(app)
    assert [(e["channel"], e["client"], e["outcome"], e["serial"]) for e in entries] == [
        ("api", "bank-a", "verified", SERIAL)]
    assert entries[0]["request_id"] == body["request_id"] == response.headers["X-Request-ID"]


def test_multipart_field_scan_and_image_choices(client, api_key, sample, spec):
    response = client.post(URL + "?image=none", headers=auth(api_key),
                           **multipart({"scan": (sample.back_jpeg, "back.jpg")}))
    assert response.status_code == 200
    check_schema(spec, "Verification", response.json)
    assert "restored_image" not in response.json
    response = client.post(URL + "?image=jpeg", headers=auth(api_key), data=sample.back_jpeg)
    assert response.json["restored_image"]["media_type"] == "image/jpeg"
    assert base64.b64decode(response.json["restored_image"]["data"])[:2] == b"\xff\xd8"


def test_unknown_image_choice_is_bad_request(client, api_key, spec):
    response = client.post(URL + "?image=gif", headers=auth(api_key), data=b"x")
    assert response.status_code == 400
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "bad_request"


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer cv_nope_nope"}, {"Authorization": "Basic eDp5"},
                                     {"Authorization": "Bearer"}])
def test_missing_or_wrong_key_is_401(app, client, sample, spec, headers):
    response = client.post(URL, data=sample.back_jpeg, headers=headers)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "unauthorized"
    assert log_entries(app) == []


def test_revoked_key_is_401(client, runner, sample):
    key = create_key(runner, "bank-revoked")
    assert client.post(URL + "?image=none", data=sample.back_jpeg, headers=auth(key)).status_code == 200
    assert runner.invoke(args=["api-keys", "revoke", "bank-revoked"]).exit_code == 0
    response = client.post(URL, data=sample.back_jpeg, headers=auth(key))
    assert response.status_code == 401 and response.json["code"] == "unauthorized"


def test_problem_detail_follows_the_request_language(client, api_key, spec):
    ja = client.post(URL, data=b"", headers=auth(api_key)).json
    en = client.post(URL, data=b"", headers={**auth(api_key), "Accept-Language": "en"}).json
    check_schema(spec, "Problem", en)
    assert ja["code"] == en["code"] == "empty_upload" and ja["status"] == 400
    assert "ファイルが空です" in ja["detail"] and en["detail"].startswith("The upload is empty")
    assert en["type"].endswith("/errors/empty_upload")
    assert en["instance"] == f"urn:uuid:{en['request_id']}"


def test_multipart_without_scan_field_is_empty_upload(client, api_key):
    response = client.post(URL, headers=auth(api_key), **multipart({"other": (b"abc", "x.png")}))
    assert response.status_code == 400 and response.json["code"] == "empty_upload"


def test_api_needs_no_csrf_token(client, api_key):
    # the API is exempt from CSRF: a missing token does not turn into csrf_failed
    response = client.post(URL, data=b"", headers=auth(api_key))
    assert response.json["code"] == "empty_upload"


@pytest.mark.parametrize("method", ["GET", "PUT", "DELETE", "PATCH"])
def test_wrong_method_is_405_problem(client, method, spec):
    response = client.open(URL, method=method)
    assert response.status_code == 405
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "method_not_allowed"
    assert "POST" in response.headers["Allow"]


def test_unknown_api_path_is_404_problem(client):
    response = client.post("/api/v1/nothing")
    assert response.status_code == 404 and response.json["code"] == "not_found"


def test_api_rate_limit_counts_per_key(app_factory, sample, spec):
    app = app_factory(RATELIMIT_API="2 per minute")
    client, runner = app.test_client(), app.test_cli_runner()
    first, second = create_key(runner, "bank-1"), create_key(runner, "bank-2")
    for _ in range(2):
        assert client.post(URL, data=b"", headers=auth(first)).status_code == 400
    response = client.post(URL, data=b"", headers=auth(first))
    assert response.status_code == 429
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "rate_limited"
    wait = int(response.headers["Retry-After"])
    said = re.search(r"(\d+) (?:seconds|秒)", response.json["detail"])
    assert wait >= 1 and said and abs(int(said[1]) - wait) <= 1
    assert client.post(URL, data=b"", headers=auth(second)).status_code == 400  # its own allowance


def test_request_larger_than_limit_is_413_problem(app_factory, sample, spec):
    app = app_factory(MAX_REQUEST_BYTES=100_000)
    key = create_key(app.test_cli_runner(), "bank-a")
    response = app.test_client().post(URL, data=sample.back_jpeg, headers=auth(key))
    assert response.status_code == 413
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "request_too_large"


def overloads(client, reason: str) -> float:
    """``certverify_overloaded_total`` of ``reason`` and the overloaded verifications, summed."""
    samples = scrape(client)
    return (metric(samples, "certverify_overloaded_total", reason=reason)
            + metric(samples, "certverify_verifications_total", channel="api", outcome="failed", code="overloaded"))


def test_overloaded_answers_503_with_retry_after(app_factory, sample, spec):
    from web import service

    app = app_factory(VERIFY_QUEUE_MAX=0, METRICS_TOKEN=METRICS_TOKEN)
    key = create_key(app.test_cli_runner(), "bank-a")
    with app.app_context():
        admission = service.state().admission
    before = overloads(app.test_client(), "queue_full")
    assert admission._free.acquire(blocking=False)  # a verification is running
    try:
        response = app.test_client().post(URL, data=sample.back_jpeg, headers=auth(key))
    finally:
        admission._free.release()
    assert response.status_code == 503
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "overloaded"
    assert int(response.headers["Retry-After"]) >= 1
    assert [e["error_code"] for e in log_entries(app)] == ["overloaded"]  # admitted: an entry
    assert overloads(app.test_client(), "queue_full") == before + 2  # by its reason, and as a verification


def test_waiting_is_bounded_by_the_queue_timeout(app_factory, sample):
    import time

    from web import service

    app = app_factory(VERIFY_QUEUE_MAX=2, VERIFY_QUEUE_TIMEOUT=0.3, METRICS_TOKEN=METRICS_TOKEN)
    key = create_key(app.test_cli_runner(), "bank-a")
    with app.app_context():
        admission = service.state().admission
    before = overloads(app.test_client(), "queue_timeout")
    assert admission._free.acquire(blocking=False)
    try:
        start = time.monotonic()
        response = app.test_client().post(URL, data=sample.back_jpeg, headers=auth(key))
        waited = time.monotonic() - start
    finally:
        admission._free.release()
    assert response.status_code == 503 and response.json["code"] == "overloaded"
    assert 0.3 <= waited < 1.5
    assert overloads(app.test_client(), "queue_timeout") == before + 2
    assert metric(scrape(app.test_client()), "certverify_verifications_waiting") == 0


def test_missing_key_ring_is_503_configuration(app_factory, tmp_path, spec):
    app = app_factory(KEYS_DIR=str(tmp_path / "missing"))
    key = create_key(app.test_cli_runner(), "bank-a")
    response = app.test_client().post(URL, data=b"\x89PNG\r\n\x1a\n", headers=auth(key))
    assert response.status_code == 503
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "configuration"


def test_status_map():
    """Every code the site can answer with has the status written here: a new error class or web code fails this test
    until its status is decided (422 is not a default to fall into), and an undeclared code is an error."""
    expected = {"empty_upload": 400, "unsupported_format": 415, "too_large": 413, "too_many_pixels": 413,
                "too_many_pages": 413, "corrupt_file": 422, "pdf_encrypted": 422, "pdf_too_complex": 422,
                "not_a_page": 422, "resolution_too_low": 422, "markers_not_found": 422, "grid_not_found": 422,
                "code_unreadable": 422, "strip_unreadable": 422, "unsupported_version": 422, "unknown_key": 422,
                "bad_signature": 422, "scramble_mismatch": 422, "sheets_disagree": 422, "content_unverifiable": 422,
                "content_unconfirmed": 422, "scan_unrestorable": 422, "altered": 422, "configuration": 503,
                "bad_request": 400, "csrf_failed": 400, "unauthorized": 401, "forbidden": 403, "not_found": 404,
                "method_not_allowed": 405, "request_timeout": 408, "request_too_large": 413, "rate_limited": 429,
                "internal": 500, "overloaded": 503, "unavailable": 503}
    assert {code: status_for(code) for code in all_codes()} == expected
    with pytest.raises(KeyError):  # an undeclared code is a programming error, not a guessed status
        status_for("some_future_code")


def test_unrecorded_attempt_is_not_answered_with_a_result(client, api_key, sample, monkeypatch, spec):
    """If the log cannot take the entry, the client gets 503 unavailable, never an unlogged verification."""
    from web import auditlog

    def broken(entry):
        raise auditlog.LogUnavailable("database is down")

    monkeypatch.setattr(auditlog, "record", broken)
    response = client.post(URL, data=sample.back_jpeg, headers=auth(api_key))
    assert response.status_code == 503
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "unavailable" and "certificate" not in response.json
    assert int(response.headers["Retry-After"]) >= 1


def test_unexpected_fault_is_500_internal_and_still_logged(app, client, api_key, monkeypatch, spec):
    import verify

    def crash(data, keyring, limits=None):
        raise RuntimeError("a bug")

    monkeypatch.setattr(verify, "restore", crash)
    response = client.post(URL, data=b"\x89PNG\r\n\x1a\n", headers=auth(api_key))
    assert response.status_code == 500
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "internal" and "a bug" not in response.get_data(as_text=True)
    assert [(e["outcome"], e["error_code"]) for e in log_entries(app)] == [("failed", "internal")]


def test_back_from_an_unknown_issuing_key_is_422_unknown_key(app, client, api_key, tmp_path, spec):
    import verify
    from verify.keys import init_ring

    stranger, _ = init_ring(tmp_path / "other-ring", "stranger-2026")
    cert = verify.issue(stranger, serial="FOREIGN-1", issuer="990002")
    response = client.post(URL, data=verify.encode_image(cert.back, fmt="jpeg", quality=92), headers=auth(api_key))
    assert response.status_code == 422
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == "unknown_key"
    entry = log_entries(app)[-1]
    assert (entry["outcome"], entry["error_code"]) == ("failed", "unknown_key")


def _refused_and_logged(app, client, api_key, spec, data: bytes, code: str) -> dict:
    """Post a scan that must be refused with 422 ``code`` and no restored front; the log entry it left."""
    response = client.post(URL, data=data, headers=auth(api_key))
    assert response.status_code == 422
    check_schema(spec, "Problem", response.json)
    assert response.json["code"] == code
    assert "restored_image" not in response.json
    return log_entries(app)[-1]


def _back_page(sample) -> np.ndarray:
    """The sample's printed back as an RGB array, for the forger's edits."""
    return cv2.cvtColor(cv2.imdecode(np.frombuffer(sample.back_png, np.uint8), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


def test_edited_code_is_422_bad_signature_and_logged(app, client, api_key, sample, spec):
    """A forger changes the serial in the code but cannot sign it."""
    import dataclasses

    import verify
    from tests.forgery import with_code
    from verify.code import parse_code

    ring = verify.KeyRing.load(sample.keys_dir)
    payload, _, signature = parse_code(verify.issue(ring, serial=SERIAL, issuer=sample.facts.issuer).code)
    edited = dataclasses.replace(payload, serial="FORGED-0001").body() + signature
    forged = verify.encode_image(with_code(_back_page(sample), edited), fmt="png")
    entry = _refused_and_logged(app, client, api_key, spec, forged, "bad_signature")
    assert (entry["outcome"], entry["error_code"], entry["signature"]) == ("failed", "bad_signature", "invalid")


def test_scrambled_area_under_another_certificates_code_is_422_scramble_mismatch(app, client, api_key, sample,
                                                                                   spec):
    """This back's scrambled area pasted under the genuine, validly signed code and data strip of another."""
    import verify
    from tests.forgery import with_area

    other = verify.issue(verify.KeyRing.load(sample.keys_dir), serial="OTHER-000002", issuer=sample.facts.issuer)
    spliced = verify.encode_image(with_area(other.back, _back_page(sample)), fmt="png")
    entry = _refused_and_logged(app, client, api_key, spec, spliced, "scramble_mismatch")
    assert (entry["outcome"], entry["error_code"], entry["serial"]) == ("failed", "scramble_mismatch", "OTHER-000002")


def test_an_altered_back_gets_its_regions_and_no_pixels(client, api_key, sample, spec):
    response = client.post("/api/v1/verifications?image=png", data=sample.forged_png,
                           headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 422
    body = response.json
    assert body["code"] == "altered"
    assert [r["name"] for r in body["context"]["regions"]] == ["address", "resident0.name", "resident0.birth"]
    assert all(len(r["box"]) == 4 for r in body["context"]["regions"])
    assert "tamper_map" not in body["context"] and "restored_image" not in body
    assert body["context"]["serial"] == SERIAL
    check_schema(spec, "Problem", body)  # the published shape, regions included


def test_the_answer_says_whether_the_content_is_bound(client, api_key, sample, spec):
    headers = {"Authorization": f"Bearer {api_key}"}
    bound = client.post("/api/v1/verifications?image=none", data=sample.back_png, headers=headers).json
    assert bound["content"]["bound"] is True and bound["content"]["regions"] == 8
    assert bound["content"]["darker"] <= 1.3 and bound["content"]["lighter"] <= 1.6
    assert ("resident0.birth", "昭和55年4月1日") in [(f["name"], f["text"]) for f in bound["content"]["signed_text"]]
    assert len(bound["content"]["signed_text"]) == 8
    check_schema(spec, "Verification", bound)  # content.signed_text with its boxes, as documented
    old = client.post("/api/v1/verifications?image=none", data=sample.v1_png, headers=headers).json
    assert old["outcome"] == "verified" and old["content"] == {"bound": False}
    assert old["certificate"]["format_version"] == 1
    check_schema(spec, "Verification", old)


def test_a_stamped_back_is_verified_naming_the_fields_the_stamp_covers(client, api_key, sample, spec):
    """A red receiving stamp over the scrambled area: verified, the fields it covers listed as not checked
    (`marked`) with the blocks it covered, never `altered`; the answer fits the published schema."""
    import numpy as np

    import verify
    from tests import field

    rng = np.random.default_rng(3)
    data = field.finish(field.stamp(_back_page(sample), rng, colour="red"), rng)
    response = client.post("/api/v1/verifications?image=none", data=data,
                           headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 200, response.json
    body = response.json
    check_schema(spec, "Verification", body)
    assert body["outcome"] == "verified" and body["content"]["marks"]["marked"]
    assert all(u["reason"] == "marked" for u in body["content"]["unchecked"])
    assert body["content"]["checked"] + len(body["content"]["unchecked"]) == body["content"]["regions"]
    assert verify.content.ACCUSE > body["content"]["darker"]


def test_the_log_takes_every_admitted_attempt_and_no_refusal_at_the_door(app_factory, sample, capsys):
    """The rule docs/auditlog.md states: an attempt from an admitted client is logged whatever its outcome (here an
    empty body, and a form with no scan field); a request refused before it is admitted (no key, over the rate
    limit, too large to read, a malformed request, a form without its CSRF token) is not, so nobody without a key or
    over the limit can grow the log. Each refusal is still seen by the operator: a request log line with its status
    and code, and a count in ``certverify_refusals_total`` by reason and channel."""
    app = app_factory(RATELIMIT_API="4 per minute", RATELIMIT_PUBLIC="1 per minute", MAX_REQUEST_BYTES=100_000,
                      METRICS_TOKEN=METRICS_TOKEN)
    client = app.test_client()
    key = create_key(app.test_cli_runner(), "bank-a")
    before = scrape(client)
    capsys.readouterr()
    admitted = [client.post(URL, data=b"", headers=auth(key)),
                client.post(URL, **multipart({"other": (b"x", "x.png")}), headers=auth(key))]
    assert [r.json["code"] for r in admitted] == ["empty_upload", "empty_upload"]
    answers = [
        client.post(URL, data=b"\x89PNG", headers={"Authorization": "Bearer not-a-key"}),
        client.post(URL, data=sample.back_jpeg, headers=auth(key)),
        client.post(URL + "?image=gif", data=b"", headers=auth(key)),
        client.post(URL, data=b"", headers=auth(key)),  # the fourth of the minute (the malformed one counts): logged
        client.post(URL, data=b"", headers=auth(key)),
        client.post("/verify", **multipart({"scan": (b"\x89PNG", "back.png")})),
        upload(client, b""),  # the upload page's one of the minute: admitted, logged
        upload(client, b""),
    ]
    codes = [(r.status_code, r.json["code"] if r.is_json else None) for r in answers]
    assert codes == [(401, "unauthorized"), (413, "request_too_large"), (400, "bad_request"), (400, "empty_upload"),
                     (429, "rate_limited"), (400, None), (400, None), (429, None)]
    assert [e["error_code"] for e in log_entries(app)] == ["empty_upload"] * 4

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    by_id = {line["request_id"]: line for line in lines}
    logged = [(by_id[r.headers["X-Request-ID"]]["status"], by_id[r.headers["X-Request-ID"]]["code"])
              for r in answers]
    assert logged == [(401, "unauthorized"), (413, "request_too_large"), (400, "bad_request"), (400, "empty_upload"),
                      (429, "rate_limited"), (400, "csrf_failed"), (400, "empty_upload"), (429, "rate_limited")]

    after = scrape(client)
    refusals = {(reason, channel): metric(after, "certverify_refusals_total", reason=reason, channel=channel)
                - metric(before, "certverify_refusals_total", reason=reason, channel=channel)
                for reason in ("unauthorized", "request_too_large", "bad_request", "rate_limited", "csrf_failed")
                for channel in ("api", "web")}
    assert {k: v for k, v in refusals.items() if v} == {
        ("unauthorized", "api"): 1, ("request_too_large", "api"): 1, ("bad_request", "api"): 1,
        ("rate_limited", "api"): 1, ("csrf_failed", "web"): 1, ("rate_limited", "web"): 1}
    counted = {channel: metric(after, "certverify_verifications_total", channel=channel, outcome="failed",
                               code="empty_upload")
               - metric(before, "certverify_verifications_total", channel=channel, outcome="failed",
                        code="empty_upload") for channel in ("api", "web")}
    assert counted == {"api": 3, "web": 1}  # the admitted attempts: exactly the log's entries
