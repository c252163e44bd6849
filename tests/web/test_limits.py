"""Limits of the web layer seen through the app: body limits per endpoint, hostile query names, Retry-After only
where it means something, console filters out of range, an owner-only SQLite log."""

from __future__ import annotations

import io
import os
import stat

import pytest

from tests.audit.helpers import create_user, sign_in
from tests.support import csrf_token
from tests.web.helpers import multipart

FORM = "application/x-www-form-urlencoded"


def big_form(size: int) -> bytes:
    return b"name=alice&password=" + b"x" * size


class CountingStream(io.RawIOBase):
    """A request body of ``size`` bytes that counts how many were read."""

    def __init__(self, size: int) -> None:
        self.left = size
        self.read_bytes = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        n = min(len(buffer), self.left, 65536)
        buffer[:n] = b"a" * n
        self.left -= n
        self.read_bytes += n
        return n


@pytest.mark.parametrize("path", ["/audit/sign-in", "/audit/sign-out", "/verify", "/"])
def test_a_large_form_without_token_is_refused_before_it_is_parsed(client, path):
    """A 1 MiB urlencoded body is answered 413 request_too_large, not parsed for its (missing) CSRF token."""
    response = client.post(path, data=big_form(1024 * 1024), content_type=FORM,
                           headers={"Accept": "application/json"})
    assert response.status_code == 413
    assert response.get_json()["code"] == "request_too_large"
    assert response.headers["Content-Security-Policy"]


def test_a_streamed_form_is_cut_off_at_the_limit(app):
    """Without a Content-Length (chunked), the body is read only up to the form limit, then refused."""
    import json

    from werkzeug.test import EnvironBuilder, run_wsgi_app

    stream = CountingStream(8 * 1024 * 1024)
    environ = EnvironBuilder(path="/audit/sign-in", method="POST", content_type=FORM,
                             headers={"Accept": "application/json"}).get_environ()
    environ.pop("CONTENT_LENGTH", None)
    environ.update({"wsgi.input": stream, "wsgi.input_terminated": True, "HTTP_TRANSFER_ENCODING": "chunked"})
    body, status, _headers = run_wsgi_app(app, environ, buffered=True)
    assert status.startswith("413") and json.loads(b"".join(body))["code"] == "request_too_large"
    assert stream.read_bytes <= app.config["MAX_FORM_BYTES"] + 65536


def test_small_forms_and_scan_uploads_still_work(client, sample):
    token = csrf_token(client)
    page = client.post("/verify", **multipart({"csrf_token": token, "scan": (sample.back_jpeg, "back.jpg")}))
    assert page.status_code == 200  # the scan upload keeps the large limit
    assert len(sample.back_jpeg) > 16 * 1024
    # a urlencoded post to /verify, even small, is no upload: it gets the form limit and the usual CSRF answer
    response = client.post("/verify", data=b"csrf_token=x", content_type=FORM)
    assert response.status_code == 400


def test_the_api_keeps_the_upload_limit(client, api_key):
    body = b"\x00" * (200 * 1024)  # above the form limit, below the upload limit: read and judged, not refused
    response = client.post("/api/v1/verifications", data=body, content_type=FORM,
                           headers={"Authorization": f"Bearer {api_key}"})
    assert response.status_code == 415 and response.get_json()["code"] == "unsupported_format"


@pytest.mark.parametrize("path", ["/?_method=POST", "/?endpoint=x", "/privacy?_external=1", "/errors/altered?code=x",
                                  "/scanner?lang=en&_scheme=https", "/api/v1/openapi.json?endpoint=x"])
def test_query_names_that_steer_url_building_are_a_400(client, path):
    page = client.get(path)
    assert page.status_code == 400
    assert page.headers["Content-Security-Policy"] and page.headers["X-Request-ID"]
    problem = client.get(path, headers={"Accept": "application/json"})
    assert problem.status_code == 400 and problem.get_json()["code"] == "bad_request"


def test_ordinary_query_is_kept_by_the_language_switch(client):
    page = client.get("/errors/?lang=en&x=1").get_data(as_text=True)
    assert "x=1" in page


def test_retry_after_only_on_429_and_503(app_factory, sample):
    from tests.support import create_key

    limit = len(sample.back_jpeg) + 65536
    app = app_factory(MAX_REQUEST_BYTES=limit)
    client = app.test_client()
    auth = {"Authorization": f"Bearer {create_key(app.test_cli_runner(), 'bank-a')}"}
    answers = {
        413: client.post("/api/v1/verifications", data=b"x" * (limit + 1), headers=auth),
        415: client.post("/api/v1/verifications", data=b"not an image\n" * 50, headers=auth),
        422: client.post("/api/v1/verifications", data=sample.back_png[:5000], headers=auth),
        200: client.post("/api/v1/verifications?image=none", data=sample.back_jpeg, headers=auth),
    }
    for status, response in answers.items():
        assert response.status_code == status, response.get_json()
        assert "Retry-After" not in response.headers, status


def test_retry_after_on_429(app_factory):
    app = app_factory(RATELIMIT_PUBLIC="1 per minute")
    client = app.test_client()
    headers = {"Accept": "application/json"}
    client.post("/verify", **multipart({"csrf_token": csrf_token(client), "scan": (b"x", "a.png")}), headers=headers)
    limited = client.post("/verify", **multipart({"csrf_token": csrf_token(client), "scan": (b"x", "a.png")}),
                          headers=headers)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


@pytest.fixture
def auditor(app):
    create_user(app, "alice")
    client = app.test_client()
    assert sign_in(client).status_code == 302
    return client


@pytest.mark.parametrize("query", ["until=9999-12-31", "until=0001-01-01", "since=0001-01-01",
                                   "since=9999-12-31T23:59:59", "until=9999-12-31T23:59:59Z"])
def test_console_dates_out_of_range_are_a_400_page(auditor, query):
    page = auditor.get(f"/audit/?{query}")
    assert page.status_code == 400
    assert "Content-Security-Policy" in page.headers
    export = auditor.get(f"/audit/export.csv?{query}")
    assert export.status_code == 200  # the unreadable bound is left out, as the page says


@pytest.mark.parametrize("page_number", [10**30, 10**12, 2**63])
def test_console_huge_page_is_a_400(auditor, page_number):
    page = auditor.get(f"/audit/?page={page_number}")
    assert page.status_code == 400
    assert auditor.get("/audit/?page=3").status_code == 200  # past the last page: an empty page


def test_console_huge_entry_number_is_a_404(auditor):
    assert auditor.get(f"/audit/entries/{10**30}").status_code == 404


def test_sqlite_log_is_created_owner_only(app_factory, tmp_path):
    from web import db

    path = tmp_path / "fresh" / "log.db"
    path.parent.mkdir()
    old = os.umask(0o022)
    try:
        app = app_factory(DATABASE_URL=f"sqlite:///{path}")
        db.upgrade(app)
        with db.get_engine(app).connect() as conn:  # open: the -wal and -shm files exist now
            conn.exec_driver_sql("SELECT 1")
            files = [p for p in path.parent.iterdir() if p.name.startswith("log.db")]
            assert {p.name for p in files} >= {"log.db", "log.db-wal", "log.db-shm"}
            for p in files:
                assert stat.S_IMODE(p.stat().st_mode) == 0o600, (p.name, oct(p.stat().st_mode))
    finally:
        os.umask(old)
