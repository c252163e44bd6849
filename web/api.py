"""The JSON API for machines: ``POST /api/v1/verifications`` and its OpenAPI 3.1 description.

The scan comes as the multipart field ``scan`` or as the raw request body (its type is checked by content, not by
the declared content type). Authentication is ``Authorization: Bearer <api key>``; rate limits count per key.
Failures are RFC 9457 problem documents with a stable ``code``. CSRF does not apply: no cookie authenticates here.

``?pages=all`` asks for every page of the upload (a scanned stack): one result per page under ``results``, each a
verified answer or a page's problem, with its page number. Without it the answer is the first back found, as it
always was (a PDF of a certificate's front and back is one answer), so clients written for it keep working.

The paper front is compared with the restored front (``front_comparison``) when it is sent as the multipart field
``front`` beside ``scan``, when the upload has two pages (a duplex scan of one sheet: the page with the markers is
the back, the other the front), and in a stack for a front page directly before or after a verified back.
"""

from __future__ import annotations

import base64
import json
import time
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, g, request, url_for

from web import apikeys, service
from web.handlers import problem_response
from web.i18n import current_lang
from web.problems import WebError, problem
from web.ratelimit import api_key, api_limit, limiter

OPENAPI_PATH = Path(__file__).resolve().parent / "openapi.json"
IMAGE_CHOICES = ("png", "jpeg", "webp", "none")
PAGES_CHOICES = ("first", "all")

bp = Blueprint("api", __name__, url_prefix="/api/v1")


def bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    return token.strip() or None if scheme.lower() == "bearer" else None


@bp.before_request
def authenticate() -> None:
    """Find the key's name before the rate limiter counts (per key); rejecting is left to the view."""
    token = bearer_token()
    g.api_key_name = apikeys.authenticate(token) if token else None


def _json(body: dict[str, Any]) -> Response:
    return Response(json.dumps(body, ensure_ascii=False), mimetype="application/json")


def _upload_bytes() -> tuple[bytes, bytes | None]:
    """The scan, and the scan of the paper front when the multipart field ``front`` carries one."""
    if request.mimetype == "multipart/form-data":
        upload = request.files.get("scan")
        front = request.files.get("front")
        return upload.read() if upload is not None else b"", (front.read() or None) if front is not None else None
    return request.get_data(cache=False), None


@bp.post("/verifications")
@limiter.limit(api_limit, key_func=api_key)
def create_verification() -> Response:
    """Verify one scan of a certificate's back."""
    if not g.get("api_key_name"):
        raise WebError("unauthorized")
    image = request.args.get("image", "png").lower()
    if image not in IMAGE_CHOICES:
        raise WebError("bad_request", parameter="image", allowed=list(IMAGE_CHOICES))
    pages = request.args.get("pages", "first").lower()
    if pages not in PAGES_CHOICES:
        raise WebError("bad_request", parameter="pages", allowed=list(PAGES_CHOICES))
    started = time.perf_counter()
    data, front = _upload_bytes()
    read_ms = (time.perf_counter() - started) * 1000.0
    image_format = None if image == "none" else image
    if pages == "all":
        if front is not None:  # a stack's fronts are its own pages, each paired with the back beside it
            raise WebError("bad_request", parameter="front")
        result: service.Verification | service.Stack = service.verify_pages(
            data, channel="api", client=g.api_key_name, image_format=image_format)
    else:
        result = service.verify_scan(data, channel="api", client=g.api_key_name, image_format=image_format,
                                     front=front)
    if isinstance(result, service.Stack):
        response = _json(stack_body(result))
    else:
        response = problem_response(result.error) if result.error is not None else _json(verification_body(result))
    # How long reading the upload, waiting for a verification slot and the work took (for clients' monitoring).
    response.headers["Server-Timing"] = (f"read;dur={read_ms:.1f}, queue;dur={result.timings_ms.get('queue', 0.0):.1f}, "
                                         f"verify;dur={result.processing_ms:.1f}")
    return response


def verification_body(result: service.Verification) -> dict[str, Any]:
    """The 200 answer: outcome, certificate facts, quality figures, the upload's metadata and the front."""
    r = result.restoration
    assert r is not None  # answered only for a result without an error, which verify_scan gives a restoration
    body: dict[str, Any] = {
        "outcome": result.outcome,
        "request_id": result.request_id,
        "certificate": r.certificate.to_dict(),
        "quality": {k: round(float(v), 4) for k, v in (r.quality or {}).items()},
        "content": r.content,
        "page_index": int(r.page_index),
        "processing_ms": round(result.processing_ms, 1),
    }
    if r.upload is not None:
        body["upload"] = _upload_dict(r.upload)
    if result.image is not None:
        body["restored_image"] = {"media_type": result.image_media_type,
                                  "data": base64.b64encode(result.image).decode("ascii")}
    if result.front is not None:
        body["front_comparison"] = front_comparison_body(result.front)
        if result.front.page is not None:
            body["front_page"] = result.front.page
    return body


def front_comparison_body(front: service.FrontCheck) -> dict[str, Any]:
    """The library's comparison (``FrontComparison.to_dict``) with the overlay as encoded for the answer, and the
    error of a front file that could not be read."""
    body = front.comparison.to_dict(image=False)
    if front.error is not None:
        body["error"] = {"code": front.error.code, "message": front.error.message(current_lang())}
    if front.overlay_image is not None:
        body["overlay_image"] = {"media_type": front.media_type,
                                 "data": base64.b64encode(front.overlay_image).decode("ascii")}
    return body


def stack_body(stack: service.Stack) -> dict[str, Any]:
    """The 200 answer of ``?pages=all``: the upload, then one result per page in order (a verified page as the
    single answer, a refused or skipped page as its problem document), the certificates the verified pages are
    sheets of (which sheets were seen, which are missing), and the pages left unchecked."""
    lang = current_lang()
    results = []
    for page in stack.pages:
        number = page.page or 1
        if page.error is None:
            body = verification_body(page)
            del body["request_id"], body["upload"]  # the stack's own
        else:
            body = problem(page.error, lang=lang, request_id=stack.request_id,
                           type_url=url_for("public.error_page", code=page.error.code, _external=True))
            del body["request_id"], body["instance"]
            body["outcome"] = "skipped" if page.skipped else page.outcome
            if page.skipped:
                body["skipped"] = page.skipped
            if page.paired_with is not None:
                body["paired_with"] = page.paired_with
            body["processing_ms"] = round(page.processing_ms, 1)
        results.append({"page": number, **body})
    out: dict[str, Any] = {"request_id": stack.request_id, "page_count": stack.upload.page_count,
                           "results": results, "certificates": [c.to_dict() for c in stack.certificates],
                           "unchecked_pages": stack.unchecked_pages,
                           "processing_ms": round(stack.processing_ms, 1)}
    out["upload"] = _upload_dict(stack.upload)
    return out


def _upload_dict(u: Any) -> dict[str, Any]:
    return {"format": u.format, "media_type": u.media_type, "sha256": u.sha256, "byte_size": u.byte_size,
            "width": u.width, "height": u.height, "page_count": u.page_count}


@cache
def _openapi_text() -> str:
    return OPENAPI_PATH.read_text(encoding="utf-8")


@bp.get("/openapi.json")
def openapi() -> Response:
    """The OpenAPI 3.1 description kept in the repository (web/openapi.json)."""
    response = Response(_openapi_text(), mimetype="application/json")
    response.headers["Access-Control-Allow-Origin"] = "*"
    return response
