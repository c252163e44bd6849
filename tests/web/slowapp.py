"""A WSGI app for testing the gunicorn worker itself (web/worker.py): /sleep?s=N holds its thread N seconds,
anything else answers at once."""

from __future__ import annotations

import time
from urllib.parse import parse_qs


def app(environ, start_response):  # noqa: ANN001, ANN201
    if environ["PATH_INFO"] == "/sleep":
        time.sleep(float(parse_qs(environ["QUERY_STRING"]).get("s", ["1"])[0]))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok\n"]
