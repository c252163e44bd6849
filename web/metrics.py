"""Metrics for the operator: ``GET /metrics`` in Prometheus text format, summed over every gunicorn worker.

Under gunicorn each worker writes its counters to files of one folder (prometheus_client's multiprocess mode:
``PROMETHEUS_MULTIPROC_DIR``, which gunicorn.conf.py sets before any worker starts, empties at the master's start and
tidies when a worker exits), and a scrape sums them, whichever worker answers it. Without that variable (the Flask
development server, the tests' in-process apps) the metrics live in this process and are served from it.

The endpoint answers only a request carrying ``Authorization: Bearer <METRICS_TOKEN>``; without the token configured,
or with another one, it is 404 like any unknown address. Labels take values from fixed sets (channels, outcomes,
error codes, stages, refusal reasons): never a client, a key name, a serial or a request id.
docs/operations.md lists every metric.
"""

from __future__ import annotations

import hmac
import os
from typing import TYPE_CHECKING

from flask import Blueprint, Flask, Response, current_app, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from web.problems import WebError, all_codes

if TYPE_CHECKING:
    from web.service import Verification

MULTIPROC_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"

# The metrics of this process (single-process mode); in multiprocess mode the files are read instead.
REGISTRY = CollectorRegistry()

CHANNELS = ("web", "api")
OUTCOMES = ("verified", "altered", "failed")
FRONT_OUTCOMES = ("matches", "differs", "unreadable")  # verify.compare.FrontComparison.outcome
# The pipeline's stages (verify/restore.py), the web layer's encoding of the restored front and the comparison of
# the paper front with it.
STAGES = ("decode", "locate", "code", "refine", "content", "warp", "finish", "encode", "front", "refused")
# Requests answered before they became a verification attempt: none of them is a log entry (docs/auditlog.md).
REFUSALS = ("unauthorized", "rate_limited", "request_too_large", "csrf_failed", "bad_request", "request_timeout",
            "signin_locked")
OTHER = "other"  # any value outside a label's set (a programming error, kept out of the label space)

_STAGE_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_WAIT_BUCKETS = (0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
_VERIFY_BUCKETS = (0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_APPEND_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)

VERIFICATIONS = Counter(
    "certverify_verifications", "Verification attempts answered (each one a log entry), by channel, outcome and "
    "error code (`none` when verified).", ("channel", "outcome", "code"), registry=REGISTRY)
FRONT_COMPARISONS = Counter(
    "certverify_front_comparisons", "Paper fronts compared with a verified back's restored front (each noted in "
    "that back's log entry), by channel and outcome.", ("channel", "outcome"), registry=REGISTRY)
VERIFICATION_SECONDS = Histogram(
    "certverify_verification_seconds", "Time a verification held its slot: the pipeline and the encoding of the "
    "front, whatever the outcome.", buckets=_VERIFY_BUCKETS, registry=REGISTRY)
STAGE_SECONDS = Histogram(
    "certverify_stage_seconds", "Time of each pipeline stage of a verification that restored the front.",
    ("stage",), buckets=_STAGE_BUCKETS, registry=REGISTRY)
QUEUE_WAIT_SECONDS = Histogram(
    "certverify_queue_wait_seconds", "Time an admitted verification waited for a free slot in its worker.",
    buckets=_WAIT_BUCKETS, registry=REGISTRY)
OVERLOADED = Counter(
    "certverify_overloaded", "Verifications answered 503 overloaded: the worker's queue was full (`queue_full`) or "
    "no slot came free in VERIFY_QUEUE_TIMEOUT (`queue_timeout`).", ("reason",), registry=REGISTRY)
RUNNING = Gauge("certverify_verifications_running", "Verifications running now, over the live workers.",
                multiprocess_mode="livesum", registry=REGISTRY)
WAITING = Gauge("certverify_verifications_waiting", "Verifications waiting for a slot now, over the live workers.",
                multiprocess_mode="livesum", registry=REGISTRY)
WORKERS = Gauge("certverify_workers", "gunicorn worker processes alive (set by each worker; absent outside gunicorn).",
                multiprocess_mode="livesum", registry=REGISTRY)
LOG_APPEND_SECONDS = Histogram(
    "certverify_log_append_seconds", "Time to append one entry to the verification log, retries included.",
    buckets=_APPEND_BUCKETS, registry=REGISTRY)
LOG_APPEND_RETRIES = Counter(
    "certverify_log_append_retries", "Appends tried again after a lock wait ran out or the connection dropped.",
    registry=REGISTRY)
LOG_APPEND_FAILURES = Counter(
    "certverify_log_append_failures", "Entries that could not be appended: each attempt was answered 503 "
    "unavailable (or 500) and not carried out.", registry=REGISTRY)
REFUSALS_TOTAL = Counter(
    "certverify_refusals", "Requests refused before they became a verification attempt (never log entries), by "
    "reason and channel (`web`, `api`, `console`, or `unknown` when the request line never arrived).",
    ("reason", "channel"), registry=REGISTRY)

_CODES = frozenset(all_codes())


def _bounded(value: str | None, allowed: frozenset[str] | tuple[str, ...]) -> str:
    return value if value is not None and value in allowed else OTHER


def channel_of(path: str | None) -> str:
    """The part of the site a request path belongs to: the API, the auditors' console or the public pages."""
    if path is None:
        return "unknown"
    if path.startswith("/api/"):
        return "api"
    if path == "/audit" or path.startswith("/audit/"):
        return "console"
    return "web"


def refused(reason: str, path: str | None) -> None:
    """Count a request refused before admission (``path``: the request's path, None when it was never read)."""
    REFUSALS_TOTAL.labels(_bounded(reason, REFUSALS), channel_of(path)).inc()


def observe_stages(result: Verification) -> None:
    """The time of each stage a verification passed, and for a refused scan ``refused``: from the last stage it
    passed to the refusal."""
    for stage, ms in result.timings_ms.items():
        if stage != "queue":  # waiting is not a stage: certverify_queue_wait_seconds
            STAGE_SECONDS.labels(_bounded(stage, STAGES)).observe(ms / 1000.0)


def count_verification(result: Verification, code: str | None = None) -> None:
    """Count an answered attempt once its log entry is written (``code`` overrides the result's own)."""
    code = code or (result.error.code if result.error is not None else None)
    VERIFICATIONS.labels(_bounded(result.channel, CHANNELS), _bounded(result.outcome, OUTCOMES),
                         "none" if code is None else _bounded(code, _CODES)).inc()
    front = getattr(result, "front", None)
    if front is not None:
        FRONT_COMPARISONS.labels(_bounded(result.channel, CHANNELS), _bounded(front.outcome, FRONT_OUTCOMES)).inc()


def multiprocess_mode() -> bool:
    """True when the metrics are kept in files for several processes (gunicorn), as prometheus_client decides."""
    return bool(os.environ.get(MULTIPROC_VARIABLE))


def exposition() -> bytes:
    """Every metric in the text format: summed over the workers' files, or this process's own."""
    if multiprocess_mode():
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def _authorised() -> bool:
    token = current_app.config.get("METRICS_TOKEN")
    if not token:
        return False
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), str(token).encode())


bp = Blueprint("metrics", __name__)


@bp.get("/metrics")
def scrape() -> Response:
    """The metrics, for a scraper holding METRICS_TOKEN; 404 to everyone else, as an address that does not exist."""
    if not _authorised():
        raise WebError("not_found")
    return Response(exposition(), headers={"Content-Type": CONTENT_TYPE_LATEST})


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
