"""The server under abuse, through a real gunicorn: slow clients, requests past the timeout, credentials in the
request log."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from tests.support import ROOT, free_port
from tests.web import live
from tests.web.helpers import METRICS_TOKEN, metric, metric_samples


@pytest.fixture(scope="module")
def server(tmp_path_factory, sample, gunicorn):
    """The site on gunicorn with 2 workers and short request deadlines."""
    srv = live.start(gunicorn, tmp_path_factory.mktemp("server-limits"), sample.keys_dir,
                     CERTVERIFY_REQUEST_HEADER_TIMEOUT="4", CERTVERIFY_REQUEST_IDLE_TIMEOUT="4",
                     CERTVERIFY_METRICS_TOKEN=METRICS_TOKEN)
    yield srv
    live.stop(srv)


def open_slow(port: int, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    sock.sendall(first)
    return sock


def test_slow_clients_do_not_stall_the_site(server):
    """64 connections that send part of their headers, or headers and part of a multipart body, and then wait:
    /healthz and the pages still answer (gthread alone gave each of them a thread and stopped answering)."""
    slow = []
    try:
        for i in range(64):
            if i % 2:
                first = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            else:
                first = (b"POST /verify HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
                         b"boundary=x\r\nContent-Length: 100000\r\n\r\n--x\r\nContent-Disposition: form-data; "
                         b'name="scan"; filename="a.png"\r\n\r\n\x89PNG')
            slow.append(open_slow(server.port, first))
        time.sleep(0.5)
        for path in ("/healthz", "/", "/healthz"):
            status, _, _ = server.request(path, timeout=5)
            assert status == 200, path
        assert server.process.poll() is None
    finally:
        for sock in slow:
            sock.close()


def test_a_client_that_stops_sending_gets_408(server):
    """Refused before the app saw it: a request log line and a count in the metrics, no entry in the verification
    log (docs/auditlog.md)."""
    def timeouts() -> float:
        status, _, body = server.request("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
        assert status == 200
        return metric(metric_samples(body.decode()), "certverify_refusals_total", reason="request_timeout",
                      channel="api")

    before, entries = timeouts(), server.log_size()
    sock = open_slow(server.port, b"POST /api/v1/verifications HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nab")
    sock.settimeout(40)
    with sock:
        answer = sock.recv(4096)
    assert answer.startswith(b"HTTP/1.1 408")
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"application/problem+json" in head
    problem = json.loads(body)  # the same problem document as every other failure, with its own request id
    assert problem["code"] == "request_timeout" and problem["status"] == 408
    assert problem["instance"] == f"urn:uuid:{problem['request_id']}"
    assert f"X-Request-ID: {problem['request_id']}".encode() in head
    time.sleep(0.5)
    assert any(line.get("status") == 408 and line.get("code") == "request_timeout"
               and line.get("request_id") == problem["request_id"] for line in json_lines(server))
    assert timeouts() == before + 1
    assert server.log_size() == entries


def json_lines(server) -> list[dict]:
    """The request log lines gunicorn's output holds (its own messages are not JSON)."""
    lines = []
    for text in server.log.read_text().splitlines():
        if text.startswith("{"):
            lines.append(json.loads(text))
    return lines


def test_every_request_is_one_json_line_with_its_outcome_and_nothing_personal(server, sample):
    """Structured logs (web/requestlog.py): one JSON line on stdout per answered request, tied to the answer by its
    request id: the route (never the query string), the status, the outcome and code of a verification, its stage
    times and the client as the verification log names it; never the certificate's serial or text, nor the key."""
    headers = {"Authorization": f"Bearer {server.api_key}", "Content-Type": "image/jpeg"}
    status, answer_headers, body = server.json("/api/v1/verifications?image=none", data=sample.back_jpeg,
                                               headers=headers, method="POST")
    assert status == 200 and body["outcome"] == "verified"
    missing, missing_headers, _ = server.request("/no-such-page")
    assert missing == 404
    blank = cv2.imencode(".png", np.full((1169, 827), 250, np.uint8))[1].tobytes()  # A4 at 100 dpi, nothing on it
    status, blank_headers, refused = server.json("/api/v1/verifications", data=blank,
                                                 headers={**headers, "Content-Type": "image/png"}, method="POST")
    assert status == 422 and refused["code"] == "markers_not_found"
    time.sleep(0.5)
    lines = json_lines(server)
    by_id = {line["request_id"]: line for line in lines if "request_id" in line}
    blank_line = by_id[blank_headers["X-Request-ID"]]  # a refusal's stages: those it passed, then the refusal
    assert blank_line["code"] == "markers_not_found" and {"queue", "decode", "refused"} <= set(blank_line["stages_ms"])
    verified = by_id[answer_headers["X-Request-ID"]]
    assert verified["route"] == "/api/v1/verifications" and verified["method"] == "POST"
    assert verified["status"] == 200 and verified["channel"] == "api" and verified["outcome"] == "verified"
    assert verified["client"] == "live-bank" and "code" not in verified
    assert {"queue", "decode", "locate", "warp"} <= set(verified["stages_ms"]) and verified["ms"] > 0
    assert dt.datetime.fromisoformat(verified["time"]).tzinfo is not None
    not_found = by_id[missing_headers["X-Request-ID"]]
    assert not_found["status"] == 404 and "route" not in not_found and "outcome" not in not_found
    text = server.log.read_text()
    assert body["certificate"]["serial"] not in text and server.api_key not in text
    assert "image=none" not in text  # the query string is never logged


def test_api_key_in_the_query_is_refused_and_not_logged(server):
    secret = "cv_query_secret_that_must_not_be_logged"
    status, _, body = server.json(f"/api/v1/verifications?api_key={secret}&key={secret}", data=b"x",
                                  method="POST")
    assert status == 401 and body["code"] == "unauthorized"
    time.sleep(0.5)
    log = server.log.read_text()
    assert "/api/v1/verifications" in log
    assert secret not in log


def start_plain(gunicorn: str, tmp_path, **settings: str) -> tuple[subprocess.Popen, int, object]:
    """gunicorn with the site's configuration and worker, serving tests/web/slowapp.py (1 worker)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("CERTVERIFY_")}
    env.update({"CERTVERIFY_WORKERS": "1", "SECRET_KEY": "x" * 40, **settings})
    log = tmp_path / "gunicorn.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([gunicorn, "--config", "gunicorn.conf.py", "--bind",
                                 f"127.0.0.1:{port}", "tests.web.slowapp:app"], cwd=ROOT, env=env, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, port, log
        except OSError:
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)


def get(port: int, path: str = "/") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        return sock.recv(4096)


def answers_again(port: int, log: Path, seconds: float = 30) -> None:
    """Wait until the server answers 200 again (a replaced worker is up); fail with its log past ``seconds``."""
    deadline = time.monotonic() + seconds
    while True:
        try:
            if get(port).startswith(b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        assert time.monotonic() < deadline, log.read_text()
        time.sleep(0.2)


def worker_pids(master: int) -> set[int]:
    pids = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == master:
                pids.add(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            pass
    return pids


def test_a_worker_grown_past_its_memory_limit_is_replaced(gunicorn, tmp_path):
    proc, port, log = start_plain(gunicorn, tmp_path, CERTVERIFY_WORKER_MAX_RSS_MB="1")  # every worker holds more
    try:
        before = worker_pids(proc.pid)
        assert get(port).startswith(b"HTTP/1.1 200")
        deadline = time.monotonic() + 30
        while not (worker_pids(proc.pid) - before) or not worker_pids(proc.pid):
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        assert "replacing it" in log.read_text()
        answers_again(port, log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_a_request_past_the_timeout_is_ended_and_the_worker_replaced(gunicorn, tmp_path):
    """A request that runs past TIMEOUT: its connection ends soon after the timeout (not after the request's
    minutes), the worker is replaced, and the server answers again."""
    proc, port, log = start_plain(gunicorn, tmp_path, CERTVERIFY_TIMEOUT="3")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            started = time.monotonic()
            sock.sendall(b"GET /sleep?s=120 HTTP/1.1\r\nHost: x\r\n\r\n")
            try:
                answer = sock.recv(4096)
            except ConnectionResetError:
                answer = b""
        ended = time.monotonic() - started
        assert not answer.startswith(b"HTTP/1.1 200")
        assert ended < 30, ended  # the request would have run 120 s
        answers_again(port, log)
        assert "past the 3 s timeout" in log.read_text()
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)


@pytest.mark.slow
def test_bodies_being_received_share_a_memory_budget(gunicorn, tmp_path):
    """With room for one body, a second upload waits unread until the first is complete, then both are served."""
    body = 200 * 1024
    proc, port, log = start_plain(gunicorn, tmp_path, CERTVERIFY_MAX_REQUEST_BYTES=str(256 * 1024),
                                  CERTVERIFY_REQUEST_BUFFER_BYTES=str(300 * 1024))
    head = f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {body}\r\n\r\n".encode()
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as first, \
                socket.create_connection(("127.0.0.1", port), timeout=10) as second:
            first.sendall(head + b"a" * (body // 2))
            time.sleep(0.3)
            second.sendall(head)
            second.settimeout(1.0)
            # the second cannot be sent whole while the first holds the budget: its bytes stay unread
            sent = 0
            try:
                while sent < body:
                    sent += second.send(b"b" * min(65536, body - sent))
            except TimeoutError:
                pass
            with pytest.raises(TimeoutError):
                second.recv(1)
            first.sendall(b"a" * (body - body // 2))
            assert first.recv(4096).startswith(b"HTTP/1.1 200")
            second.settimeout(10)
            if sent < body:
                second.sendall(b"b" * (body - sent))
            assert second.recv(4096).startswith(b"HTTP/1.1 200")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
