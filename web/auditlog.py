"""The hash-chained verification log: one entry per verification attempt, from the page and the API alike."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any


@dataclass
class AttemptRecord:
    """What the log keeps of one verification attempt: metadata only, never an image or a name."""

    request_id: str
    channel: str  # "web" or "api"
    client: str  # API key name, or "ip:" + keyed hash of the client address (never the raw address)
    outcome: str  # "verified", "altered" or "failed"
    error_code: str | None = None
    serial: str | None = None
    issuer: str | None = None
    key_id: str | None = None
    signature: str | None = None  # "valid", "invalid" or None when the code was not read
    upload_sha256: str | None = None
    input_format: str | None = None
    width: int | None = None
    height: int | None = None
    dpi_estimate: float | None = None
    quality: dict[str, Any] = field(default_factory=dict)
    processing_ms: float = 0.0
    occurred_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


def record(entry: AttemptRecord) -> None:
    """Append ``entry`` to the log (implemented with the database layer)."""
    raise NotImplementedError("the verification log is not wired yet")
