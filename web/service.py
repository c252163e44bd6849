"""The one place where a request becomes a verification, for the upload page and the API alike.

``verify_scan(data, channel=..., client=...)`` takes the uploaded bytes, waits for a verification slot (the
overload guard), runs the pipeline with the configured limits, encodes the restored front in memory if asked,
appends exactly one entry to the verification log and returns a ``Verification`` holding the result or the error.
``verify_pages`` does the same for every page of an upload (a scanned stack): one entry per page, all under the
request's id. A scan of the paper front (a separate file, the other page of a two-page upload, or in a stack the
front page beside a back) is compared with the restored front before its pixels are dropped (``FrontCheck``).
Uploads and restored images never leave memory.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from flask import Flask, current_app, g

import verify
import verify.sheets
from verify.compare import FrontComparison, compare_front, compare_picture
from verify.errors import ConfigurationError, MarkersNotFound, VerifyError
from web import auditlog, metrics
from web.problems import WebError
from web.security import request_id

EXTENSION = "certverify.service"

MEDIA_TYPES = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}
# Context keys a pipeline error may carry that the log keeps (never pixels, never names).
LOGGED_CONTEXT = ("serial", "issuer", "key_id", "signature", "format", "width", "height", "dpi")


@dataclass
class FrontCheck:
    """The paper front compared with a back's restored front: the comparison (its pixels dropped once encoded),
    the aligned paper front and the overlay as encoded images, and where the front came from."""

    comparison: FrontComparison
    page: int | None = None  # the page of the upload the front is on; None for a front sent as its own file
    error: VerifyError | None = None  # the front file could not be read (the comparison is then unreadable)
    paper_image: bytes | None = None  # the aligned paper front, encoded (the page shows it)
    overlay_image: bytes | None = None  # the restored front with the differences drawn, encoded
    media_type: str | None = None

    @property
    def outcome(self) -> str:
        return self.comparison.outcome


@dataclass
class Verification:
    """The outcome of one attempt: a restoration (and its encoded front) or an error."""

    request_id: str
    channel: str
    restoration: Any | None = None  # verify.Restoration
    error: VerifyError | WebError | None = None
    image: bytes | None = None
    image_media_type: str | None = None
    processing_ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)
    page: int | None = None  # the page of a multi-page upload (from 1); None for a single picture
    skipped: str | None = None  # why the page carries no back (verify.PageResult.skipped)
    front: FrontCheck | None = None  # the paper front compared with this back's restoration
    paired_with: int | None = None  # for a front page of a stack: the page of the back it was compared with
    picture: Any = None  # a stack's front page as decoded (verify.PageResult.picture), held until its pair is decided

    @property
    def outcome(self) -> str:
        if self.restoration is not None:
            return "verified"
        return "altered" if self.error is not None and self.error.code == "altered" else "failed"


@dataclass
class Stack:
    """Every page of one upload, each a ``Verification`` of its own (and a log entry of its own)."""

    request_id: str
    channel: str
    upload: Any = None  # verify.Upload
    pages: list[Verification] = field(default_factory=list)
    processing_ms: float = 0.0
    timings_ms: dict[str, float] = field(default_factory=dict)  # the wait for the slot
    error: None = None  # a stack answered is not a refusal (for the request's log line)

    @property
    def backs(self) -> list[Verification]:
        """The pages that carry a back (verified or refused), in order."""
        return [p for p in self.pages if p.skipped is None]

    @property
    def unchecked_pages(self) -> list[int]:
        """Pages of the upload left unchecked once the pages without a back spent the stack's search time."""
        count = self.upload.page_count if self.upload is not None else 0
        return list(range(len(self.pages) + 1, count + 1))

    @property
    def certificates(self) -> list[verify.sheets.Certificate]:
        """The certificates whose sheets were verified, by serial: which sheets were seen and which are missing."""
        return verify.sheets.group((p.page or 1, p.restoration.certificate) for p in self.pages
                                   if p.restoration is not None)

    @property
    def outcome(self) -> str:
        """``altered`` if a back is, ``verified`` if every back is (and there is one), else ``failed``."""
        outcomes = {p.outcome for p in self.backs}
        if "altered" in outcomes:
            return "altered"
        return "verified" if outcomes == {"verified"} and not self.unchecked_pages else "failed"


_ADMISSIONS: weakref.WeakSet[Admission] = weakref.WeakSet()


def busy() -> bool:
    """True while this process is verifying (the gunicorn worker then lets idle workers accept first)."""
    return any(a.running for a in list(_ADMISSIONS))


class Admission:
    """Bounds CPU work per process: ``slots`` verifications at once, at most ``queue_max`` waiting, each at most
    ``timeout`` seconds; everyone else is told 503 ``overloaded`` with a Retry-After at once."""

    def __init__(self, slots: int, queue_max: int, timeout: float) -> None:
        self.slots = max(1, slots)
        self.queue_max = max(0, queue_max)
        self.timeout = timeout
        self._free = threading.BoundedSemaphore(self.slots)
        self._lock = threading.Lock()
        self.waiting = 0
        self.running = 0
        self.mean_s = 0.5  # running mean of one verification, for Retry-After
        _ADMISSIONS.add(self)

    def retry_after(self) -> int:
        return max(1, math.ceil(self.mean_s * (self.queue_max + self.slots) / self.slots))

    @contextmanager
    def slot(self) -> Iterator[float]:
        """Hold a verification slot; yields the seconds spent waiting for it."""
        start = time.monotonic()
        if not self._free.acquire(blocking=False):
            with self._lock:
                if self.waiting >= self.queue_max:
                    metrics.OVERLOADED.labels("queue_full").inc()
                    raise WebError("overloaded", retry_after=self.retry_after())
                self.waiting += 1
            metrics.WAITING.inc()
            try:
                got = self._free.acquire(timeout=self.timeout)
            finally:
                metrics.WAITING.dec()
                with self._lock:
                    self.waiting -= 1
            if not got:
                metrics.OVERLOADED.labels("queue_timeout").inc()
                raise WebError("overloaded", retry_after=self.retry_after())
        began = time.monotonic()
        metrics.QUEUE_WAIT_SECONDS.observe(began - start)
        with self._lock:
            self.running += 1
        metrics.RUNNING.inc()
        try:
            yield began - start
        finally:
            held = time.monotonic() - began
            metrics.VERIFICATION_SECONDS.observe(held)
            metrics.RUNNING.dec()
            with self._lock:
                self.running -= 1
                self.mean_s = 0.8 * self.mean_s + 0.2 * held
            self._free.release()


@dataclass
class _State:
    admission: Admission
    limits: Any  # verify.Limits
    ring: Any = None  # verify.KeyRing
    ring_error: VerifyError | None = None

    @property
    def keyring(self) -> Any:
        """The key ring; a ring that failed to load answers 503 ``configuration`` (and /healthz fails)."""
        if self.ring is None:
            raise self.ring_error or ConfigurationError("no key ring")
        return self.ring


def init_app(app: Flask) -> None:
    """Load the key ring once per process and size the overload guard.

    A missing or broken ring does not stop the process (so that `flask db upgrade` and the other commands run
    where no keys are mounted) but every verification answers 503 ``configuration`` and /healthz fails."""
    cfg = app.config
    ring, ring_error = None, None
    try:
        ring = verify.KeyRing.load(cfg["KEYS_DIR"])
    except VerifyError as exc:
        app.logger.error("key ring not loaded: %s", exc)
        ring_error = exc
    app.extensions[EXTENSION] = _State(
        ring=ring,
        ring_error=ring_error,
        admission=Admission(int(cfg["VERIFY_CONCURRENCY"]), int(cfg["VERIFY_QUEUE_MAX"]),
                            float(cfg["VERIFY_QUEUE_TIMEOUT"])),
        limits=verify.Limits(max_bytes=int(cfg["MAX_UPLOAD_BYTES"]), max_pixels=int(cfg["MAX_PIXELS"]),
                             max_pages=int(cfg["MAX_PAGES"])),
    )


def state() -> _State:
    return current_app.extensions[EXTENSION]


def verify_scan(data: bytes, *, channel: str, client: str, image_format: str | None = None,
                image_quality: int = 90, front: bytes | None = None, paper_image: bool = False) -> Verification:
    """Verify one upload and log the attempt; ``image_format`` (png, jpeg, webp) also encodes the front.

    ``front``, a scan of the paper front, is compared with the restored front; without it, the other page of a
    two-page upload (one sheet scanned duplex: the page with the markers is the back) is. ``paper_image`` also
    encodes the aligned paper front (the result page shows it beside the restored front)."""
    st = state()
    result = Verification(request_id=request_id(), channel=channel)
    g.verification, g.verification_client = result, client  # for the request's log line (web/requestlog.py)
    started = time.perf_counter()
    try:
        with st.admission.slot() as waited:
            began = time.perf_counter()
            result.timings_ms["queue"] = waited * 1000.0
            restoration = result.restoration = verify.restore(data, st.keyring, limits=st.limits)
            result.timings_ms.update(restoration.timings_ms)
            pages = restoration.upload.page_count if restoration.upload is not None else 1
            if front:
                _compare(result, front, 0, None, image_format, image_quality, paper_image)
            elif pages == 2:
                other = 1 - int(restoration.page_index)
                _compare(result, data, other, other + 1, image_format, image_quality, paper_image)
                if result.front is not None and result.front.comparison.reason == "a_back":
                    result.front = None  # two backs, not a sheet's two sides: the first back is the answer, as ever
            if image_format:
                _encode_front(result, image_format, image_quality)
            result.processing_ms = (time.perf_counter() - began) * 1000.0
    except (VerifyError, WebError) as error:
        result.error = error
        result.restoration = result.front = None  # a back refused is answered without its front
        result.timings_ms.update(getattr(error, "timings_ms", {}))  # the stages a refused scan passed
        result.processing_ms = (time.perf_counter() - started) * 1000.0
    except Exception:
        result.processing_ms = (time.perf_counter() - started) * 1000.0
        _record(result, data, client, error_code="internal")
        raise
    _record(result, data, client)
    return result


def verify_pages(data: bytes, *, channel: str, client: str, image_format: str | None = None,
                 image_quality: int = 90, paper_image: bool = False) -> Verification | Stack:
    """Verify every page of an upload (``verify.restore_pages``) in one verification slot, logging each page as it
    is done: a ``Stack``, or a ``Verification`` with the error of an upload refused as a whole (too large,
    unreadable, too many pages), logged once as ``verify_scan`` logs it. Each verified page's front is encoded
    (``image_format``) and its pixels dropped at once, so the pages' fronts are never all in memory together.

    A front page directly before or after a verified back (a duplex scan) is compared with that back's restored
    front (``_Pairing``): the back carries the comparison, the front page names the back (``paired_with``)."""
    st = state()
    stack = Stack(request_id=request_id(), channel=channel)
    g.verification, g.verification_client = stack, client
    started = time.perf_counter()

    def settle(back: Verification | None, front: Verification | None) -> None:
        """Finish a page, or a back and its front page: compare, encode, then log them in page order."""
        if back is not None and front is not None and front.page is not None:
            front.paired_with = back.page
            t = time.perf_counter()
            _compare(back, front.picture if front.picture is not None else data, front.page - 1, front.page,
                     image_format, image_quality, paper_image)
            back.processing_ms += (time.perf_counter() - t) * 1000.0
        if back is not None and back.restoration is not None:
            t = time.perf_counter()
            _encode_front(back, image_format, image_quality)  # and its pixels dropped, encoded or not
            back.processing_ms += (time.perf_counter() - t) * 1000.0
        for page in sorted((p for p in (back, front) if p is not None), key=lambda p: p.page or 0):
            page.picture = None  # its pair decided: the front's pixels go
            _record(page, data, client, sha256=stack.upload.sha256)  # hashed once for the whole stack

    try:
        with st.admission.slot() as waited:
            stack.timings_ms["queue"] = waited * 1000.0
            began = page_began = time.perf_counter()
            pairing = _Pairing(settle)
            for page in verify.restore_pages(data, st.keyring, limits=st.limits):
                stack.upload = page.upload
                result = Verification(request_id=stack.request_id, channel=channel, restoration=page.restoration,
                                      error=page.error, skipped=page.skipped, picture=page.picture,
                                      page=page.page if page.upload.page_count > 1 else None)
                if page.restoration is not None:
                    result.timings_ms.update(page.restoration.timings_ms)
                elif page.error is not None:
                    result.timings_ms.update(page.error.timings_ms)
                now = time.perf_counter()
                result.processing_ms, page_began = (now - page_began) * 1000.0, now
                stack.pages.append(result)
                pairing.add(result)
                page_began = time.perf_counter()
            pairing.close()
            if not stack.pages:  # nothing to answer page by page
                raise MarkersNotFound("the upload has no page")
            stack.processing_ms = (time.perf_counter() - began) * 1000.0
    except (VerifyError, WebError) as error:  # the upload as a whole (or the slot) refused
        whole = Verification(request_id=stack.request_id, channel=channel, error=error,
                             processing_ms=(time.perf_counter() - started) * 1000.0)
        whole.timings_ms.update(getattr(error, "timings_ms", {}))
        g.verification = whole
        _record(whole, data, client)
        return whole
    except Exception:
        failed = Verification(request_id=stack.request_id, channel=channel,
                              processing_ms=(time.perf_counter() - started) * 1000.0)
        _record(failed, data, client, error_code="internal")
        raise
    return stack


class _Pairing:
    """Pairs the front pages of a stack with their verified backs, as a duplex scan orders them: a front directly
    before a back goes with it (a kiosk's certificate.pdf, sheets fed face up), a front directly after a back goes
    with that back when no back follows to claim it (sheets fed face down). Until the next page decides, it holds
    at most one back (with its restored pixels) and one front page (its number: the comparison decodes it again
    from the upload), and hands every page to ``settle`` in page order once its pair is decided."""

    def __init__(self, settle: Any) -> None:
        self.settle = settle
        self.back: Verification | None = None  # a verified back not yet paired, directly before the next page
        self.front: Verification | None = None  # a front page not yet paired, directly before the next page

    def add(self, page: Verification) -> None:
        if page.restoration is not None:  # a verified back: a front just before it is its own
            if self.front is not None:
                self._flush(self.back, None)
                self._flush(page, self.front)
                self.back = self.front = None
            else:
                self._flush(self.back, None)
                self.back = page
        elif page.skipped == "no_back":  # a front (or another document): wait for the page after it
            if self.front is not None:  # two fronts in a row: the first goes with the back before it, if any
                self._flush(self.back, self.front)
                self.back = None
            self.front = page
        else:  # a blank page or a refused back: whatever waits is decided
            self.close()
            self.settle(None, page)

    def close(self) -> None:
        """Decide what waits: a back and the front after it are a pair; either alone has none."""
        self._flush(self.back, self.front)
        self.back = self.front = None

    def _flush(self, back: Verification | None, front: Verification | None) -> None:
        if back is not None or front is not None:
            self.settle(back, front)


def _compare(result: Verification, front: bytes | np.ndarray, page_index: int, page: int | None,
             image_format: str | None, image_quality: int, paper_image: bool) -> None:
    """Compare page ``page_index`` of ``front`` (an upload, or a stack's front page already decoded) with the
    restored front, before its pixels are dropped; a front file that cannot be read is an unreadable comparison that
    names its error, the back's answer stands."""
    restoration = result.restoration
    assert restoration is not None
    t = time.perf_counter()
    limits = state().limits
    try:
        if isinstance(front, np.ndarray):
            comparison, error = compare_picture(restoration, front), None
        else:
            comparison, error = compare_front(restoration, front, limits, page=page_index), None
    except VerifyError as exc:
        comparison, error = FrontComparison(outcome="unreadable", reason=exc.code), exc
    check = FrontCheck(comparison, page=page, error=error)
    if image_format and comparison.overlay is not None:
        check.media_type = MEDIA_TYPES[image_format]
        check.overlay_image = verify.encode_image(comparison.overlay, fmt=image_format, quality=image_quality)
        if paper_image and comparison.aligned is not None:
            check.paper_image = verify.encode_image(comparison.aligned, fmt=image_format, quality=image_quality)
    comparison.aligned = comparison.overlay = None  # only the encoded pictures are held until the answer
    result.front = check
    result.timings_ms["front"] = (time.perf_counter() - t) * 1000.0


def _encode_front(result: Verification, image_format: str | None, image_quality: int) -> None:
    """Encode the restored front (unless ``image_format`` is None: not asked for), then drop its pixels (keeping
    their shape, which the result page shows): of a stack's pages, only the encoded fronts are held until the
    answer."""
    restoration = result.restoration
    assert restoration is not None
    if image_format:
        t = time.perf_counter()
        result.image = verify.encode_image(restoration.image, fmt=image_format, quality=image_quality)
        result.image_media_type = MEDIA_TYPES[image_format]
        result.timings_ms["encode"] = (time.perf_counter() - t) * 1000.0
    result.restoration = dataclasses.replace(restoration, image=np.broadcast_to(np.uint8(0), restoration.image.shape))


def _record(result: Verification, data: bytes, client: str, error_code: str | None = None,
            sha256: str | None = None) -> None:
    """Observe the stages, append the log entry, then count the attempt (the count and the log agree)."""
    metrics.observe_stages(result)
    auditlog.record(_entry(result, data, client, error_code=error_code, sha256=sha256))
    metrics.count_verification(result, code=error_code)


def _entry(result: Verification, data: bytes, client: str, error_code: str | None = None,
           sha256: str | None = None) -> auditlog.AttemptRecord:
    """The log's view of an attempt: metadata only."""
    entry = auditlog.AttemptRecord(
        request_id=result.request_id,
        channel=result.channel,
        client=client,
        outcome=result.outcome,
        error_code=error_code or (result.error.code if result.error is not None else None),
        processing_ms=round(result.processing_ms, 3),
        page=result.page,
        front_outcome=result.front.outcome if result.front is not None else None,
    )
    r = result.restoration
    if r is not None:
        facts = r.certificate
        entry.serial, entry.issuer, entry.key_id = facts.serial, facts.issuer, facts.key_id
        entry.signature = facts.signature
        entry.quality = {k: float(v) for k, v in (r.quality or {}).items()}
        entry.dpi_estimate = r.quality.get("dpi") if r.quality else None
        if r.upload is not None:
            entry.upload_sha256, entry.input_format = r.upload.sha256, r.upload.format
            entry.width, entry.height = r.upload.width, r.upload.height
    else:
        context = getattr(result.error, "context", None) or {}
        kept = {k: context[k] for k in LOGGED_CONTEXT if k in context}
        entry.serial, entry.issuer, entry.key_id = kept.get("serial"), kept.get("issuer"), kept.get("key_id")
        entry.signature = kept.get("signature") or _signature_after(entry.error_code)
        entry.input_format = kept.get("format")
        entry.width, entry.height, entry.dpi_estimate = kept.get("width"), kept.get("height"), kept.get("dpi")
        if context.get("regions"):  # a content refusal: which fields, never what they say
            entry.regions = [str(region.get("name")) for region in context["regions"]]
    if entry.upload_sha256 is None and data:
        entry.upload_sha256 = sha256 or hashlib.sha256(data).hexdigest()
    return entry


def _signature_after(code: str | None) -> str | None:
    """What a failure code says about the signature when the error does not say it itself."""
    if code == "bad_signature":
        return "invalid"
    if code in {"scramble_mismatch", "altered"}:
        return "valid"
    return None
