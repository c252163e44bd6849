"""Helpers of the log and console suite: apps, entries, CLI calls, raw SQL, the chain's state, sign-in, live servers
(werkzeug in a thread, or app instances under real gunicorn)."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from tests.support import ROOT, SECRET, create_key, csrf_from, free_port, key_ring, wait_http

PASSWORD = "correct horse battery staple"


def issued_scan(tmp_path: Path, serial: str) -> bytes:
    """The back of a certificate issued under the ring of ``tmp_path``, as a scanner's JPEG."""
    import verify

    ring = verify.KeyRing.load(key_ring(tmp_path))
    return verify.encode_image(verify.issue(ring, serial=serial).back, fmt="jpeg", quality=90)


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


def create_api_key(app, name: str) -> str:
    """A new API key of the app's log."""
    return create_key(app.test_cli_runner(), name)


def entry_count(app) -> tuple[int, int, int]:
    """Entries, distinct sequence numbers and the last one: equal in a log with no gap and no duplicate."""
    from web import db

    with db.get_engine(app).connect() as conn:
        return tuple(conn.execute(sa.text(
            "SELECT count(*), count(DISTINCT seq), coalesce(max(seq), 0) FROM log_entries")).one())


def assert_chain(app, n: int) -> None:
    """The log holds ``n`` entries, numbered 1 to n, and `flask audit verify` finds the chain intact."""
    assert entry_count(app) == (n, n, n)
    result = run_flask(app, "audit", "verify")
    assert result.exit_code == 0, result.output
    assert f"{n} entries verified" in result.output


def raw_sql(app, statement: str, **params: Any) -> None:
    from web import db

    with db.get_engine(app).begin() as conn:
        conn.execute(sa.text(statement), params)


def create_user(app, name: str = "alice", role: str = "auditor", password: str = PASSWORD) -> None:
    result = run_flask(app, "users", "create", name, "--role", role, "--password-stdin", input=password + "\n")
    assert result.exit_code == 0, result.output


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


class ThreadedServer:
    """The app served by werkzeug in a thread (no gunicorn), for the console's browser tests."""

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

    def __enter__(self) -> ThreadedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.thread.join(5)


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


def json_lines(path: Path) -> list[dict[str, Any]]:
    """The JSON lines of a log that other lines share, the last one only once it is whole."""
    return [json.loads(line) for line in path.read_text().split("\n")[:-1] if line.startswith("{")]


@dataclass
class Instance:
    """One app instance: a gunicorn master and its workers, in a process group of their own, on a loopback port."""

    base: str
    process: subprocess.Popen
    log: Path  # stdout and stderr: gunicorn's own lines and the request log's JSON lines (web/requestlog.py)

    def kill(self) -> None:
        """SIGKILL the master and every worker at once, as a crash of the machine's instance would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def requests(self) -> list[dict[str, Any]]:
        """The request log's lines so far, oldest first."""
        return json_lines(self.log)


@contextmanager
def gunicorn_instances(gunicorn: str, env: dict[str, str], directory: Path, count: int) -> Iterator[list[Instance]]:
    """``count`` app instances under the ``gunicorn`` executable (gunicorn.conf.py, configured by ``env``), each logging to
    ``directory``/gunicorn-PORT.log; every process is gone when the block is left, whatever happened in it."""
    instances: list[Instance] = []
    try:
        for port in (free_port() for _ in range(count)):
            log = directory / f"gunicorn-{port}.log"
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [gunicorn, "--config", "gunicorn.conf.py", "--bind", f"127.0.0.1:{port}",
                     "app:create_app()"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
                    start_new_session=True)
            instances.append(Instance(f"http://127.0.0.1:{port}", process, log))
        for instance in instances:
            wait_http(instance.base + "/healthz", timeout=60, proc=instance.process, log=instance.log)
        yield instances
    finally:
        for instance in instances:
            if instance.process.poll() is None:
                instance.process.send_signal(signal.SIGTERM)  # the master stops its workers
        for instance in instances:
            try:
                instance.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                instance.kill()  # its master still runs, so the group is still theirs


def server_logs(directory: Path) -> str:
    """The tail of the gunicorn logs in ``directory``, for assertion messages."""
    return "\n".join(p.read_text()[-3000:] for p in sorted(directory.glob("gunicorn-*.log")))
