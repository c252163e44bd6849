"""Every failure becomes an answer with a code: problem JSON under /api/, the error page elsewhere.

HTTP errors raised by Flask, Werkzeug, flask-wtf and flask-limiter are translated to the web codes of
``web.problems``; anything unexpected is logged with its traceback and answered ``internal`` (500).
"""

from __future__ import annotations

import math
import time

from flask import Flask, Response, g, request
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

from verify.errors import VerifyError
from web import metrics
from web.auditlog import LogUnavailable
from web.problems import WebError

# Werkzeug status -> web code (anything else 4xx is bad_request).
HTTP_CODES = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 401: "unauthorized",
              429: "rate_limited"}


def wants_json() -> bool:
    """API paths, and clients that ask for JSON rather than a page."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def respond(error: VerifyError | WebError) -> Response:
    """The answer to a failure raised while handling the request; a refusal before admission is also counted
    (``certverify_refusals_total``) and every code is named in the request's log line."""
    from web.api import problem_response
    from web.public import error_response

    g.error_code = error.code
    if error.code in metrics.REFUSALS:
        metrics.refused(error.code, request.path)
    return problem_response(error) if wants_json() else error_response(error)


def _retry_after(exc: RateLimitExceeded) -> int:
    """Seconds until the breached limit lets a request through again."""
    from web.ratelimit import limiter

    try:
        current = limiter.current_limit
        if current is not None:
            return max(1, math.ceil(current.reset_at - time.time()))
    except Exception:  # storage unreachable: the limit's whole window
        pass
    return max(1, int(exc.limit.limit.get_expiry()))  # no current limit either


def init_app(app: Flask) -> None:
    @app.errorhandler(WebError)
    def web_error(exc: WebError) -> Response:
        return respond(exc)

    @app.errorhandler(VerifyError)
    def verify_error(exc: VerifyError) -> Response:
        return respond(exc)

    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Response:
        return respond(WebError("csrf_failed"))

    @app.errorhandler(RateLimitExceeded)
    def rate_limited(exc: RateLimitExceeded) -> Response:
        return respond(WebError("rate_limited", retry_after=_retry_after(exc)))

    @app.errorhandler(LogUnavailable)
    def log_unavailable(exc: LogUnavailable) -> Response:
        app.logger.error("verification log unavailable: %s", exc)
        return respond(WebError("unavailable", retry_after=30))

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Response:
        status = exc.code or 500
        if status >= 500:
            app.logger.error("HTTP %s on %s %s", status, request.method, request.path)
            code = "internal"
        else:
            code = HTTP_CODES.get(status, "bad_request")
        response = respond(WebError(code))
        valid_methods = getattr(exc, "valid_methods", None)
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(Exception)
    def unexpected(exc: Exception) -> Response:
        app.logger.exception("unexpected error on %s %s", request.method, request.path)
        return respond(WebError("internal"))
