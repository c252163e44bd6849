"""Helpers of the site's suite: the sample certificate, uploading like a browser, reading the log and the
metrics."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from werkzeug.datastructures import FileStorage
from werkzeug.test import encode_multipart

from tests.support import csrf_token

SERIAL = "TEST-2026-000123"
SERIAL_V1 = "TEST-2026-000101"
SERIAL_SHEETS = "TEST-2026-000300"  # a certificate of three sheets
ISSUER = "990001"


@dataclass
class Sample:
    """One issued certificate and its back in the formats the tests upload."""

    keys_dir: Path
    files: Path  # back.png, back.jpg, certificate.pdf
    facts: Any
    front: Any
    back_png: bytes
    back_jpeg: bytes
    pdf: bytes
    forged_png: bytes  # the back rebuilt for an altered front (address, birth date, name), exact block map
    v1_png: bytes  # a format v1 back of the same ring: restores, binds no content
    sheet_pngs: tuple[bytes, ...]  # the backs of sheets 1, 2 and 3 of certificate SERIAL_SHEETS
    reissued_sheet_png: bytes  # sheet 2 of SERIAL_SHEETS issued again on another day: a sheet of another issue


def multipart(fields: dict[str, Any]) -> dict[str, Any]:
    """Keyword arguments for client.post with ``fields`` encoded in memory (Werkzeug's test client would spool
    large bodies to a temporary file that it never closes)."""
    values = {k: FileStorage(io.BytesIO(v[0]), filename=v[1], content_type="application/octet-stream")
              if isinstance(v, tuple) else v for k, v in fields.items()}
    boundary, body = encode_multipart(values)
    return {"data": body, "content_type": f"multipart/form-data; boundary={boundary}"}


def upload(client, data: bytes, filename: str = "back.jpg", token: str | None = None, **kwargs: Any):
    """Post ``data`` through the upload form as a browser does (multipart, with the CSRF token)."""
    token = csrf_token(client) if token is None else token
    return client.post("/verify", **multipart({"csrf_token": token, "scan": (data, filename)}), **kwargs)


def log_entries(app) -> list[dict[str, Any]]:
    """Every entry of the app's verification log, oldest first."""
    import sqlalchemy as sa

    from web import db
    from web.models import LogEntry

    with db.get_engine(app).connect() as conn:
        return [dict(r._mapping) for r in conn.execute(sa.select(LogEntry.__table__).order_by(LogEntry.seq))]


METRICS_TOKEN = "metrics-token-for-the-site-suite-only-0123456789"


def metric_samples(text: str) -> dict[tuple[str, frozenset], float]:
    """The samples of a /metrics answer by (name, labels), read with prometheus_client's own parser."""
    from prometheus_client.parser import text_string_to_metric_families

    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def metric(samples: dict[tuple[str, frozenset], float], name: str, **labels: str) -> float:
    """One sample's value; 0 when the series has not appeared yet (a counter never incremented)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def check_schema(spec: dict[str, Any], name: str, instance: dict[str, Any]) -> None:
    """Validate ``instance`` against components.schemas[name] of the OpenAPI document ``spec``."""
    from openapi_schema_validator import OAS31Validator

    OAS31Validator({"$ref": f"#/components/schemas/{name}", "components": spec["components"]}).validate(instance)


def stack_pdf(*pages: bytes) -> bytes:
    """A PDF of ``pages`` (PNG or JPEG files) in order, one A4 page each, as a sheet feeder sends a stack."""
    import img2pdf

    return img2pdf.convert(list(pages), layout_fun=img2pdf.get_layout_fun((img2pdf.mm_to_pt(210),
                                                                           img2pdf.mm_to_pt(297))))
