"""Fixtures every suite shares: the translations, the migrated log on SQLite and PostgreSQL, Redis, gunicorn,
headless Chromium; and the markers, which come from the fixtures a test uses, so they cannot drift.

A test that uses a real service marks itself by requesting its fixture: ``browser`` (or ``page``) for Chromium,
``postgres_database`` (or the PostgreSQL run of ``database_url``) for PostgreSQL, ``redis_url`` for Redis,
``gunicorn`` for a real gunicorn. Without the service such a test is skipped locally and fails under CI=true.
Only the tests marked ``every_database`` run on PostgreSQL as well as SQLite: those of the database's behaviour.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.support import ARTIFACTS, GUNICORN, chromium, empty_postgres, key_ring, migrate, need_env, need_tool

# marker: the fixtures whose use puts it on a test (the test's whole fixture closure is searched)
MARKER_FIXTURES = {
    "browser": {"browser"},
    "postgres": {"postgres_database"},
    "redis": {"redis_url"},
    "gunicorn": {"gunicorn"},
}


@pytest.fixture(scope="session", autouse=True)
def catalogues() -> None:
    """Compile the translations (what `make install` does), so the Japanese pages exist in any checkout."""
    from web.i18n import compile_catalogues

    compile_catalogues()


def pytest_report_header() -> str:
    """The face the sample front is drawn in: the front and field tests' figures hold for the IPA faces `.ci/run`
    installs, and the Latin fallback draws another front."""
    from verify.fonts import face_in_use

    return f"sample front drawn in: {face_in_use()}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """``database_url`` is SQLite for every test, and PostgreSQL too for a test marked ``every_database``."""
    if "database_url" in metafunc.fixturenames:
        both = metafunc.definition.get_closest_marker("every_database") is not None
        metafunc.parametrize("database_url", ["sqlite", "postgres"] if both else ["sqlite"], indirect=True)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark each test with the services its fixtures use."""
    for item in items:
        used = set(getattr(item, "fixturenames", ()))
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("database_url") == "postgres":
            used.add("postgres_database")
        for marker, fixtures in MARKER_FIXTURES.items():
            if used & fixtures and item.get_closest_marker(marker) is None:
                item.add_marker(marker)


# --- databases -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A SQLite log migrated once per session; each test's app gets a copy (a file copy is far faster)."""
    base = tmp_path_factory.mktemp("sqlite-template")
    path = base / "template.db"
    migrate(f"sqlite:///{path}", key_ring(base))
    return path


@pytest.fixture(scope="session")
def postgres_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A migrated database of this session on the PostgreSQL server of TEST_POSTGRES_URL."""
    server = need_env("TEST_POSTGRES_URL", "PostgreSQL")
    import sqlalchemy as sa

    name = f"cvt_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = urlunsplit(urlsplit(server)._replace(path="/" + name))
    base = tmp_path_factory.mktemp("pg")
    migrate(url, key_ring(base))
    yield url
    with admin.connect() as conn:
        conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    admin.dispose()


@pytest.fixture
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, migrated log for this test: a copy of the SQLite template, or the session's PostgreSQL database
    emptied (parametrized by pytest_generate_tests)."""
    if request.param == "sqlite":
        path = tmp_path / "certverify.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), path)
        yield f"sqlite:///{path}"
        return
    url = request.getfixturevalue("postgres_database")
    empty_postgres(url)
    yield url


# --- other services --------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def redis_url() -> str:
    """The Redis server of TEST_REDIS_URL."""
    return need_env("TEST_REDIS_URL", "Redis")


@pytest.fixture(scope="session")
def gunicorn() -> str:
    """The gunicorn executable of this environment, for a test or fixture that starts the site under it."""
    return need_tool(str(GUNICORN), "gunicorn")


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Chromium (Debian's, driven by Playwright), one for the session."""
    ARTIFACTS.mkdir(exist_ok=True)
    with chromium() as browser:
        yield browser


@pytest.fixture
def page_options() -> dict:
    """The browser context's options: a Japanese office's browser. A suite can override this fixture, a test can
    add to it with indirect parametrization of ``page``."""
    return {"locale": "ja-JP"}


@pytest.fixture
def page(browser, page_options: dict, request: pytest.FixtureRequest):
    """A fresh browser context (no cookies) whose script errors and CSP violations fail the test."""
    options = {**page_options, **(getattr(request, "param", {}) or {})}
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True, **options)
    page = context.new_page()
    problems: list[str] = []
    expected = "Failed to load resource: the server responded with a status of 4"  # an error page is an answer

    def on_console(msg) -> None:
        if msg.type == "error" and not msg.text.startswith(expected):
            problems.append(msg.text)

    page.on("console", on_console)
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    page.set_default_timeout(60_000)
    yield page
    context.close()
    assert problems == [], problems
