"""Appends under contention: threads, separate app instances (processes, real gunicorn), a SIGKILLed writer."""

from __future__ import annotations

import http.client
import os
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from contextlib import contextmanager

import pytest

from tests.audit.helpers import (
    PYTHON,
    ROOT,
    assert_chain,
    attempt,
    create_api_key,
    entry_count,
    gunicorn_instances,
    issued_scan,
    run_flask,
    server_logs,
    subprocess_env,
    wait_http,
)

pytestmark = pytest.mark.every_database  # on PostgreSQL too: concurrent appends meet the database's locking


def test_threads(app):
    from web import auditlog

    def work(t: int) -> None:
        with app.app_context():
            for i in range(25):
                auditlog.record(attempt(t * 100 + i))

    threads = [threading.Thread(target=work, args=(t,)) for t in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert_chain(app, 150)


def test_two_app_instances_in_two_processes(app, database_url, tmp_path):
    """Two create_app() in two processes (three threads each) and this process append at the same time."""
    from web import auditlog

    env = subprocess_env(database_url, tmp_path)
    start_at = time.time() + 1.5
    procs = [subprocess.Popen([PYTHON, "-m", "tests.audit.workers", "append", "80", "3", str(start_at)],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]
    time.sleep(max(0.0, start_at - time.time()))
    with app.app_context():
        for i in range(40):
            auditlog.record(attempt(i))
    for proc in procs:
        out, err = proc.communicate(timeout=60)
        assert proc.returncode == 0 and "DONE" in out, err[-2000:]
    assert_chain(app, 200)


def test_writer_killed_mid_append_leaves_a_valid_chain(app, database_url, tmp_path):
    """A process SIGKILLed while it holds the append lock with an uncommitted entry: nothing of it remains,
    the lock is released, and the appends waiting behind it go through."""
    from web import auditlog

    with app.app_context():
        for i in range(3):
            auditlog.record(attempt(i))
    proc = subprocess.Popen([PYTHON, "-m", "tests.audit.workers", "hold"], cwd=ROOT,
                            env=subprocess_env(database_url, tmp_path), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.strip() == "HOLDING", proc.stderr.read()[-2000:]
        waiting = ThreadPoolExecutor(2)

        def blocked_append(i: int) -> int:
            with app.app_context():
                return auditlog.record(attempt(100 + i))

        futures = [waiting.submit(blocked_append, i) for i in range(2)]
        time.sleep(0.5)
        assert not any(f.done() for f in futures)  # the lock really is held
        os.kill(proc.pid, signal.SIGKILL)
        assert sorted(f.result(timeout=30) for f in futures) == [4, 5]
        waiting.shutdown()
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()
    assert_chain(app, 5)


def _post(url: str, token: str, body: bytes = b"this is not an image", timeout: float = 30) -> int:
    request = urllib.request.Request(url, data=body, method="POST", headers={
        "Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read()
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()  # its body is an open response: unclosed, it warns later
        return exc.code
    except (OSError, http.client.HTTPException):  # the worker died under this request
        return 0


@contextmanager
def instances(gunicorn: str, database_url: str, tmp_path, count: int) -> Iterator[list[tuple[str, subprocess.Popen]]]:
    """``count`` real gunicorn instances (one worker each) on one database; yields (base URL, master)."""
    env = subprocess_env(database_url, tmp_path, CERTVERIFY_RATELIMIT_ENABLED="false", CERTVERIFY_WORKERS="1",
                         CERTVERIFY_LOG_LEVEL="warning")
    with gunicorn_instances(gunicorn, env, tmp_path, count) as started:
        yield [(instance.base, instance.process) for instance in started]


def test_two_gunicorn_instances_log_every_request(app, database_url, tmp_path, gunicorn):
    """Two real gunicorn instances on one database: one entry per API request, one chain."""
    token = create_api_key(app, "load-bank")
    with instances(gunicorn, database_url, tmp_path, 2) as servers:
        urls = [f"{base}/api/v1/verifications?image=none" for base, _ in servers]
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda i: _post(urls[i % 2], token), range(80)))
    assert set(statuses) == {415}, server_logs(tmp_path)
    assert_chain(app, 80)


@pytest.mark.slow
def test_gunicorn_worker_killed_mid_request_leaves_a_valid_chain(app, database_url, tmp_path, gunicorn):
    """SIGKILL the worker while it verifies real scans: the chain stays valid, every answered request is
    logged, and the restarted worker goes on appending to the same chain."""
    scan = issued_scan(tmp_path, "KILL-0001")
    token = create_api_key(app, "kill-bank")
    with instances(gunicorn, database_url, tmp_path, 1) as [(base, master)]:
        url = f"{base}/api/v1/verifications?image=none"
        assert _post(url, token, scan) == 200, server_logs(tmp_path)
        with ThreadPoolExecutor(3) as pool:
            futures = [pool.submit(_post, url, token, scan, 60) for _ in range(9)]
            wait(futures, return_when=FIRST_COMPLETED)  # the worker is busy with the next ones: kill it now
            workers = subprocess.run(["pgrep", "-P", str(master.pid)], capture_output=True, text=True).stdout.split()
            assert len(workers) == 1
            os.kill(int(workers[0]), signal.SIGKILL)
            statuses = [f.result() for f in futures]
        wait_http(f"{base}/healthz", accept_error=True)
        after = [_post(url, token) for _ in range(3)]  # the new worker appends to the same chain
    assert 0 in statuses, statuses  # some requests really died with the worker
    assert after == [415] * 3, server_logs(tmp_path)
    answered = 1 + sum(1 for s in statuses if s) + len(after)
    total, distinct, last = entry_count(app)
    assert answered <= total <= 1 + len(statuses) + len(after) and total == distinct == last
    assert run_flask(app, "audit", "verify").exit_code == 0
