"""Response hardening: security headers with a strict CSP, no caching of anything but static files, a request id,
ProxyFix with the configured number of hops, and the request size limit (enforced by Flask's MAX_CONTENT_LENGTH,
answered 413 ``request_too_large`` by the error handlers).
"""

from __future__ import annotations

import io
import uuid
from typing import IO

from flask import Flask, Request, Response, current_app, g, request
from flask_wtf.csrf import CSRFProtect
from werkzeug.middleware.proxy_fix import ProxyFix

# No inline script or style anywhere: every script and stylesheet is a file under /static.
# Restored fronts are embedded as data: URLs so that they never exist as a file or a cacheable resource.
CONTENT_SECURITY_POLICY = "; ".join((
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
    "base-uri 'none'",
))

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}

STATIC_MAX_AGE = 3600

csrf = CSRFProtect()  # every form; the API blueprint is exempted in create_app (no cookie authenticates there)


class InMemoryRequest(Request):
    """Uploaded file parts stay in memory: Werkzeug would spool parts over 500 KB to a temporary file on disk,
    and scans must never touch the disk. MAX_CONTENT_LENGTH bounds the memory a request can take."""

    def _get_file_stream(self, total_content_length: int | None, content_type: str | None,
                         filename: str | None = None, content_length: int | None = None) -> IO[bytes]:
        return io.BytesIO()


def request_id() -> str:
    """This request's id (a UUID), shown in problem bodies and the X-Request-ID header and kept in the log."""
    if "request_id" not in g:
        g.request_id = str(uuid.uuid4())
    return g.request_id


def _assign_request_id() -> None:
    request_id()


def _harden(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if current_app.config["HSTS_SECONDS"]:
        response.headers["Strict-Transport-Security"] = f"max-age={int(current_app.config['HSTS_SECONDS'])}"
    if request.endpoint == "static" or request.endpoint == "public.favicon":
        response.headers["Cache-Control"] = f"public, max-age={STATIC_MAX_AGE}"
    else:
        # Pages and API answers may carry a restored front or certificate facts: never keep them anywhere.
        response.headers["Cache-Control"] = "no-store"
        response.headers["Pragma"] = "no-cache"
    response.headers["X-Request-ID"] = request_id()
    return response


def init_app(app: Flask) -> None:
    """Trust exactly PROXY_FIX_HOPS proxies, add the headers to every response, protect every form from CSRF."""
    app.request_class = InMemoryRequest
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.before_request(_assign_request_id)
    app.after_request(_harden)
    csrf.init_app(app)
