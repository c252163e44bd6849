"""What every suite shares: the rule that real services skip only outside CI, apps on a temporary log, CSRF tokens,
free ports, plain HTTP requests, headless Chromium, the tests' issuing key. The fixtures built on these are in
tests/conftest.py."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "test-artifacts"  # screenshots, for a person to look at
SECRET = "test-secret-key-for-the-test-suite-only"
BIN = Path(sys.executable).parent  # this environment's programs: gunicorn, flask
GUNICORN = BIN / "gunicorn"


def fixed_key():
    """The tests' issuing key, the same in every run: a forgery's verdict can depend on where the block map puts
    its changed blocks, and a test that checks how a verdict is shown must not change with a random key."""
    return _key("test-2026", bytes(range(32)), bytes(range(100, 132)))


def seeded_key(n: int):
    """An issuing key made from ``n``, the same in every run: two versions of the code compared on the same blocks
    (a verdict can depend on where the block map puts a field), or a case found under it replayed. Test and bench
    material only."""
    import hashlib

    return _key("field", hashlib.sha256(b"scr%d" % n).digest(), hashlib.sha256(b"sign%d" % n).digest())


def _key(key_id: str, scramble_secret: bytes, signing: bytes):
    """An issuing key from its secrets, naming the sample's issuer as its page prints it (as a site's ring does)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from verify import IssuingKey

    public = Ed25519PrivateKey.from_private_bytes(signing).public_key().public_bytes_raw()
    return IssuingKey(key_id, scramble_secret, public, signing, "2026-01-01T00:00:00+00:00",
                      issuers=(("990001", "見本市"),))


CHROMIUM = "/usr/bin/chromium"  # Debian's; Playwright drives it through executable_path
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]


def in_ci() -> bool:
    """True when CI is set to anything but an explicit no."""
    return os.environ.get("CI", "").lower() not in ("", "0", "false", "no")


def skip_or_fail(reason: str, hint: str = "") -> NoReturn:
    """Skip a test whose service or program is missing, except in CI, where that fails it: CI cannot pass by
    skipping."""
    if in_ci():
        pytest.fail(f"{reason}: CI must run these tests, not skip them")
    pytest.skip(f"{reason}{hint}")


def need_tool(path: str | None, what: str) -> str:
    """``path`` of a required program; skip without it locally, fail without it in CI."""
    if path and Path(path).exists():
        return path
    skip_or_fail(f"{what} is missing")


def need_env(variable: str, what: str) -> str:
    """The service URL in ``variable``; skip without it locally, fail without it in CI."""
    value = os.environ.get(variable)
    if not value:
        skip_or_fail(f"{variable} is not set ({what})", "; `source .ci/services.sh` provides it")
    return str(value)


def key_ring(directory: Path) -> Path:
    """A development key ring in ``directory``/keys (made once)."""
    from verify.keys import init_ring

    keys = directory / "keys"
    if not keys.is_dir():
        init_ring(keys, "test")
    return keys


def make_app(database_url: str, keys_dir: Path, **overrides: Any):
    """The site for the test client: TESTING, the key ring in ``keys_dir``, the log at ``database_url``, rate
    limits in memory, no caching of the console's chain state or flags; ``overrides`` on top."""
    from app import create_app

    config = {"TESTING": True, "SECRET_KEY": SECRET, "DATABASE_URL": database_url, "KEYS_DIR": str(keys_dir),
              "RATELIMIT_STORAGE_URI": "memory://", "SESSION_COOKIE_SECURE": False,
              "AUDIT_VERIFY_CACHE_SECONDS": 0, "AUDIT_FLAG_CACHE_SECONDS": 0}
    config.update(overrides)
    return create_app(config)


def migrate(database_url: str, keys_dir: Path) -> None:
    """The log's schema at ``database_url``, as `flask db upgrade` makes it."""
    from web import db

    app = make_app(database_url, keys_dir)
    db.upgrade(app)
    db.get_engine(app).dispose()


def empty_postgres(url: str) -> None:
    """Back to a freshly migrated state: far faster than creating a database per test."""
    import sqlalchemy as sa

    engine = sa.create_engine(url, poolclass=sa.pool.NullPool)
    with engine.begin() as conn:
        conn.exec_driver_sql("TRUNCATE log_entries, checkpoints, console_sessions, signin_failures, users, api_keys RESTART IDENTITY")
        conn.exec_driver_sql(f"UPDATE chain_head SET seq = 0, entry_hash = '{'0' * 64}'")
    engine.dispose()


def create_key(runner, name: str) -> str:
    """Create an API key with the CLI (a Flask test ``runner``); it prints the key alone on its last line."""
    result = runner.invoke(args=["api-keys", "create", name])
    assert result.exit_code == 0, result.output
    return result.stdout.strip().splitlines()[-1]


CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    """The CSRF token of the form in ``html``."""
    match = CSRF_RE.search(html)
    assert match, "no CSRF token in the page"
    return match.group(1)


def csrf_token(client, path: str = "/") -> str:
    """The CSRF token of the form at ``path``, fetched with the test ``client`` (whose session it belongs to)."""
    return csrf_from(client.get(path).get_data(as_text=True))


def free_port() -> int:
    """A TCP port free on the loopback interface."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_request(url: str, data: bytes | None = None, headers: dict[str, str] | None = None,
                 method: str | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
    """Status, headers and body of one request, an error status included (a failed connection raises)."""
    req = urllib.request.Request(url, data=data, headers=headers or {}, method=method)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


def wait_http(url: str, timeout: float = 20.0, proc: subprocess.Popen | None = None, accept_error: bool = False,
              log: Path | None = None) -> None:
    """Wait until ``url`` answers (a 2xx or 3xx, or any status with ``accept_error``); raise if the server ``proc``
    exits or ``timeout`` passes, with the tail of its ``log``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {_tail(log)}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except urllib.error.HTTPError as exc:
            exc.close()
            if accept_error:
                return
            time.sleep(0.1)
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer: {_tail(log)}")


def _tail(log: Path | None) -> str:
    return log.read_text(errors="replace")[-3000:] if log is not None and log.exists() else ""


class HttpSession:
    """A cookie-keeping HTTP client of one server, signing in to the console as a browser does."""

    def __init__(self, base: str) -> None:
        import http.cookiejar

        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def sign_in(self, name: str, password: str) -> int:
        """The status of a sign-in with the form's CSRF token."""
        import urllib.parse

        with self.opener.open(self.base + "/audit/sign-in", timeout=10) as page:
            token = csrf_from(page.read().decode())
        data = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": token}).encode()
        try:
            with self.opener.open(self.base + "/audit/sign-in", data=data, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()  # its body is an open response: unclosed, it warns later
            return exc.code


@contextmanager
def chromium() -> Iterator:
    """Headless Chromium; skipped without it only outside CI."""
    need_tool(CHROMIUM, "chromium")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def accessibility_violations(page) -> list[str]:
    """axe-core's violations of the page as it stands (the build axe-playwright-python bundles), one line each:
    the rule, its impact and the elements it names."""
    from axe_playwright_python.sync_playwright import Axe

    violations = Axe().run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {[n['target'] for n in v['nodes'][:3]]}" for v in violations]

