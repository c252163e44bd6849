"""The database layer: one SQLAlchemy engine per process, a session per request, `flask db upgrade`.

SQLite (the embedded default) runs in WAL mode with a busy timeout, so several gunicorn workers can read while one
writes; writers that must not interleave (the log's appends) begin with ``BEGIN IMMEDIATE`` via
:func:`write_connection`. PostgreSQL is used through ``DATABASE_URL=postgresql+psycopg://...``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import sqlalchemy as sa
from flask import Flask, current_app, g
from flask.cli import AppGroup
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session, sessionmaker

from web import site_folder

MIGRATIONS_DIR = site_folder("migrations")
SQLITE_BUSY_TIMEOUT_MS = 10_000

_EXTENSION = "certverify_db"


def database_url(app: Flask) -> str:
    """The configured ``DATABASE_URL``, or a SQLite file in the instance folder."""
    url = app.config.get("DATABASE_URL")
    if url:
        return normalise_url(str(url))
    Path(app.instance_path).mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{Path(app.instance_path) / 'certverify.db'}"


def normalise_url(url: str) -> str:
    """``postgres://`` and plain ``postgresql://`` URLs use psycopg 3 (the driver installed), not psycopg2."""
    for scheme in ("postgres://", "postgresql://"):
        if url.startswith(scheme):
            return "postgresql+psycopg://" + url[len(scheme):]
    return url


def is_sqlite(engine: Engine | Connection) -> bool:
    return engine.dialect.name == "sqlite"


def create_private_file(path: str | None) -> None:
    """Create the SQLite file readable by its owner only (0600) before SQLite would create it with the umask's
    mode; SQLite gives its -wal and -shm files the database file's mode. An existing file is left as it is."""
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except (FileExistsError, FileNotFoundError, PermissionError):
        pass  # there already, or SQLite will say why it cannot open it


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite gets WAL, a busy timeout and explicit transaction control."""
    if url.startswith("sqlite"):
        create_private_file(sa.engine.make_url(url).database)
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn, _record) -> None:  # noqa: ANN001 (DB-API objects)
            # Let SQLAlchemy emit BEGIN itself (the driver's implicit transactions cannot do BEGIN IMMEDIATE).
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            # NORMAL in WAL mode survives process crashes; only an OS crash can lose the newest commits.
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.close()

        @sa.event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
            conn.exec_driver_sql(f"BEGIN {mode}")

        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=5)


class _EngineHolder:
    """The app's engine, rebuilt after a fork so no pooled connection is shared between processes."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._lock = threading.Lock()
        self._engine: Engine | None = None
        self._pid = 0

    def get(self) -> Engine:
        with self._lock:
            if self._engine is None or self._pid != os.getpid():
                if self._engine is not None:
                    self._engine.dispose(close=False)
                self._engine = make_engine(self.url)
                self._sessions = sessionmaker(bind=self._engine, expire_on_commit=False)
                self._pid = os.getpid()
            return self._engine

    def sessionmaker(self) -> sessionmaker[Session]:
        self.get()
        return self._sessions

    def dispose(self) -> None:
        with self._lock:
            if self._engine is not None:
                self._engine.dispose()
                self._engine = None


def _holder(app: Flask | None = None) -> _EngineHolder:
    app = app or current_app._get_current_object()  # type: ignore[attr-defined]
    holder = app.extensions.get(_EXTENSION)
    if holder is None:
        raise RuntimeError("web.db.init_app(app) was not called")
    return holder


def get_engine(app: Flask | None = None) -> Engine:
    """The engine of ``app`` (default: the current app)."""
    return _holder(app).get()


def get_session() -> Session:
    """The request's session, opened on first use and closed when the app context ends."""
    if "db_session" not in g:
        g.db_session = _holder().sessionmaker()()
    return g.db_session


def close_session(_exc: BaseException | None = None) -> None:
    session = g.pop("db_session", None)
    if session is not None:
        session.close()


@contextmanager
def write_connection(engine: Engine | None = None) -> Iterator[Connection]:
    """A connection in a write transaction that excludes other writers from the start on SQLite.

    On SQLite this is ``BEGIN IMMEDIATE`` (the database's write lock, shared by every process using the file);
    on PostgreSQL an ordinary transaction, in which callers take row locks (``SELECT ... FOR UPDATE``).
    """
    engine = engine or get_engine()
    with engine.connect() as conn:
        if is_sqlite(conn):
            conn.execution_options(sqlite_begin="IMMEDIATE")
        with conn.begin():
            yield conn


# --- migrations ------------------------------------------------------------------------------------------------


def alembic_config(url: str):  # noqa: ANN201 (alembic is imported lazily: only the CLI and tests need it)
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade(app: Flask, revision: str = "head") -> None:
    """Bring the app's database schema to ``revision`` with the Alembic migrations under ``migrations/``."""
    from alembic import command

    engine = get_engine(app)
    cfg = alembic_config(database_url(app))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)


@click.group("db", cls=AppGroup, help="Database schema (Alembic migrations).")
def db_cli() -> None:
    pass


@db_cli.command("upgrade", help="Apply the migrations up to REVISION (default: the newest).")
@click.argument("revision", default="head")
def upgrade_command(revision: str) -> None:
    upgrade(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"database at revision {current_revision(current_app._get_current_object())}")  # type: ignore[attr-defined]


@db_cli.command("current", help="Print the database's schema revision.")
def current_command() -> None:
    click.echo(current_revision(current_app._get_current_object()) or "empty")  # type: ignore[attr-defined]


def current_revision(app: Flask) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with get_engine(app).connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def init_app(app: Flask) -> None:
    """Give ``app`` its engine, close the request's session on teardown, register ``flask db``."""
    app.extensions[_EXTENSION] = _EngineHolder(database_url(app))
    app.teardown_appcontext(close_session)
    app.cli.add_command(db_cli)
