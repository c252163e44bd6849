"""Structured request logs: one JSON line per answered request on stdout, for any log shipper to take.

A line holds the time (UTC), the worker's process id, the request id, the method, the route (the URL rule that matched,
never the path's values or the query string, which may carry what must never be logged), the status, the error code of a
refusal or failure and the milliseconds the app took; for a verification also its channel, outcome, the pipeline's stage
times and the client as the verification log names it (a keyed hash of the address, or the API key's name). Never keys,
images, certificate text or addresses. It replaces gunicorn's access log (off in gunicorn.conf.py); the worker writes
the same line for the requests it answers itself (``web/worker.py``: a request whose body never arrived).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import sys
import time
from typing import Any

from flask import Flask, Response, g, request

from web import metrics
from web.security import request_id

LOGGER_NAME = "certverify.requests"


class _Stdout(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is when a line is written (a test's capture, a redirected stream)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout  # not setStream: it flushes the stream before, which may be closed by now
        super().emit(record)


def _logger() -> logging.Logger:
    log = logging.getLogger(LOGGER_NAME)
    if not log.handlers:
        handler = _Stdout()
        handler.setFormatter(logging.Formatter("%(message)s"))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False  # one line, not again through the root logger's format
    return log


def emit(**fields: Any) -> None:
    """Write one request's line: the time, the process (which worker answered), then ``fields`` without those that
    are None."""
    line = {"time": dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), "pid": os.getpid(),
            **{k: v for k, v in fields.items() if v is not None}}
    _logger().info(json.dumps(line, ensure_ascii=False, separators=(",", ":")))


def init_app(app: Flask) -> None:
    """The operator's two views of the traffic: a line per request here, and the counts at /metrics."""
    app.before_request(_start)
    app.after_request(_finish)
    metrics.init_app(app)


def _start() -> None:
    g.request_started = time.perf_counter()


def _finish(response: Response) -> Response:
    started = g.get("request_started")
    fields: dict[str, Any] = {
        "request_id": request_id(), "method": request.method,
        "route": request.url_rule.rule if request.url_rule is not None else None,
        "status": response.status_code,
        "ms": round((time.perf_counter() - started) * 1000, 1) if started is not None else None,
        "code": g.get("error_code"),  # a refusal's or another failure's code (web/handlers.py)
    }
    verification = g.get("verification")
    if verification is not None:
        fields.update(channel=verification.channel, outcome=verification.outcome,
                      code=verification.error.code if verification.error is not None else fields["code"],
                      client=g.get("verification_client"),
                      stages_ms={k: round(v, 1) for k, v in verification.timings_ms.items()})
    emit(**fields)
    return response
