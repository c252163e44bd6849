"""Fixtures of the log and console suite: apps on a fresh log (``database_url``, see tests/conftest.py: SQLite, and
PostgreSQL too for the tests of the database's behaviour, marked ``every_database``), with cheap password hashing
and an English-speaking client."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support import key_ring, make_app


@pytest.fixture(autouse=True)
def cheap_password_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 at production cost takes ~0.1 s a hash; the tests check the flow, not the cost."""
    from argon2 import PasswordHasher

    from web import users

    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture
def app(database_url: str, tmp_path: Path):
    app = make_app(database_url, key_ring(tmp_path))
    yield app
    from web import db

    db.get_engine(app).dispose()


@pytest.fixture
def client(app):
    """A browser that prefers English (the site's default is Japanese), so the assertions read plainly."""
    client = app.test_client()
    client.environ_base["HTTP_ACCEPT_LANGUAGE"] = "en"
    return client


@pytest.fixture
def runner(app):
    return app.test_cli_runner()


@pytest.fixture
def page_options() -> dict:
    """The console's browser reads English, so the assertions read plainly."""
    return {"locale": "en-US"}
