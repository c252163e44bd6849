"""Fixtures of the log and console suite: every test runs on SQLite and on a real PostgreSQL.

PostgreSQL comes from TEST_POSTGRES_URL (``.ci/services.sh`` starts one); Redis from TEST_REDIS_URL. Without them
the PostgreSQL and Redis tests are skipped locally and fail in CI (CI set), so CI cannot pass by skipping.
Each test gets a fresh database copied from a template migrated once per session (a file copy on SQLite,
``CREATE DATABASE ... TEMPLATE`` on PostgreSQL), which keeps the suite fast.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from tests.audit.helpers import make_app, migrate, need

# --- databases -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("sqlite-template")
    path = base / "template.db"
    migrate(f"sqlite:///{path}", base)
    return path


def _with_database(url: str, name: str) -> str:
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path="/" + name))


@pytest.fixture(scope="session")
def postgres_template(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(server URL, name of a migrated template database); skipped or failed without TEST_POSTGRES_URL."""
    url = need("TEST_POSTGRES_URL", "PostgreSQL")
    name = f"cvt_template_{os.getpid()}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}"')
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    migrate(_with_database(url, name), tmp_path_factory.mktemp("pg-template"))
    yield url, name
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated database for this test, on SQLite and on PostgreSQL."""
    if request.param == "sqlite":
        path = tmp_path / "certverify.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    server, template = request.getfixturevalue("postgres_template")
    name = "cvt_" + uuid.uuid4().hex[:12]
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    yield _with_database(server, name)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def app(database_url: str, tmp_path: Path):
    app = make_app(database_url, tmp_path)
    yield app
    from web import db

    db.get_engine(app).dispose()


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def runner(app):
    return app.test_cli_runner()
