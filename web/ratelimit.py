"""Rate limits (flask-limiter): per client IP address on the public form, per API key on the API.

Counters live in ``RATELIMIT_STORAGE_URI``: ``memory://`` counts per process (fine on one machine), Redis shares
them between workers and instances. The client address is the one ProxyFix established from the configured
number of proxy hops; a raw X-Forwarded-For header is never trusted.
"""

from __future__ import annotations

from flask import current_app, g, request
from flask_limiter import Limiter


def client_address() -> str:
    """The client's IP address as seen through the trusted proxies."""
    return request.remote_addr or "unknown"


def ip_key() -> str:
    return "ip:" + client_address()


def api_key() -> str:
    """Counts per API key name once the key is known, per address for requests without a valid key."""
    name = g.get("api_key_name")
    return f"key:{name}" if name else ip_key()


def public_limit() -> str:
    return current_app.config["RATELIMIT_PUBLIC"]


def api_limit() -> str:
    return current_app.config["RATELIMIT_API"]


limiter = Limiter(key_func=ip_key, default_limits=[], headers_enabled=True)
