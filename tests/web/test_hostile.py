"""Hostile inputs through the test client: every one answered with its 4xx and code, never a 500, and logged."""

from __future__ import annotations

import pytest

from tests.support import create_key
from tests.web import hostile
from tests.web.helpers import log_entries, multipart, upload
from web.problems import status_for

CASES = hostile.cases()


@pytest.fixture(scope="module")
def site(tmp_path_factory, sample, sqlite_template):
    """One app and key for the whole module (the cases are independent and the log only grows)."""
    import shutil

    from tests.support import make_app

    path = tmp_path_factory.mktemp("hostile") / "log.db"
    shutil.copyfile(sqlite_template, path)
    app = make_app(f"sqlite:///{path}", sample.keys_dir, RATELIMIT_ENABLED=False)
    key = create_key(app.test_cli_runner(), "hostile")
    yield app, key
    from web import db

    db.get_engine(app).dispose()


@pytest.mark.parametrize(("name", "data", "filename", "status", "codes"), CASES, ids=[c[0] for c in CASES])
def test_api_answers_hostile_upload(site, name, data, filename, status, codes):
    app, key = site
    before = len(log_entries(app))
    response = app.test_client().post("/api/v1/verifications", data=data,
                                      headers={"Authorization": f"Bearer {key}"})
    assert 400 <= response.status_code < 500, (response.status_code, response.json)
    body = response.json
    assert body["code"] in codes, body
    assert response.status_code == status_for(body["code"])
    if status is not None:
        assert response.status_code == status
    assert response.mimetype == "application/problem+json"
    entries = log_entries(app)
    assert len(entries) == before + 1
    assert entries[-1]["error_code"] == body["code"] and entries[-1]["outcome"] == "failed"


@pytest.mark.parametrize(("name", "data", "filename", "status", "codes"),
                         [c for c in CASES if c[0].startswith(("truncated", "text", "png-bomb", "pdf-too", "empty"))],
                         ids=lambda v: v if isinstance(v, str) and "." not in v else None)
def test_form_answers_hostile_upload(site, name, data, filename, status, codes):
    app, _ = site
    response = upload(app.test_client(), data, filename=filename)
    assert 400 <= response.status_code < 500
    html = response.get_data(as_text=True)
    code = next(c for c in codes if f'id="error-code">{c}<' in html)
    assert response.status_code == status_for(code)
    assert response.headers["Cache-Control"] == "no-store"


def test_multipart_with_hostile_part(site):
    app, key = site
    body = multipart({"scan": (hostile.png_bomb(), "back.png")})
    response = app.test_client().post("/api/v1/verifications", headers={"Authorization": f"Bearer {key}"}, **body)
    assert response.status_code == 413 and response.json["code"] == "too_many_pixels"


def test_malformed_multipart_body(site):
    app, key = site
    response = app.test_client().post("/api/v1/verifications", data=b"--x\r\nnot really multipart",
                                      content_type="multipart/form-data; boundary=x",
                                      headers={"Authorization": f"Bearer {key}"})
    assert 400 <= response.status_code < 500
    assert response.json["code"] in {"empty_upload", "bad_request"}
