"""A real gunicorn serving the site on a free loopback port, configured only through the environment as in
production (SECRET_KEY set, CERTVERIFY_ENV unset), on a temporary key ring and SQLite log."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support import BIN, ROOT, SECRET, free_port, http_request, wait_http


@dataclass
class GunicornSite:
    url: str
    port: int
    env: dict[str, str]
    log: Path
    api_key: str
    process: subprocess.Popen | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def flask(self, *args: str) -> subprocess.CompletedProcess:
        """Run a `flask` command against the server's configuration."""
        return subprocess.run([str(BIN / "flask"), "--app", "app", *args], cwd=ROOT, env=self.env,
                              capture_output=True, text=True, timeout=120)

    def request(self, path: str, data: bytes | None = None, headers: dict[str, str] | None = None,
                method: str | None = None, timeout: float = 60) -> tuple[int, dict[str, str], bytes]:
        return http_request(self.url + path, data, headers, method, timeout)

    def log_size(self) -> int:
        """Entries in the server's verification log (its SQLite file), read without starting a `flask` command."""
        path = self.env["DATABASE_URL"].removeprefix("sqlite:///")
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return conn.execute("SELECT COUNT(*) FROM log_entries").fetchone()[0]

    def json(self, path: str, **kwargs: Any) -> tuple[int, dict[str, str], dict]:
        status, headers, body = self.request(path, **kwargs)
        return status, headers, json.loads(body)


def start(gunicorn: str, tmp: Path, keys_dir: Path, **settings: str) -> GunicornSite:
    """Migrate a log, create an API key and start the ``gunicorn`` executable (2 workers); returns when /healthz
    answers."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("CERTVERIFY_", "FLASK_"))}
    env.update({
        "SECRET_KEY": SECRET,
        "CERTVERIFY_KEYS_DIR": str(keys_dir),
        "DATABASE_URL": f"sqlite:///{tmp / 'log.db'}",
        "RATELIMIT_STORAGE_URI": "memory://",
        "CERTVERIFY_SESSION_COOKIE_SECURE": "false",  # plain HTTP on loopback
        "CERTVERIFY_WORKERS": "2",
        "CERTVERIFY_RATELIMIT_PUBLIC": "1000 per minute",
        "CERTVERIFY_RATELIMIT_API": "1000 per minute",
        "CERTVERIFY_MAX_REQUEST_BYTES": str(24 * 1024 * 1024),
        "CERTVERIFY_MAX_UPLOAD_BYTES": str(20 * 1024 * 1024),
        "PYTHONUNBUFFERED": "1",
    })
    env.update(settings)
    server = GunicornSite(url=f"http://127.0.0.1:{port}", port=port, env=env, log=tmp / "gunicorn.log", api_key="")
    upgraded = server.flask("db", "upgrade")
    assert upgraded.returncode == 0, upgraded.stderr
    created = server.flask("api-keys", "create", "live-bank")
    assert created.returncode == 0, created.stderr
    server.api_key = created.stdout.strip().splitlines()[-1]
    with server.log.open("wb") as log:
        server.process = subprocess.Popen(
            [gunicorn, "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}", "app:create_app()"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_http(server.url + "/healthz", timeout=60, proc=server.process, log=server.log)
    except BaseException:
        stop(server)
        raise
    return server


def stop(server: GunicornSite) -> None:
    if server.process is None or server.process.poll() is not None:
        return
    os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)
