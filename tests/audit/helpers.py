"""Helpers of the log and console suite: apps, entries, CLI calls, raw SQL, sign-in, live servers."""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from tests.support import free_port, in_ci

ROOT = Path(__file__).resolve().parents[2]
SECRET = "test-secret-key-for-the-audit-suite-only"
PASSWORD = "correct horse battery staple"
ARTIFACTS = ROOT / "test-artifacts"


def need(variable: str, what: str) -> str:
    """The service URL in ``variable``; skip without it locally, fail without it in CI."""
    value = os.environ.get(variable)
    if not value:
        if in_ci():
            pytest.fail(f"{variable} is not set: CI must run the {what} tests (source .ci/services.sh)")
        pytest.skip(f"{variable} is not set ({what}); `source .ci/services.sh` provides it")
    return value


def key_ring(tmp_path: Path) -> Path:
    """A development key ring under ``tmp_path`` (made once)."""
    from verify.keys import init_ring

    keys = tmp_path / "keys"
    if not keys.is_dir():
        init_ring(keys, "audit-test")
    return keys


def make_app(database_url: str, tmp_path: Path, **overrides: Any):
    from app import create_app

    keys = key_ring(tmp_path)
    config = {"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": database_url, "KEYS_DIR": str(keys),
              "RATELIMIT_STORAGE_URI": "memory://", "SESSION_COOKIE_SECURE": False,
              "AUDIT_VERIFY_CACHE_SECONDS": 0, "AUDIT_FLAG_CACHE_SECONDS": 0}
    config.update(overrides)
    return create_app(config)


def migrate(url: str, tmp_path: Path) -> None:
    from web import db

    app = make_app(url, tmp_path)
    db.upgrade(app)
    db.get_engine(app).dispose()


# --- helpers ---------------------------------------------------------------------------------------------------


def attempt(i: int = 0, **fields: Any):
    """A plausible AttemptRecord (failed unless told otherwise)."""
    from web.auditlog import AttemptRecord

    base = dict(request_id=f"req-{i}-{uuid.uuid4().hex[:8]}", channel="api", client="bank-a", outcome="verified",
                serial=f"S-{i:05d}", issuer="fictional-city", key_id="k1", signature="valid",
                upload_sha256="ab" * 32, input_format="png", width=2480, height=3508, dpi_estimate=300.0,
                quality={"ssim": 0.97, "sharpness": 1.5}, processing_ms=123.456)
    base.update(fields)
    return AttemptRecord(**base)


def record_many(app, entries) -> list[int]:
    from web import auditlog

    with app.app_context():
        return [auditlog.record(e) for e in entries]


def run_flask(app, *args: str, input: str | None = None):
    return app.test_cli_runner().invoke(args=list(args), input=input)


def raw_sql(app, statement: str, **params: Any) -> None:
    from web import db

    with db.get_engine(app).begin() as conn:
        conn.execute(sa.text(statement), params)


def create_user(app, name: str = "alice", role: str = "auditor", password: str = PASSWORD) -> None:
    result = run_flask(app, "users", "create", name, "--role", role, "--password-stdin", input=password + "\n")
    assert result.exit_code == 0, result.output


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def sign_in(client, name: str = "alice", password: str = PASSWORD, follow: bool = False):
    page = client.get("/audit/sign-in")
    token = csrf_from(page.get_data(as_text=True))
    return client.post("/audit/sign-in", data={"name": name, "password": password, "csrf_token": token},
                       follow_redirects=follow)


def subprocess_env(database_url: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    keys = key_ring(tmp_path)
    env = dict(os.environ, DATABASE_URL=database_url, SECRET_KEY=SECRET, CERTVERIFY_KEYS_DIR=str(keys),
               CERTVERIFY_ENV="development", PYTHONPATH=str(ROOT))
    env.update(extra)
    return env


class LiveServer:
    """The app served by werkzeug in a thread, for the browser."""

    def __init__(self, app) -> None:
        from werkzeug.serving import make_server

        def buffered(environ, start_response):
            # werkzeug's server does not close a response whose client went away (the browser dropping a
            # favicon download leaves the file open): read each response whole and close it here.
            body = app(environ, start_response)
            try:
                return [b"".join(body)]
            finally:
                if hasattr(body, "close"):
                    body.close()

        self.port = free_port()
        self.server = make_server("127.0.0.1", self.port, buffered, threaded=True)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> LiveServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None,
              accept_error: bool = False) -> None:
    import urllib.error
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=1):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            if accept_error:
                return
            time.sleep(0.1)
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(url)


def utc(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=dt.UTC)


PYTHON = sys.executable


def stop_servers(servers: list[subprocess.Popen]) -> None:
    """SIGTERM every server, wait for each to finish, and kill the ones that do not within 20 s."""
    for server in servers:
        server.send_signal(signal.SIGTERM)
    for server in servers:
        try:
            server.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.communicate()
