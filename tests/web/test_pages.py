"""The public pages: languages, headers, the error page of every code, probes and static files."""

from __future__ import annotations

import pytest

from web.problems import all_codes, status_for
from web.security import CONTENT_SECURITY_POLICY

PAGES = ["/", "/scanner", "/privacy", "/errors/"]


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_japanese_by_default(client, path):
    response = client.get(path)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert '<html lang="ja">' in html
    assert "証明書確認サービス" in html
    assert 'href="/?lang=en"' in html or "lang=en" in html  # the visible switch


@pytest.mark.parametrize("path", PAGES)
def test_pages_in_english_by_switch(client, path):
    html = client.get(path + "?lang=en").get_data(as_text=True)
    assert '<html lang="en">' in html
    assert "Certificate check" in html
    assert "証明書確認サービス" not in html


def test_switch_is_remembered_and_can_be_undone(client):
    response = client.get("/?lang=en")
    assert "lang=en" in response.headers.get("Set-Cookie", "")
    assert '<html lang="en">' in client.get("/scanner").get_data(as_text=True)
    assert '<html lang="ja">' in client.get("/scanner?lang=ja").get_data(as_text=True)
    assert '<html lang="ja">' in client.get("/privacy").get_data(as_text=True)


def test_accept_language_chooses_english(client):
    html = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"}).get_data(as_text=True)
    assert '<html lang="en">' in html
    html = client.get("/", headers={"Accept-Language": "fr-FR,ja;q=0.5"}).get_data(as_text=True)
    assert '<html lang="ja">' in html


def test_unknown_language_falls_back_to_japanese(client):
    assert '<html lang="ja">' in client.get("/?lang=xx").get_data(as_text=True)


def test_upload_form_works_without_javascript(client):
    html = client.get("/").get_data(as_text=True)
    assert 'method="post"' in html and 'action="/verify"' in html
    assert 'enctype="multipart/form-data"' in html
    assert '<label for="scan"' in html and 'id="scan" name="scan"' in html
    assert 'name="csrf_token"' in html
    assert "<script>" not in html and "onclick" not in html  # no inline script anywhere


def test_what_a_check_proves_is_said_plainly(client):
    html = client.get("/?lang=en").get_data(as_text=True)
    assert "a colour copy of a genuine sheet passes the check too" in html
    assert "カラーコピー" in client.get("/?lang=ja").get_data(as_text=True)


def test_security_headers(client):
    response = client.get("/")
    assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY and "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "img-src 'self' data:" in CONTENT_SECURITY_POLICY
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["Cache-Control"] == "no-store"
    assert len(response.headers["X-Request-ID"]) == 36
    assert "Strict-Transport-Security" not in response.headers


def test_hsts_when_configured(app_factory):
    client = app_factory(HSTS_SECONDS=31536000).test_client()
    assert client.get("/").headers["Strict-Transport-Security"] == "max-age=31536000"


def test_static_files_are_cacheable_and_pages_are_not(client):
    with client.get("/static/css/site.css") as css:
        assert css.status_code == 200 and "max-age" in css.headers["Cache-Control"]
    with client.get("/static/js/upload.js") as js:
        assert js.status_code == 200 and "XMLHttpRequest" in js.get_data(as_text=True)
    with client.get("/favicon.ico") as icon:
        assert icon.status_code == 200 and icon.data[:4] == b"\x00\x00\x01\x00"
    with client.get("/static/favicon.svg") as svg:
        assert svg.status_code == 200


@pytest.mark.parametrize("code", all_codes())
def test_every_error_code_has_a_page(client, code):
    for lang, marker in (("ja", '<html lang="ja">'), ("en", '<html lang="en">')):
        response = client.get(f"/errors/{code}?lang={lang}")
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        assert marker in html and f"<code>{code}</code>" in html
        assert f"<dd>{status_for(code)}</dd>" in html


def test_error_index_lists_every_code(client):
    html = client.get("/errors/").get_data(as_text=True)
    for code in all_codes():
        assert f'href="/errors/{code}"' in html


def test_unknown_page_is_a_404_page_with_code(client):
    response = client.get("/no/such/page")
    assert response.status_code == 404
    html = response.get_data(as_text=True)
    assert "not_found" in html and "<html" in html
    assert client.get("/errors/no_such_code").status_code == 404


def test_404_as_problem_json_when_asked(client):
    response = client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert response.json["code"] == "not_found"


@pytest.mark.parametrize("method", ["DELETE", "PUT", "PATCH"])
def test_wrong_method_on_a_page(client, method):
    response = client.open("/", method=method)
    assert response.status_code == 405
    assert "method_not_allowed" in response.get_data(as_text=True)
    assert "GET" in response.headers["Allow"]


def test_get_verify_goes_back_to_the_form(client):
    response = client.get("/verify")
    assert response.status_code == 302 and response.headers["Location"].endswith("/")


def test_healthz(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json["status"] == "ok" and response.json["keys"] >= 1
    assert response.headers["Cache-Control"] == "no-store"


def test_healthz_fails_without_a_key_ring(app_factory, tmp_path):
    client = app_factory(KEYS_DIR=str(tmp_path / "missing")).test_client()
    assert client.get("/healthz").status_code == 503


def test_the_resolution_the_site_refuses_is_the_one_it_states(client):
    """The refusal, its message and the scanner advice name the same least resolution, in both languages."""
    from verify import Limits, errors

    least = f"{Limits().min_dpi:.0f} dpi"
    for lang in ("en", "ja"):
        assert least in errors.ResolutionTooLow().message(lang)
        assert least in client.get(f"/scanner?lang={lang}").get_data(as_text=True)
