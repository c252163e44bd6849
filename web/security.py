"""Response hardening: security headers with a strict CSP, no caching of anything but static files, a request id,
ProxyFix with the configured number of hops, the body limit of each endpoint, and compression.

Body limits are set before anything reads the body (the CSRF check parses forms, so the limit comes first): only
the scan uploads (a multipart POST to ``/verify``, any POST to the API) may send MAX_REQUEST_BYTES; every other
request, urlencoded forms included, gets MAX_FORM_BYTES. A declared Content-Length above the limit is refused at
once; a chunked body is cut off when it passes the limit. Both are answered 413 ``request_too_large``.
"""

from __future__ import annotations

import io
import uuid
from typing import IO

from flask import Flask, Request, Response, current_app, g, request
from flask_compress import Compress
from flask_wtf.csrf import CSRFProtect
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.middleware.proxy_fix import ProxyFix

from web.problems import WebError

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

# Endpoints that receive a scan, and the media types they take it in; everything else is a small form at most.
UPLOAD_ENDPOINTS: dict[str, tuple[str, ...] | None] = {
    "public.verify_post": ("multipart/form-data",),
    "api.create_verification": None,  # any media type: the raw body or the multipart field `scan`
}
# Query parameter names that Flask's url_for reads as its own arguments (the language switch rebuilds the page's
# address from the query): refused with 400 rather than letting them steer the address.
RESERVED_QUERY_NAMES = frozenset({"endpoint", "_anchor", "_method", "_scheme", "_external"})
# Only these answers tell a client when to come back.
RETRY_AFTER_STATUSES = frozenset({429, 503})

compress = Compress()
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


def body_limit() -> int:
    """The largest body this request's endpoint takes in its media type."""
    if request.endpoint in UPLOAD_ENDPOINTS:
        types = UPLOAD_ENDPOINTS[request.endpoint]
        if types is None or request.mimetype in types:
            return int(current_app.config["MAX_REQUEST_BYTES"])
    return int(current_app.config["MAX_FORM_BYTES"])


def _limit_body() -> None:
    """Refuse a declared body over the endpoint's limit before anything parses it; bound the rest while read."""
    limit = body_limit()
    if request.content_length is not None and request.content_length > limit:
        raise RequestEntityTooLarge()
    if request.content_length is None and "chunked" in request.headers.get("Transfer-Encoding", "").lower():
        _buffer_chunked(limit)
    request.max_content_length = limit
    request.max_form_memory_size = limit  # Werkzeug checks it on each multipart chunk, not on urlencoded bodies


def _buffer_chunked(limit: int) -> None:
    """Read a body sent without a Content-Length, up to ``limit``: Werkzeug would otherwise hand the parsers a
    body silently cut at the limit. Over the limit is 413; within it, the body is read on as a sized one."""
    raw = request.environ["wsgi.input"]
    body = bytearray()
    while len(body) <= limit:
        chunk = raw.read(min(65536, limit + 1 - len(body)))
        if not chunk:
            break
        body += chunk
    if len(body) > limit:
        raise RequestEntityTooLarge()
    request.environ["wsgi.input"] = io.BytesIO(bytes(body))
    request.environ["CONTENT_LENGTH"] = str(len(body))


def _check_query() -> None:
    """A query parameter named like a url_for argument or like one of the page's own path parts is refused."""
    names = RESERVED_QUERY_NAMES | set(request.view_args or {})
    for name in request.args:
        if name in names:
            raise WebError("bad_request", parameter=name)


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
    if response.status_code not in RETRY_AFTER_STATUSES:
        del response.headers["Retry-After"]
    return response


def _compress(response: Response) -> Response:
    """Compress the answer (brotli or gzip, as accepted), except the console's pages: they carry a CSRF token beside
    the search text from their address, which a third party can choose and measure the compressed size of (BREACH).
    No public page or API answer reflects such text."""
    if request.path.startswith("/audit/"):
        return response
    return compress.after_request(response)


def init_app(app: Flask) -> None:
    """Trust exactly PROXY_FIX_HOPS proxies, add the headers to every response, protect every form from CSRF."""
    app.request_class = InMemoryRequest
    hops = int(app.config["PROXY_FIX_HOPS"])
    if hops > 0:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)  # type: ignore[method-assign]
    app.before_request(_assign_request_id)
    # Before the CSRF check (registered below) and the rate limiter: neither may parse an oversized body.
    app.before_request(_limit_body)
    app.before_request(_check_query)
    app.after_request(_harden)
    compress.init_app(app)
    app.after_request(_compress)
    csrf.init_app(app)
