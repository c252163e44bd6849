"""Every failure becomes an answer with a code, built here and nowhere else: an RFC 9457 problem document for the
API and for clients that ask for JSON, the error page for people.

``problem_response`` and ``page_response`` build the two kinds of answer, each with the code's status and the
headers it calls for (``Retry-After`` when the answer knows how long to wait, ``WWW-Authenticate`` on a 401), set in
one place. The views answer a failed verification with one of them; a failure raised while handling any request
reaches the error handlers below, which choose between them (``respond``). HTTP errors raised by Flask, Werkzeug,
flask-wtf and flask-limiter are translated to the web codes of ``web.problems``; anything unexpected is logged with
its traceback and answered ``internal`` (500).
"""

from __future__ import annotations

import json
import math
import time
from typing import Any

import numpy as np
from flask import Flask, Response, g, make_response, render_template, request, url_for
from flask_limiter import RateLimitExceeded
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

import verify
from verify.errors import VerifyError
from web import metrics, wording
from web.auditlog import LogUnavailable
from web.i18n import current_lang
from web.problems import WEB_ERRORS, WebError, problem, public_context, status_for
from web.ratelimit import limiter
from web.security import request_id

PROBLEM_JSON = "application/problem+json"
# Werkzeug status -> web code (anything else 4xx is bad_request).
HTTP_CODES = {403: "forbidden", 404: "not_found", 405: "method_not_allowed", 413: "request_too_large", 401: "unauthorized",
              429: "rate_limited"}
AUTHENTICATE = 'Bearer realm="certverify"'  # the one scheme the site takes (the API's keys)


def wants_json() -> bool:
    """API paths, and clients that ask for JSON rather than a page."""
    if request.path.startswith("/api/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json", "application/problem+json"])
    return best in ("application/json", "application/problem+json")


def respond(error: VerifyError | WebError) -> Response:
    """The answer to a failure raised while handling the request, page or problem as the client wants; a refusal
    before admission is also counted (``certverify_refusals_total``) and every code is named in the request's log
    line."""
    g.error_code = error.code
    if error.code in metrics.REFUSALS:
        metrics.refused(error.code, request.path)
    return problem_response(error) if wants_json() else page_response(error)


def problem_response(error: VerifyError | WebError) -> Response:
    """The problem document of ``error`` with its status and headers."""
    body = problem(error, lang=current_lang(), request_id=request_id(),
                   type_url=url_for("public.error_page", code=error.code, _external=True))
    response = Response(json.dumps(body, ensure_ascii=False), status=status_for(error.code), mimetype=PROBLEM_JSON)
    return _with_failure_headers(response, error)


def page_response(error: VerifyError | WebError, reference: bool = False) -> Response:
    """The error page of ``error`` with its status and headers; ``reference`` renders the code's explanation page
    (``/errors/<code>``, 200) instead of a failed request's answer."""
    status = status_for(error.code)
    context = getattr(error, "context", None) or {}
    in_console = request.path.startswith("/audit/") and not reference  # the console's bar stays
    response = make_response(render_template(
        "audit/error.html" if in_console else "error.html",
        code=error.code,
        status=status,
        message=error.message(current_lang()),
        outcome="altered" if error.code == "altered" else "failed",
        regions=_regions(context.get("regions")),
        doubts=[text for flag, text in wording.DOUBTS.items() if context.get(flag) is True],
        tamper_map_url=_tamper_map_url(context.get("tamper_map")),
        scan_advice=error.code in wording.SCAN_CODES,
        try_again=error.code in wording.SCAN_CODES and not reference,
        diagram=wording.back_diagram() if error.code in wording.WRONG_PICTURE_CODES else None,
        **wording.upload_form_context(),
        distrust=error.code in wording.DISTRUST_CODES,
        web_error=error.code in WEB_ERRORS,
        context=public_context(error) if error.code not in WEB_ERRORS else {},
        request_id=request_id(),
        reference=reference,
    ), 200 if reference else status)
    return response if reference else _with_failure_headers(response, error)


def _with_failure_headers(response: Response, error: VerifyError | WebError) -> Response:
    """When to come back (an error that knows it: rate limits, overload, the log unavailable) and, on a 401, how
    to authenticate."""
    retry_after = getattr(error, "retry_after", None)
    if retry_after:
        response.headers["Retry-After"] = str(int(retry_after))
    if response.status_code == 401:
        response.headers["WWW-Authenticate"] = AUTHENTICATE
    return response


def _regions(regions: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The regions of an ``altered`` verdict (``verify.restore`` names each with its box), as a reader names them."""
    return [{"name": wording.region_label(r["name"]), "box": r["box"]} for r in regions or []]


def _tamper_map_url(tamper_map: np.ndarray | None) -> str | None:
    """The coarse tamper map of an ``altered`` verdict (RGB) as a data: URL, encoded in memory."""
    return None if tamper_map is None else wording.data_url(verify.encode_image(tamper_map, fmt="png"), "image/png")


def _retry_after(exc: RateLimitExceeded) -> int:
    """Seconds until the breached limit lets a request through again."""
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
