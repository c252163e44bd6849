"""The embedded rate-limit storage (a SQLite file in the instance folder) counts each limit once for all
gunicorn workers of the machine and keeps the counts across a restart; the sign-in lockout too (the database).

Real gunicorn with 2 workers, the default RATELIMIT_STORAGE_URI, a SQLite log; the request log names the worker
of each request, so the test also proves that both workers took part.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.audit.helpers import (
    PASSWORD,
    PYTHON,
    ROOT,
    create_api_key,
    create_user,
    gunicorn_instances,
    subprocess_env,
)
from tests.support import HttpSession, http_request, key_ring, make_app, migrate

API = "/api/v1/verifications"
API_LIMIT = 8


@pytest.mark.slow
def test_limits_and_lockouts_hold_across_two_workers_and_a_restart(tmp_path, gunicorn):
    url = f"sqlite:///{tmp_path / 'log.db'}"
    migrate(url, key_ring(tmp_path))
    app = make_app(url, key_ring(tmp_path))
    create_user(app, "alice")
    key = create_api_key(app, "bank-a")
    from web import db

    db.get_engine(app).dispose()

    env = subprocess_env(url, tmp_path, CERTVERIFY_WORKERS="2", CERTVERIFY_ENV="development",
                         CERTVERIFY_RATELIMIT_API=f"{API_LIMIT} per minute",
                         CERTVERIFY_RATELIMIT_SIGNIN="30 per minute",
                         # The default storage in this checkout's instance folder; a fresh prefix per run.
                         CERTVERIFY_RATELIMIT_KEY_PREFIX="t" + uuid.uuid4().hex)
    env.pop("RATELIMIT_STORAGE_URI", None)
    with gunicorn_instances(gunicorn, env, tmp_path, 1) as [server]:
        headers = {"Authorization": f"Bearer {key}", "Content-Type": "image/png"}
        statuses: list[int] = []
        pids: set[str] = set()
        with ThreadPoolExecutor(12) as pool:
            for _burst in range(20):  # concurrent bursts until both workers have answered API calls
                statuses += pool.map(lambda _: http_request(server.base + API, b"not an image", headers, "POST", 30)[0], range(24))
                pids = {entry["pid"] for entry in server.requests() if entry.get("route") == API}
                if len(pids) == 2:
                    break
        assert len(pids) == 2, pids
        passed = [s for s in statuses if s != 429]
        assert len(passed) == API_LIMIT, statuses  # memory:// let through up to API_LIMIT per worker
        assert set(passed) == {415}  # the calls that passed reached the view (not an image)

        for _ in range(5):  # five failures from this address lock alice here
            assert HttpSession(server.base).sign_in("alice", "wrong password!") == 200
        assert HttpSession(server.base).sign_in("alice", PASSWORD) == 429

        storage = ROOT / "instance" / "ratelimits.db"
        assert stat.S_IMODE(os.stat(storage).st_mode) == 0o600
        for side in (Path(f"{storage}-wal"), Path(f"{storage}-shm")):
            if side.exists():
                assert stat.S_IMODE(os.stat(side).st_mode) == 0o600, side

    with gunicorn_instances(gunicorn, env, tmp_path, 1) as [server]:  # a restart (or workers recycled) forgets nothing
        assert http_request(server.base + API, b"not an image", headers, "POST", 30)[0] == 429
        assert HttpSession(server.base).sign_in("alice", PASSWORD) == 429


# --- the storage on its own, through the `limits` strategies flask-limiter uses -------------------------------


def _storage(tmp_path: Path):
    from limits.storage import storage_from_string

    return storage_from_string(f"sqlite:///{tmp_path / 'limits' / 'counters.db'}")


def test_storage_moving_and_fixed_windows(tmp_path):
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter, MovingWindowRateLimiter

    storage = _storage(tmp_path)
    assert storage.check()
    limit = parse("3 per minute")
    for strategy in (MovingWindowRateLimiter(storage), FixedWindowRateLimiter(storage)):
        assert [strategy.hit(limit, "ip:1") for _ in range(4)] == [True, True, True, False]
        assert strategy.hit(limit, "ip:2")  # another key counts apart
        stats = strategy.get_window_stats(limit, "ip:1")
        assert stats.remaining == 0 and 0 < stats.reset_time - time.time() <= 61
        strategy.clear(limit, "ip:1")
        assert strategy.hit(limit, "ip:1")
        storage.reset()
    assert stat.S_IMODE(os.stat(tmp_path / "limits" / "counters.db").st_mode) == 0o600


def test_storage_is_shared_by_processes(tmp_path):
    """Two processes hitting the same limit at once through one file: exactly the limit passes."""
    script = (
        "import sys\n"
        "from limits import parse\n"
        "from limits.storage import storage_from_string\n"
        "from limits.strategies import MovingWindowRateLimiter\n"
        "import web.ratelimit\n"
        "s = MovingWindowRateLimiter(storage_from_string(sys.argv[1]))\n"
        "print(sum(s.hit(parse('50 per minute'), 'shared') for _ in range(60)))\n"
    )
    uri = f"sqlite:///{tmp_path / 'shared.db'}"
    procs = [subprocess.Popen([PYTHON, "-c", script, uri], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]
    passed = [int(p.communicate(timeout=60)[0]) for p in procs]
    assert sum(passed) == 50, passed


def test_default_storage_is_the_instance_file(tmp_path):
    from app import create_app

    app = create_app({"TESTING": True, "SECRET_KEY": "x" * 32})
    assert app.config["RATELIMIT_STORAGE_URI"] == f"sqlite:///{Path(app.instance_path).resolve() / 'ratelimits.db'}"
    other = create_app({"TESTING": True, "SECRET_KEY": "x" * 32, "RATELIMIT_STORAGE_URI": "redis://h:6379/0"})
    assert other.config["RATELIMIT_STORAGE_URI"] == "redis://h:6379/0"
