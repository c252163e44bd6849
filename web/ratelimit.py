"""Rate limits (flask-limiter): per client IP address on the public form, per API key on the API.

Counters live in ``RATELIMIT_STORAGE_URI``. The default, ``sqlite://`` with no path, is a SQLite file in the
instance folder (``ratelimits.db``, owner-only, WAL mode) that every gunicorn worker on the machine shares and
that survives restarts, so each limit counts as configured. ``sqlite:////abs/path.db`` names another file;
``redis://host:6379/0`` shares the counters between machines; ``memory://`` counts per process (tests only).
The client address is the one ProxyFix established from the configured number of proxy hops; a raw
X-Forwarded-For header is never trusted.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from pathlib import Path
from urllib.parse import unquote

from flask import current_app, g, request
from flask_limiter import Limiter
from limits.storage import MovingWindowSupport, Storage

BUSY_TIMEOUT_S = 10.0


class SQLiteStorage(Storage, MovingWindowSupport):
    """The ``limits`` storage over one SQLite file, shared by the processes of one machine.

    Fixed windows are rows of ``counters`` (key, count, expiry); the moving window keeps one row per hit in
    ``hits`` (key, at). Each operation is one ``BEGIN IMMEDIATE`` transaction, so checks and increments from
    different workers cannot interleave. Expired rows are swept now and then by the writer that meets them.
    """

    STORAGE_SCHEME = ["sqlite"]
    SWEEP_EVERY = 500

    def __init__(self, uri: str | None = None, wrap_exceptions: bool = False, **options: float | str | bool) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        # As in SQLAlchemy: sqlite:///relative.db, sqlite:////absolute/path.db.
        rest = unquote((uri or "").split("://", 1)[-1].split("?", 1)[0])
        path = rest[1:] if rest.startswith("/") else rest
        if not path:
            raise ValueError("a sqlite:// rate-limit storage needs a file: sqlite:////absolute/path.db")
        self.path = Path(path)
        self._lock = threading.Lock()
        self._conn: sqlite3.Connection | None = None
        self._pid = 0
        self._writes = 0

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    def _connection(self) -> sqlite3.Connection:
        if self._conn is None or self._pid != os.getpid():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # Created owner-only before SQLite opens it; SQLite gives its -wal and -shm files the same mode.
            os.close(os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600))
            conn = sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None,
                                   check_same_thread=False)
            _write_ahead(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("CREATE TABLE IF NOT EXISTS counters (key TEXT PRIMARY KEY, count INTEGER NOT NULL, "
                         "expiry REAL NOT NULL)")
            conn.execute("CREATE TABLE IF NOT EXISTS hits (key TEXT NOT NULL, at REAL NOT NULL)")
            conn.execute("CREATE INDEX IF NOT EXISTS hits_key_at ON hits (key, at)")
            self._conn, self._pid = conn, os.getpid()
        return self._conn

    def _write(self, work):  # noqa: ANN001, ANN202 (a callable of the connection)
        with self._lock:
            conn = self._connection()
            conn.execute("BEGIN IMMEDIATE")
            try:
                result = work(conn, time.time())
                self._writes += 1
                if self._writes % self.SWEEP_EVERY == 0:
                    self._sweep(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
            return result

    def _read(self, work):  # noqa: ANN001, ANN202
        with self._lock:
            return work(self._connection(), time.time())

    @staticmethod
    def _sweep(conn: sqlite3.Connection) -> None:
        now = time.time()
        conn.execute("DELETE FROM counters WHERE expiry <= ?", (now,))
        # A hit older than a day counts in no window the site configures (the longest is "per day").
        conn.execute("DELETE FROM hits WHERE at < ?", (now - 86400,))

    # --- fixed windows -----------------------------------------------------------------------------------------

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        def work(conn: sqlite3.Connection, now: float) -> int:
            conn.execute("DELETE FROM counters WHERE key = ? AND expiry <= ?", (key, now))
            conn.execute("INSERT INTO counters (key, count, expiry) VALUES (?, ?, ?) "
                         "ON CONFLICT (key) DO UPDATE SET count = count + excluded.count", (key, amount, now + expiry))
            return conn.execute("SELECT count FROM counters WHERE key = ?", (key,)).fetchone()[0]
        return self._write(work)

    def get(self, key: str) -> int:
        row = self._read(lambda conn, now: conn.execute(
            "SELECT count FROM counters WHERE key = ? AND expiry > ?", (key, now)).fetchone())
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._read(lambda conn, now: conn.execute(
            "SELECT expiry FROM counters WHERE key = ? AND expiry > ?", (key, now)).fetchone())
        return row[0] if row else time.time()

    def clear(self, key: str) -> None:
        def work(conn: sqlite3.Connection, _now: float) -> None:
            conn.execute("DELETE FROM counters WHERE key = ?", (key,))
            conn.execute("DELETE FROM hits WHERE key = ?", (key,))
        self._write(work)

    def reset(self) -> int | None:
        def work(conn: sqlite3.Connection, _now: float) -> int:
            count = conn.execute("SELECT (SELECT COUNT(*) FROM counters) + (SELECT COUNT(DISTINCT key) FROM hits)"
                                 ).fetchone()[0]
            conn.execute("DELETE FROM counters")
            conn.execute("DELETE FROM hits")
            return count
        return self._write(work)

    def check(self) -> bool:
        try:
            self._read(lambda conn, _now: conn.execute("SELECT 1").fetchone())
        except sqlite3.Error:
            return False
        return True

    # --- the moving window -------------------------------------------------------------------------------------

    def acquire_entry(self, key: str, limit: int, expiry: int, amount: int = 1) -> bool:
        if amount > limit:
            return False

        def work(conn: sqlite3.Connection, now: float) -> bool:
            conn.execute("DELETE FROM hits WHERE key = ? AND at <= ?", (key, now - expiry))
            used = conn.execute("SELECT COUNT(*) FROM hits WHERE key = ?", (key,)).fetchone()[0]
            if used + amount > limit:
                return False
            conn.executemany("INSERT INTO hits (key, at) VALUES (?, ?)", [(key, now)] * amount)
            return True
        return self._write(work)

    def get_moving_window(self, key: str, limit: int, expiry: int) -> tuple[float, int]:
        def work(conn: sqlite3.Connection, now: float) -> tuple[float, int]:
            oldest, count = conn.execute("SELECT MIN(at), COUNT(*) FROM hits WHERE key = ? AND at > ?",
                                         (key, now - expiry)).fetchone()
            return (oldest, count) if count else (now, 0)
        return self._read(work)


def default_storage_uri(instance_path: str) -> str:
    """The embedded default: a SQLite file in the instance folder, shared by every worker of the machine."""
    return f"sqlite:///{Path(instance_path).resolve() / 'ratelimits.db'}"


def client_address() -> str:
    """The client's IP address as seen through the trusted proxies."""
    return request.remote_addr or "unknown"


def ip_key() -> str:
    return "ip:" + client_address()


def api_key() -> str:
    """Counts per API key name once the key is known, per address for requests without a valid key."""
    name = g.get("api_key_name")
    return f"key:{name}" if name else ip_key()


def public_limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC"]


def api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


limiter = Limiter(key_func=ip_key, default_limits=[], headers_enabled=True)


def _write_ahead(conn: sqlite3.Connection) -> None:
    """Put the counters' file in WAL mode (it stays so once set). Switching needs the file to itself, and SQLite
    answers "database is locked" at once, without waiting out the busy timeout, when another process opens the new
    file at the same moment: the switch is tried again until the timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_S
    while True:
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)
