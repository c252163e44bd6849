"""The site through a real gunicorn over HTTP: what curl and a bank's system see."""

from __future__ import annotations

import base64
import socket
import uuid

import pytest

from tests.web import hostile
from tests.web.helpers import SERIAL

API = "/api/v1/verifications"


def auth(server) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.api_key}"}


def test_health_and_headers(live_server):
    status, headers, body = live_server.json("/healthz")
    assert status == 200 and body["status"] == "ok"
    status, headers, page = live_server.request("/")
    assert status == 200 and b'<html lang="ja">' in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert headers["Cache-Control"] == "no-store"


def test_sample_back_as_raw_body_like_curl(live_server, sample):
    status, headers, body = live_server.json(API, data=sample.back_png,
                                             headers={**auth(live_server), "Content-Type": "image/png"})
    assert status == 200, body
    assert headers["Cache-Control"] == "no-store"
    assert body["outcome"] == "verified" and body["certificate"]["serial"] == SERIAL
    assert base64.b64decode(body["restored_image"]["data"])[:4] == b"\x89PNG"


def test_sample_back_as_multipart_field(live_server, sample):
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"scan\"; filename=\"back.jpg\"\r\n"
            f"Content-Type: image/jpeg\r\n\r\n").encode() + sample.back_jpeg + f"\r\n--{boundary}--\r\n".encode()
    status, _, answer = live_server.json(API + "?image=none", data=body, headers={
        **auth(live_server), "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert status == 200 and answer["certificate"]["serial"] == SERIAL and "restored_image" not in answer


@pytest.mark.parametrize(("name", "data", "status", "code"), [
    ("empty", b"", 400, "empty_upload"),
    ("text", b"not an image\n" * 50, 415, "unsupported_format"),
    ("png-bomb", hostile.png_bomb(), 413, "too_many_pixels"),
    ("pdf-pages", hostile.pdf(pages=500), 413, "too_many_pages"),
    ("truncated-jpeg", hostile.truncated(hostile.small_page("jpeg")), 422, "corrupt_file"),
])
def test_hostile_uploads_over_http(live_server, name, data, status, code):
    got, headers, body = live_server.json(API, data=data, headers=auth(live_server), method="POST")
    assert (got, body["code"]) == (status, code)
    assert headers["Content-Type"] == "application/problem+json"


@pytest.mark.slow
def test_missing_and_revoked_keys(live_server, sample):
    status, headers, body = live_server.json(API, data=b"x", method="POST")
    assert status == 401 and body["code"] == "unauthorized" and "Bearer" in headers["WWW-Authenticate"]
    created = live_server.flask("api-keys", "create", "to-revoke")
    key = created.stdout.strip().splitlines()[-1]
    status, _, _ = live_server.json(API, data=b"", headers={"Authorization": f"Bearer {key}"}, method="POST")
    assert status == 400  # authenticated: empty_upload
    assert live_server.flask("api-keys", "revoke", "to-revoke").returncode == 0
    status, _, body = live_server.json(API, data=b"", headers={"Authorization": f"Bearer {key}"}, method="POST")
    assert status == 401 and body["code"] == "unauthorized"


def test_wrong_method(live_server):
    status, headers, body = live_server.json(API, method="GET")
    assert status == 405 and body["code"] == "method_not_allowed"


def test_oversized_request_is_refused_before_its_body_is_read(live_server):
    """Only the headers are sent: the 413 comes back at once, the 50 MB body is never read."""
    with socket.create_connection(("127.0.0.1", live_server.port), timeout=10) as sock:
        sock.sendall((f"POST {API} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {live_server.api_key}\r\n"
                      "Content-Type: image/png\r\nContent-Length: 50000000\r\n\r\n").encode())
        answer = b""
        while b"\r\n\r\n" not in answer or b'"code"' not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413")
    assert b'"request_too_large"' in answer


def test_no_server_errors_and_a_valid_log(live_server, sample):
    """Whatever ran before (alone: a verification, a hostile upload and a stray address of its own), the server's
    log shows no fault and the verification log's chain holds, with this test's attempts in it."""
    status, _, verified = live_server.json(API + "?image=none", data=sample.back_png, headers=auth(live_server))
    refused, _, _ = live_server.request(API, data=b"\x89PNG\r\n\x1a\n", headers=auth(live_server))
    missing, _, _ = live_server.request("/no-such-page")
    assert (status, refused, missing) == (200, 422, 404)
    log = live_server.log.read_text()
    assert '" 500 ' not in log and "Traceback" not in log, log[-3000:]
    assert f'"route":"{API}"' in log and '"status":404' in log  # the request log is the one read here
    checked = live_server.flask("audit", "verify")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert verified["request_id"] in live_server.flask("audit", "export", "--format", "csv").stdout


def test_overload_is_shed_with_503_and_retry_after(live_server, sample):
    """Many more simultaneous requests than the workers' slots and queues hold: the excess is told 503 overloaded
    at once, with Retry-After; nobody waits past the bound and nothing fails."""
    import concurrent.futures as cf

    def post(_):
        return live_server.json(API + "?image=none", data=sample.back_jpeg, headers=auth(live_server),
                                method="POST", timeout=60)

    # 24 at once, while the two workers hold 2 x (1 running + 4 waiting): many must be shed
    with cf.ThreadPoolExecutor(24) as pool:
        answers = list(pool.map(post, range(24)))
    statuses = sorted(status for status, _, _ in answers)
    assert set(statuses) <= {200, 503}, statuses
    shed = [(headers, body) for status, headers, body in answers if status == 503]
    assert shed and all(body["code"] == "overloaded" and int(headers["Retry-After"]) >= 1 for headers, body in shed)
    assert 200 in statuses
    for status, headers, _ in answers:
        if status == 200:
            queue = [p for p in headers["Server-Timing"].split(", ") if p.startswith("queue;dur=")][0]
            assert float(queue.split("=")[1]) <= 10_000
