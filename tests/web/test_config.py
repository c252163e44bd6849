"""The settings table: defaults, environment overrides, and what production refuses."""

from __future__ import annotations

import pytest
from flask import Flask

from web import config


def test_every_setting_reaches_the_app_with_its_default(monkeypatch, tmp_path):
    """The table is the one source: each row, with no environment, lands in app.config as its default (the four
    that a deployment derives are named), and no two rows share a variable."""
    for row in config.SETTINGS:
        monkeypatch.delenv(row.variable, raising=False)
    monkeypatch.setenv("CERTVERIFY_ENV", "development")
    app = Flask(__name__, instance_path=str(tmp_path))
    config.load(app)
    derived = {"ENV", "SECRET_KEY", "SESSION_COOKIE_SECURE", "RATELIMIT_STORAGE_URI"}
    for row in config.SETTINGS:
        assert row.description, row.name
        if row.name not in derived:
            assert app.config[row.name] == row.default, row.name
    assert app.config["SESSION_COOKIE_SECURE"] is False  # development serves plain http
    assert app.config["RATELIMIT_STORAGE_URI"] == f"sqlite:///{tmp_path / 'ratelimits.db'}"  # shared by workers
    variables = [row.variable for row in config.SETTINGS]
    assert len(variables) == len(set(variables))
    assert config.TABLE["SECRET_KEY"].variable == "SECRET_KEY" and config.TABLE["KEYS_DIR"].variable == (
        "CERTVERIFY_KEYS_DIR")


def test_markdown_table_lists_every_setting():
    table = config.markdown_table()
    for row in config.SETTINGS:
        assert f"`{row.variable}`" in table


def test_environment_overrides_defaults(monkeypatch, tmp_path):
    monkeypatch.setenv("CERTVERIFY_ENV", "development")
    monkeypatch.setenv("CERTVERIFY_MAX_PAGES", "3")
    monkeypatch.setenv("CERTVERIFY_VERIFY_QUEUE_TIMEOUT", "2.5")
    monkeypatch.setenv("CERTVERIFY_RATELIMIT_ENABLED", "false")
    monkeypatch.setenv("RATELIMIT_STORAGE_URI", "redis://127.0.0.1:6379/0")
    monkeypatch.setenv("CERTVERIFY_SESSION_COOKIE_NAME", "cv")  # any other CERTVERIFY_ variable, JSON or text
    app = Flask(__name__, instance_path=str(tmp_path))
    config.load(app)
    assert app.config["MAX_PAGES"] == 3
    assert app.config["VERIFY_QUEUE_TIMEOUT"] == 2.5
    assert app.config["RATELIMIT_ENABLED"] is False
    assert app.config["RATELIMIT_STORAGE_URI"] == "redis://127.0.0.1:6379/0"
    assert app.config["SESSION_COOKIE_NAME"] == "cv"
    assert app.config["MAX_CONTENT_LENGTH"] == app.config["MAX_REQUEST_BYTES"]


def test_test_config_wins_over_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("CERTVERIFY_MAX_PAGES", "3")
    app = Flask(__name__, instance_path=str(tmp_path))
    config.load(app, {"TESTING": True, "MAX_PAGES": 5})
    assert app.config["MAX_PAGES"] == 5


def test_production_refuses_to_start_without_secret_key(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.delenv("CERTVERIFY_ENV", raising=False)
    app = Flask(__name__, instance_path=str(tmp_path))
    with pytest.raises(config.ConfigurationError, match="SECRET_KEY") as refused:
        config.load(app)
    assert refused.value.code == "configuration"  # the one hierarchy's error (verify/errors.py), as the CLI maps it
    monkeypatch.setenv("CERTVERIFY_ENV", "production")
    with pytest.raises(config.ConfigurationError):
        config.load(Flask(__name__, instance_path=str(tmp_path)), {"TESTING": False})


def test_production_with_secret_key_sends_secure_cookies(monkeypatch, tmp_path):
    monkeypatch.delenv("CERTVERIFY_ENV", raising=False)
    monkeypatch.setenv("SECRET_KEY", "x" * 40)
    app = Flask(__name__, instance_path=str(tmp_path))
    config.load(app)
    assert app.config["SESSION_COOKIE_SECURE"] is True
    monkeypatch.setenv("CERTVERIFY_SESSION_COOKIE_SECURE", "false")
    app = Flask(__name__, instance_path=str(tmp_path))
    config.load(app)
    assert app.config["SESSION_COOKIE_SECURE"] is False


def test_development_keeps_one_secret_for_every_worker(monkeypatch, tmp_path):
    monkeypatch.delenv("SECRET_KEY", raising=False)
    monkeypatch.setenv("CERTVERIFY_ENV", "development")
    first, second = Flask(__name__, instance_path=str(tmp_path)), Flask(__name__, instance_path=str(tmp_path))
    config.load(first)
    config.load(second)
    assert first.config["SECRET_KEY"] == second.config["SECRET_KEY"]
    assert len(first.config["SECRET_KEY"]) >= 40
    assert (tmp_path / "dev-secret-key").stat().st_mode & 0o077 == 0
    assert first.config["SESSION_COOKIE_SECURE"] is False


def test_gunicorn_reads_the_same_table(monkeypatch):
    assert config.value("BIND", {}) == "127.0.0.1:8000"
    assert config.value("WORKERS", {"CERTVERIFY_WORKERS": "3"}) == 3
