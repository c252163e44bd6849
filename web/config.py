"""Every setting of the site in one table: its name, default, environment variable and meaning.

``load(app, test_config)`` fills ``app.config`` from the table's defaults, then from the environment (each row's
variable; any other ``CERTVERIFY_<NAME>`` variable in the style of ``app.config.from_prefixed_env``), then from
the test's mapping, and refuses to start a production app without a configured ``SECRET_KEY``.
gunicorn.conf.py reads its own rows through ``value(name)`` so that the server is configured from the same table.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask

from verify.errors import ConfigurationError  # the site refuses to start: the operator's settings are wrong
from web import site_folder
from web.ratelimit import default_storage_uri

PREFIX = "CERTVERIFY"


@dataclass(frozen=True)
class Setting:
    """One row of the table."""

    name: str
    default: Any
    description: str
    env: str = ""  # defaults to CERTVERIFY_<name>

    @property
    def variable(self) -> str:
        return self.env or f"{PREFIX}_{self.name}"


MiB = 1024 * 1024
MIN_METRICS_TOKEN = 32

SETTINGS: tuple[Setting, ...] = (
    # --- deployment --------------------------------------------------------------------------------------------
    Setting("ENV", "production",
            "`production` or `development`. Production (also whenever the app is neither debug nor testing and ENV "
            "is not `development`) refuses to start without SECRET_KEY and sends cookies only over HTTPS."),
    Setting("SECRET_KEY", None,
            "Signs sessions and CSRF tokens; must be the same in every worker and instance. Required in production; "
            "in development a random key is kept in the instance folder.", env="SECRET_KEY"),
    Setting("KEYS_DIR", "keys",
            "Folder of the issuers' key ring (`python -m verify keys init` creates a development ring)."),
    Setting("DATABASE_URL", None,
            "SQLAlchemy URL of the verification log; empty means SQLite in the instance folder.", env="DATABASE_URL"),
    Setting("PROXY_FIX_HOPS", 0,
            "Number of trusted reverse proxies in front of the app (X-Forwarded-For/-Proto/-Host); 0 trusts none."),
    Setting("SESSION_COOKIE_SECURE", "auto",
            "Send the session and language cookies over HTTPS only: `true`, `false`, or `auto` (yes in production)."),
    Setting("HSTS_SECONDS", 0,
            "max-age of Strict-Transport-Security; 0 sends no header (set it when TLS ends in front of the app)."),
    # --- uploads and the pipeline ------------------------------------------------------------------------------
    Setting("MAX_UPLOAD_BYTES", 40 * MiB, "Largest scan file accepted, in bytes (answered 413 too_large)."),
    Setting("MAX_REQUEST_BYTES", 41 * MiB,
            "Largest HTTP request body, in bytes, checked before reading it (answered 413 request_too_large)."),
    Setting("MAX_FORM_BYTES", 16 * 1024,
            "Largest request body of every endpoint but the scan uploads (the sign-in, sign-out and key forms, "
            "urlencoded posts anywhere), and largest form field, in bytes (answered 413 request_too_large)."),
    Setting("MAX_PIXELS", 60_000_000, "Largest decoded image, in pixels (answered 413 too_many_pixels)."),
    Setting("MAX_PAGES", 10, "Most pages read from a PDF (answered 413 too_many_pages)."),
    Setting("RESULT_IMAGE_FORMAT", "jpeg",
            "Encoding of the restored front embedded in the result page: jpeg, webp or png (png is ~10x slower)."),
    Setting("RESULT_IMAGE_QUALITY", 80, "JPEG/WebP quality of the restored front on the result page."),
    # --- overload guard ----------------------------------------------------------------------------------------
    Setting("VERIFY_CONCURRENCY", 1,
            "Verifications run at once in one worker process (CPU-bound: one per core is right)."),
    Setting("VERIFY_QUEUE_MAX", 4,
            "Requests that may wait for a free verification slot in one worker; more are answered 503 overloaded."),
    Setting("VERIFY_QUEUE_TIMEOUT", 10.0,
            "Longest wait, in seconds, for a verification slot before answering 503 overloaded."),
    # --- rate limits (flask-limiter) ---------------------------------------------------------------------------
    Setting("RATELIMIT_STORAGE_URI", "sqlite://",
            "Where rate-limit counters live: `sqlite://` is a file in the instance folder shared by every worker "
            "of the machine and kept across restarts (`sqlite:////path/file.db` names another file); "
            "redis://host:6379/0 shares them between machines; memory:// counts per process (tests only).",
            env="RATELIMIT_STORAGE_URI"),
    Setting("RATELIMIT_PUBLIC", "10 per minute;200 per day",
            "Limit on verifications from the upload page, per client IP address."),
    Setting("RATELIMIT_API", "120 per minute",
            "Limit on API verifications, per API key (per client IP address while unauthenticated)."),
    Setting("RATELIMIT_ENABLED", True, "Switch rate limiting off (for benchmarks only)."),
    # --- the verification log and the auditors' console (web/auditlog.py, web/console.py) -----------------------
    Setting("AUDIT_IP_HASH_SECRET", None,
            "Key of the HMAC that turns a web client's IP address into the log's `ip:...` name; empty derives it "
            "from SECRET_KEY (changing either renames every web client in later entries).",
            env="AUDIT_IP_HASH_SECRET"),
    Setting("AUDIT_CHECKPOINT_KEY", None,
            "Key of the HMAC that signs the checkpoints `flask audit prune` leaves; empty derives it from "
            "SECRET_KEY. Keep it: checkpoints signed under a lost key no longer verify.",
            env="AUDIT_CHECKPOINT_KEY"),
    Setting("PERMANENT_SESSION_LIFETIME", 1800,
            "Seconds a console sign-in stays valid without activity; the console then asks to sign in again."),
    Setting("RATELIMIT_SIGNIN", "10 per minute",
            "Limit on console sign-in attempts, per client IP address, whatever the names tried (see SIGNIN_LOCKOUT_*)."),
    Setting("SIGNIN_LOCKOUT_FAILURES", 5,
            "Failed sign-ins to one account from one source address (IPv6: its /64) that lock that pair for "
            "SIGNIN_LOCKOUT_SECONDS; the account stays open to other sources."),
    Setting("SIGNIN_ACCOUNT_FAILURES", 50,
            "Failed sign-ins to one account from all sources within SIGNIN_LOCKOUT_SECONDS after which every "
            "source that has failed on it is locked out; a source with no failures still gets in."),
    Setting("SIGNIN_LOCKOUT_SECONDS", 900, "Window, in seconds, of the sign-in lockout counters and the lock."),
    Setting("AUDIT_PAGE_SIZE", 50, "Log entries per console page."),
    Setting("AUDIT_VERIFY_CACHE_SECONDS", 30,
            "How long the console reuses a hash-chain check while no entry was appended (the check reads the "
            "whole log)."),
    Setting("AUDIT_FLAG_WINDOW_DAYS", 7, "Days the console's flags look back when no time range is chosen."),
    Setting("AUDIT_FLAG_CLIENT_FAILURES", 10, "Failed attempts from one client that raise a flag."),
    Setting("AUDIT_FLAG_SERIAL_CLIENTS", 3, "Distinct clients checking one serial that raise a flag."),
    Setting("AUDIT_FLAG_BURST_COUNT", 20,
            "Attempts from one client, or of one serial, within AUDIT_FLAG_BURST_SECONDS that raise a flag."),
    Setting("AUDIT_FLAG_BURST_SECONDS", 60, "Width of the burst window, in seconds."),
    Setting("AUDIT_FLAG_CACHE_SECONDS", 60,
            "How long the console reuses the flags it found (finding them reads every entry of the window: "
            "about 1 s for 100,000 entries); the page says when they were computed."),
    # --- metrics (web/metrics.py, docs/operations.md) ------------------------------------------------------------
    Setting("METRICS_TOKEN", None,
            "Bearer token a scraper sends to read /metrics (`Authorization: Bearer ...`), at least 32 characters; "
            "empty turns /metrics off. Without it, or with another, /metrics answers 404."),
    Setting("PROMETHEUS_MULTIPROC_DIR", None,
            "Folder where gunicorn's workers keep the metrics that /metrics sums, emptied when the master starts; "
            "one per gunicorn master. Empty: a folder of the master's own on /dev/shm (else the temporary folder), "
            "removed when it exits. Unset outside gunicorn (one process serves its own).",
            env="PROMETHEUS_MULTIPROC_DIR"),
    # --- languages ---------------------------------------------------------------------------------------------
    Setting("BABEL_DEFAULT_LOCALE", "ja", "Language when neither the switch nor Accept-Language chooses one."),
    # --- gunicorn (read by gunicorn.conf.py) -------------------------------------------------------------------
    Setting("BIND", "127.0.0.1:8000", "gunicorn listen address."),
    Setting("WORKERS", 0, "gunicorn worker processes; 0 means one per CPU core (verification is CPU-bound)."),
    Setting("THREADS", 0,
            "Threads per worker; 0 means VERIFY_CONCURRENCY + VERIFY_QUEUE_MAX + 2, so waiting requests are "
            "seen and bounded by the overload guard instead of queueing unseen."),
    Setting("BACKLOG", 64, "Connections the kernel queues before gunicorn accepts them."),
    Setting("TIMEOUT", 60,
            "Seconds a request may run in a worker (above the longest bounded request); past it the worker closes "
            "that connection and is replaced. Also gunicorn's heartbeat timeout."),
    Setting("WORKER_CONNECTIONS", 256,
            "Connections one worker holds at once, most of them still sending their request (read without a "
            "thread); past it, connections wait in the listen backlog."),
    Setting("REQUEST_HEADER_TIMEOUT", 10.0, "Seconds a client has to send a request's headers (answered 408)."),
    Setting("REQUEST_BODY_TIMEOUT", 120.0,
            "Seconds a client has to send a request's body once its headers are in (answered 408)."),
    Setting("REQUEST_IDLE_TIMEOUT", 10.0,
            "Seconds a connection may send nothing while its request is incomplete (answered 408)."),
    Setting("REQUEST_BUFFER_BYTES", 160 * MiB,
            "Memory one worker gives to requests being received (at least one largest request); further "
            "connections wait, unread, until it is free."),
    Setting("MAX_REQUESTS", 1000,
            "Requests a worker serves before it is replaced by a fresh one (memory that decoding left behind is "
            "returned); 0 never replaces."),
    Setting("MAX_REQUESTS_JITTER", 200, "Random extra requests per worker, so that workers are not replaced together."),
    Setting("WORKER_MAX_RSS_MB", 1024,
            "A worker whose resident memory passes this many MiB after a request finishes it and is replaced; "
            "0 never checks."),
    Setting("LOG_LEVEL", "info", "gunicorn log level."),
)

TABLE: dict[str, Setting] = {s.name: s for s in SETTINGS}

# Names that are also fixed Flask / extension settings, not meant to be changed by deployment.
FIXED: dict[str, Any] = {
    "LANGUAGES": ("ja", "en"),
    "BABEL_TRANSLATION_DIRECTORIES": str(site_folder("translations")),
    "RATELIMIT_HEADERS_ENABLED": True,
    "RATELIMIT_STRATEGY": "moving-window",
    "WTF_CSRF_TIME_LIMIT": 3600,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "JSON_SORT_KEYS": False,
    # flask-compress, called by web.security for every text answer larger than a packet but the console's.
    "COMPRESS_REGISTER": False,
    # Not streamed answers (static files, exports): flask-compress's streaming path never closes the file it reads.
    "COMPRESS_STREAMS": False,
    "COMPRESS_MIMETYPES": ["text/html", "text/css", "text/javascript", "application/javascript", "application/json",
                           "application/problem+json", "image/svg+xml"],
    "COMPRESS_ALGORITHM": ["br", "gzip"],
    "COMPRESS_MIN_SIZE": 1400,
}


def _parse(raw: str, default: Any) -> Any:
    """Read an environment string as the type of the row's default (JSON for anything else)."""
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        return float(raw)
    if isinstance(default, str) or default is None:
        return raw
    return json.loads(raw)


def value(name: str, environ: dict[str, str] | None = None) -> Any:
    """One setting's value from the environment or its default, outside an app (gunicorn.conf.py)."""
    env = os.environ if environ is None else environ
    row = TABLE[name]
    raw = env.get(row.variable)
    return row.default if raw in (None, "") else _parse(raw, row.default)


def is_production(app: Flask) -> bool:
    """True unless the app is in debug or testing mode or ENV says development."""
    return not (app.debug or app.testing or app.config.get("ENV") == "development")


def load(app: Flask, test_config: dict[str, Any] | None = None) -> None:
    """Fill ``app.config``: table defaults, environment, then ``test_config``; check what production needs."""
    # Any CERTVERIFY_<NAME> variable, parsed as JSON where it can be (Flask's own settings, for example); the
    # table's rows are then set with their own parsing and defaults.
    app.config.from_prefixed_env(PREFIX)
    for row in SETTINGS:
        app.config[row.name] = value(row.name)
    app.config.update(FIXED)
    if test_config:
        app.config.update(test_config)

    if str(app.config.get("RATELIMIT_STORAGE_URI") or "sqlite://").rstrip("/") in ("sqlite:", ""):
        app.config["RATELIMIT_STORAGE_URI"] = default_storage_uri(app.instance_path)
    app.config["MAX_CONTENT_LENGTH"] = int(app.config["MAX_REQUEST_BYTES"])
    app.config["MAX_FORM_MEMORY_SIZE"] = int(app.config["MAX_REQUEST_BYTES"])
    secure = app.config["SESSION_COOKIE_SECURE"]
    if isinstance(secure, str):
        secure = is_production(app) if secure.strip().lower() in ("", "auto") else _parse(secure, False)
    app.config["SESSION_COOKIE_SECURE"] = bool(secure)

    token = app.config.get("METRICS_TOKEN")
    if token and len(str(token)) < MIN_METRICS_TOKEN:
        raise ConfigurationError(
            f"METRICS_TOKEN is shorter than {MIN_METRICS_TOKEN} characters: a scraper's token must not be guessable "
            "(python -c 'import secrets; print(secrets.token_urlsafe(32))' makes one), or leave it empty to turn "
            "/metrics off.")

    if not app.config.get("SECRET_KEY"):
        if is_production(app):
            raise ConfigurationError(
                "SECRET_KEY is not set. Production refuses to start without it: set the SECRET_KEY environment "
                "variable to a long random value shared by every worker (or CERTVERIFY_ENV=development locally).")
        app.config["SECRET_KEY"] = _development_secret(Path(app.instance_path))


def _development_secret(instance: Path) -> str:
    """A random key kept in the instance folder, so that every development worker signs CSRF tokens alike."""
    instance.mkdir(parents=True, exist_ok=True)
    path = instance / "dev-secret-key"
    if not path.exists():
        # Written aside and linked into place: workers starting together all end up reading the same key.
        tmp = instance / f".dev-secret-key.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(secrets.token_urlsafe(48))
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink()
    return path.read_text().strip()


def markdown_table() -> str:
    """The table as Markdown, for the README and docs (``python -m web.config``)."""
    lines = ["| setting | environment variable | default | meaning |", "| --- | --- | --- | --- |"]
    for row in SETTINGS:
        default = "" if row.default is None else f"`{row.default}`"
        lines.append(f"| {row.name} | `{row.variable}` | {default} | {row.description} |")
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown_table())
