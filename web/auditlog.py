"""The hash-chained verification log: one entry per verification attempt, from the page and the API alike.

Every entry stores its sequence number, the previous entry's hash and its own hash over a canonical serialisation
of all its fields, so an edited, removed or reordered entry breaks the chain. Appends hold the chain head's lock
(``BEGIN IMMEDIATE`` on SQLite, ``SELECT ... FOR UPDATE`` on PostgreSQL), which serialises every worker of every
app instance that shares the database. Pruning leaves a signed checkpoint (HMAC-SHA256 of the last removed
entry's sequence number and hash) from which the remaining chain is verified.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import math
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeAlias

import click
import sqlalchemy as sa
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.engine import Connection, Engine, RowMapping
from sqlalchemy.exc import OperationalError

from web import db, metrics
from web.auditquery import LogFilter, iter_entries, parse_when
from web.models import ChainHead, Checkpoint, LogEntry

GENESIS_HASH = "0" * 64
HASH_DOMAIN = b"certverify-log-v1\n"
CHECKPOINT_DOMAIN = b"certverify-checkpoint-v1\n"
MAX_TEXT = 200  # longest string kept from an attempt: serials and issuers come from untrusted uploads

HASHED_FIELDS = ("seq", "occurred_at", "request_id", "channel", "client", "outcome", "error_code", "serial",
                 "issuer", "key_id", "signature", "upload_sha256", "input_format", "width", "height",
                 "dpi_estimate", "quality", "processing_ms", "prev_hash")
# Hashed when present (not null): entries written before the field existed keep their hashes.
OPTIONAL_HASHED_FIELDS = ("regions", "page", "front_outcome")
EXPORT_FIELDS = ("seq", "occurred_at", "request_id", "channel", "client", "outcome", "error_code", "serial",
                 "issuer", "key_id", "signature", "upload_sha256", "input_format", "width", "height",
                 "dpi_estimate", "processing_ms", "quality", "regions", "page", "front_outcome", "prev_hash", "entry_hash")
MAX_REGIONS = 64  # most region names one entry keeps
_INT_FIELDS = {"seq", "width", "height"}
_FLOAT_FIELDS = {"dpi_estimate", "processing_ms"}


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
    regions: list[str] | None = None  # altered or unconfirmed bound regions: the issuer's field names, no text
    page: int | None = None  # the page of a multi-page upload (from 1), its entries sharing the request id
    front_outcome: str | None = None  # the paper front compared with the restored front: matches, differs, unreadable
    processing_ms: float = 0.0
    occurred_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))


class LogUnavailable(RuntimeError):
    """The entry could not be appended (the database is down or stayed locked): the attempt must not pass."""


class ChainBroken(RuntimeError):
    """The chain does not verify, so an operation that would rewrite its start (pruning) is refused."""


# --- secrets ---------------------------------------------------------------------------------------------------


def _secret(app: Flask, name: str, label: str) -> bytes:
    """The configured secret ``name``, or one derived from SECRET_KEY under ``label``."""
    value = app.config.get(name)
    if value:
        return value if isinstance(value, bytes) else str(value).encode()
    base = app.config.get("SECRET_KEY")
    if not base:
        raise RuntimeError(f"set {name} or SECRET_KEY")
    base = base if isinstance(base, bytes) else str(base).encode()
    return hmac.new(base, label.encode(), hashlib.sha256).digest()


def client_for_ip(ip: str) -> str:
    """The log's name for a web client: "ip:" and a keyed hash of its address (never the address itself)."""
    key = _secret(current_app, "AUDIT_IP_HASH_SECRET", "certverify audit ip-hash v1")
    return "ip:" + hmac.new(key, ip.encode(), hashlib.sha256).hexdigest()[:16]


def _checkpoint_key(app: Flask) -> bytes:
    return _secret(app, "AUDIT_CHECKPOINT_KEY", "certverify audit checkpoint v1")


def _fingerprint(key: bytes) -> str:
    return hashlib.sha256(b"certverify key fingerprint\n" + key).hexdigest()[:16]


# --- canonical form and hashes ---------------------------------------------------------------------------------

# An entry or checkpoint by field name: a dict, or a database row read by column name (a RowMapping, whose keys
# may also be columns, so the type checker does not take it for a Mapping[str, Any]).
FieldValues: TypeAlias = Mapping[str, Any] | RowMapping


def _format_time(value: dt.datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical_value(name: str, value: Any) -> Any:
    if value is None:
        return None
    if name == "occurred_at":
        return _format_time(value)
    if name in _INT_FIELDS:
        return int(value)
    if name in _FLOAT_FIELDS:
        return float(value)
    return str(value)


def canonical_bytes(values: FieldValues) -> bytes:
    """The exact bytes an entry's hash covers: every field but the hash, as sorted compact JSON."""
    doc = {name: _canonical_value(name, values[name]) for name in HASHED_FIELDS}
    doc.update({name: str(values[name]) for name in OPTIONAL_HASHED_FIELDS if values.get(name) is not None})
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def entry_hash(values: FieldValues) -> str:
    return hashlib.sha256(HASH_DOMAIN + canonical_bytes(values)).hexdigest()


def _clean_text(value: Any, limit: int = MAX_TEXT) -> str | None:
    """A printable, bounded string (no control characters: PostgreSQL refuses NUL, terminals mangle the rest)."""
    if value is None:
        return None
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text[:limit]


def _plain_json(value: Any) -> Any:
    """``value`` with numpy scalars, tuples and non-finite floats turned into plain JSON values."""
    if isinstance(value, Mapping):
        return {str(k): _plain_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain_json(v) for v in value]
    if hasattr(value, "item") and callable(value.item):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def _finite(value: Any) -> float | None:
    if value is None:
        return None
    number = float(value)
    return number if math.isfinite(number) else None


def _row_values(entry: AttemptRecord) -> dict[str, Any]:
    """The columns of ``entry`` before sequencing: cleaned, bounded and JSON-safe."""
    occurred = entry.occurred_at if entry.occurred_at.tzinfo else entry.occurred_at.replace(tzinfo=dt.UTC)
    return {
        "occurred_at": occurred.astimezone(dt.UTC),
        "request_id": _clean_text(entry.request_id) or "",
        "channel": _clean_text(entry.channel) or "",
        "client": _clean_text(entry.client) or "",
        "outcome": _clean_text(entry.outcome) or "",
        "error_code": _clean_text(entry.error_code),
        "serial": _clean_text(entry.serial),
        "issuer": _clean_text(entry.issuer),
        "key_id": _clean_text(entry.key_id),
        "signature": _clean_text(entry.signature),
        "upload_sha256": _clean_text(entry.upload_sha256),
        "input_format": _clean_text(entry.input_format),
        "width": None if entry.width is None else int(entry.width),
        "height": None if entry.height is None else int(entry.height),
        "dpi_estimate": _finite(entry.dpi_estimate),
        "quality": json.dumps(_plain_json(entry.quality or {}), sort_keys=True, separators=(",", ":"),
                              ensure_ascii=False),
        "processing_ms": _finite(entry.processing_ms) or 0.0,
        # only where present: an entry without it is written (and hashed) as before the column existed
        **({} if entry.regions is None else {"regions": json.dumps(
            [_clean_text(name, 64) for name in entry.regions[:MAX_REGIONS]], separators=(",", ":"),
            ensure_ascii=False)}),
        **({} if entry.page is None else {"page": int(entry.page)}),
        **({} if entry.front_outcome is None else {"front_outcome": _clean_text(entry.front_outcome, 16)}),
    }


# --- appending -------------------------------------------------------------------------------------------------

def _lock_head(conn: Connection) -> tuple[int, str]:
    """Read the chain head, holding its lock until the transaction ends."""
    stmt = sa.select(ChainHead.seq, ChainHead.entry_hash).where(ChainHead.id == 1)
    if not db.is_sqlite(conn):  # SQLite's BEGIN IMMEDIATE already excludes every other writer
        stmt = stmt.with_for_update()
    row = conn.execute(stmt).one_or_none()
    if row is None:
        raise LogUnavailable("the log has no chain head: run `flask db upgrade`")
    return int(row.seq), str(row.entry_hash)


def append(engine: Engine, values: dict[str, Any]) -> int:
    """Append one entry under the chain lock and return its sequence number."""
    with db.write_connection(engine) as conn:
        seq, prev = _lock_head(conn)
        row = dict(values, seq=seq + 1, prev_hash=prev)
        row["entry_hash"] = entry_hash(row)
        conn.execute(sa.insert(LogEntry), [row])
        conn.execute(sa.update(ChainHead).where(ChainHead.id == 1)
                     .values(seq=row["seq"], entry_hash=row["entry_hash"]))
        return row["seq"]


def record(entry: AttemptRecord) -> int:
    """Append ``entry`` to the log and return its sequence number; raises :class:`LogUnavailable` on failure.

    The append's time (retries included), its retries and its failures are counted in the metrics."""
    values = _row_values(entry)
    started = time.perf_counter()
    try:
        engine = db.get_engine()
        for attempt in range(3):
            try:
                seq = append(engine, values)
            except OperationalError as exc:  # a lock wait that outlived the busy timeout, or a dropped connection
                if attempt == 2:
                    raise LogUnavailable(str(exc.orig)) from exc
                metrics.LOG_APPEND_RETRIES.inc()
                time.sleep(0.05 * (attempt + 1))
            else:
                metrics.LOG_APPEND_SECONDS.observe(time.perf_counter() - started)
                return seq
    except Exception:
        metrics.LOG_APPEND_FAILURES.inc()
        raise
    raise AssertionError("unreachable")


# --- verifying -------------------------------------------------------------------------------------------------


@dataclass
class ChainStatus:
    """The result of walking the chain: valid, or the first entry where it breaks and why."""

    ok: bool
    entries: int
    first_seq: int | None
    last_seq: int
    checkpoint_seq: int | None
    broken_seq: int | None = None
    problem: str | None = None  # machine code: edited, removed, relinked, misplaced, tail_removed, checkpoint
    message: str = ""
    checked_at: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC))
    full_at: dt.datetime | None = None  # when the whole chain was last walked (chain_status may walk only the tail)
    monotonic_full: float = 0.0
    resume: Resume | None = field(default=None, repr=False)


def _checkpoint_message(cp: FieldValues) -> bytes:
    doc = {"seq": int(cp["seq"]), "entry_hash": str(cp["entry_hash"]),
           "pruned_before": _format_time(cp["pruned_before"]), "pruned_count": int(cp["pruned_count"]),
           "created_at": _format_time(cp["created_at"])}
    return CHECKPOINT_DOMAIN + json.dumps(doc, sort_keys=True, separators=(",", ":")).encode()


def sign_checkpoint(key: bytes, cp: FieldValues) -> str:
    return hmac.new(key, _checkpoint_message(cp), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Resume:
    """Where an earlier walk ended valid: continue from here instead of from the start."""

    next_seq: int
    prev_hash: str
    entries: int
    first_seq: int | None
    checkpoint_seq: int | None


def verify_chain(engine: Engine, checkpoint_key: bytes, resume: Resume | None = None) -> ChainStatus:
    """Walk the chain in one snapshot and report the first edited, removed or reordered entry.

    With ``resume`` only the entries after an earlier valid walk are read (and the head is checked).
    """
    with engine.connect() as conn:
        if not db.is_sqlite(conn):
            conn = conn.execution_options(isolation_level="REPEATABLE READ")
        with conn.begin():
            return _verify(conn, checkpoint_key, resume)


@dataclass(frozen=True)
class _Fault:
    """Where and how the chain breaks (``ChainStatus.broken_seq``, ``problem``, ``message``)."""

    seq: int | None
    problem: str
    message: str


@dataclass
class _Walk:
    """The walk's position: the sequence number and previous hash the next entry must carry, and what was seen."""

    expected: int
    prev: str
    count: int
    first: int | None
    start: int
    resumed: bool

    @property
    def last(self) -> int:
        return self.expected - 1


def _verify(conn: Connection, key: bytes, resume: Resume | None = None) -> ChainStatus:
    """Check the checkpoints' signatures, then every entry from the start (or from ``resume``), then the head."""
    head = conn.execute(sa.select(ChainHead.seq, ChainHead.entry_hash).where(ChainHead.id == 1)).one_or_none()
    checkpoints = conn.execute(sa.select(Checkpoint.__table__).order_by(Checkpoint.seq)).mappings().all()
    cp_seq = checkpoints[-1]["seq"] if checkpoints else None
    if head is None:
        return ChainStatus(False, 0, None, 0, cp_seq, None, "head", "the chain head row is missing")
    if resume is not None and resume.checkpoint_seq != cp_seq:
        resume = None  # pruned since: the earlier walk's position is gone, walk from the new checkpoint
    fault = _checkpoint_fault(checkpoints, key) if resume is None else None
    if fault is not None:
        return ChainStatus(False, 0, None, 0, cp_seq, fault.seq, fault.problem, fault.message)
    walk = _walk_start(resume, checkpoints)
    fault = _entries_fault(conn, walk) or _head_fault(head.seq, head.entry_hash, walk)
    if fault is not None:
        return ChainStatus(False, walk.count, walk.first, walk.last, cp_seq, fault.seq, fault.problem, fault.message)
    status = ChainStatus(True, walk.count, walk.first, walk.last, cp_seq, message=f"{walk.count} entries verified" + (
        f" after the checkpoint at entry {cp_seq}" if checkpoints else ""))
    status.resume = Resume(walk.expected, walk.prev, walk.count, walk.first, cp_seq)
    return status


def _checkpoint_fault(checkpoints: Sequence[FieldValues], key: bytes) -> _Fault | None:
    """The first prune checkpoint signed with another key or whose signature does not match its fields."""
    fingerprint = _fingerprint(key)
    for cp in checkpoints:
        if cp["key_fingerprint"] != fingerprint:
            return _Fault(cp["seq"], "checkpoint", f"the checkpoint after entry {cp['seq']} was signed with another "
                          "key (AUDIT_CHECKPOINT_KEY or SECRET_KEY changed?)")
        if not hmac.compare_digest(cp["signature"], sign_checkpoint(key, cp)):
            return _Fault(cp["seq"], "checkpoint", f"the checkpoint after entry {cp['seq']} has an invalid signature: "
                          "it was forged or edited")
    return None


def _walk_start(resume: Resume | None, checkpoints: Sequence[FieldValues]) -> _Walk:
    """Where the walk begins: after an earlier valid walk, after the last prune checkpoint, or at the genesis."""
    if resume is not None:
        return _Walk(resume.next_seq, resume.prev_hash, resume.entries, resume.first_seq, resume.next_seq, True)
    if checkpoints:
        seq = checkpoints[-1]["seq"] + 1
        return _Walk(seq, checkpoints[-1]["entry_hash"], 0, None, seq, False)
    return _Walk(1, GENESIS_HASH, 0, None, 1, False)


def _entries_fault(conn: Connection, walk: _Walk) -> _Fault | None:
    """Read the entries in order from the walk's start, advancing ``walk``; the first one out of place."""
    cols = [LogEntry.__table__.c[name] for name in (*HASHED_FIELDS, *OPTIONAL_HASHED_FIELDS, "entry_hash")]
    stmt = sa.select(*cols).order_by(LogEntry.seq)
    if walk.resumed:
        stmt = stmt.where(LogEntry.seq >= walk.start)
    rows = conn.execute(stmt, execution_options={"stream_results": True, "yield_per": 2000})
    try:
        for row in rows.mappings():
            if walk.first is None:
                walk.first = row["seq"]
            fault = _entry_fault(row, walk)
            if fault is not None:
                return fault
            walk.count += 1
            walk.expected, walk.prev = row["seq"] + 1, row["entry_hash"]
    finally:
        rows.close()  # a server-side cursor on PostgreSQL: close it even when the walk stops early
    return None


def _entry_fault(row: FieldValues, walk: _Walk) -> _Fault | None:
    """What is wrong with ``row`` as the walk's next entry: edited, misplaced, a gap before it, or relinked."""
    seq, expected = row["seq"], walk.expected
    if entry_hash(row) != row["entry_hash"]:
        return _Fault(seq, "edited", f"entry {seq} was edited or moved: its contents no longer match its hash")
    if seq < expected:
        return _Fault(seq, "misplaced", f"entry {seq} should not be here: it lies before the prune checkpoint or "
                      "repeats a sequence number")
    if seq > expected:
        span = f"entry {expected}" if seq == expected + 1 else f"entries {expected} to {seq - 1}"
        return _Fault(expected, "removed", f"{span} removed: the chain jumps to entry {seq}")
    if row["prev_hash"] != walk.prev:
        if not walk.resumed and seq == walk.start:
            return _Fault(seq, "relinked", f"entry {seq} does not follow the start of the chain or the prune "
                          "checkpoint: earlier entries were removed or replaced")
        return _Fault(seq - 1, "relinked", f"entry {seq - 1} was rewritten or entries were reordered: entry {seq} "
                      "does not follow it")
    return None


def _head_fault(head_seq: int, head_hash: str, walk: _Walk) -> _Fault | None:
    """The head row against the walk's end: entries cut off the end, or the newest ones rewritten."""
    last = walk.last
    if head_seq > last:
        span = f"entry {head_seq}" if head_seq == last + 1 else f"entries {last + 1} to {head_seq}"
        return _Fault(last + 1, "tail_removed", f"{span} removed from the end of the log")
    if head_seq != last or head_hash != walk.prev:
        return _Fault(last, "head", f"the chain head does not match entry {last}: the newest entries were rewritten")
    return None


_cache_lock = threading.Lock()


def chain_status(max_age: float | None = None) -> ChainStatus:
    """The chain's state for the console, cheap enough for every page view.

    A full walk at most every ``max_age`` seconds (AUDIT_VERIFY_CACHE_SECONDS); in between, only the entries
    appended since the last walk are checked, continuing from its last hash, so new entries and a cut-off
    tail show at once and an edit of an older entry shows at the next full walk. ``full_at`` says when that was.
    """
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    max_age = app.config["AUDIT_VERIFY_CACHE_SECONDS"] if max_age is None else max_age
    engine = db.get_engine()
    cache = app.extensions.setdefault("certverify_chain_cache", {})
    with _cache_lock:
        last: ChainStatus | None = cache.get("status")
    key = _checkpoint_key(app)
    now = time.monotonic()
    if last is not None and last.ok and last.resume is not None and now - last.monotonic_full < max_age:
        status = verify_chain(engine, key, resume=last.resume)
        status.full_at, status.monotonic_full = last.full_at, last.monotonic_full
    else:
        status = verify_chain(engine, key)
        status.full_at, status.monotonic_full = status.checked_at, now
    with _cache_lock:
        cache["status"] = status
    return status


# --- pruning ---------------------------------------------------------------------------------------------------


def prune(engine: Engine, key: bytes, before: dt.datetime) -> tuple[int, int | None]:
    """Remove the oldest entries up to the first one at or after ``before``, leaving a signed checkpoint.

    Returns (entries removed, checkpoint sequence number). Refuses (``ChainBroken``) when the chain is already broken.
    """
    before = before if before.tzinfo else before.replace(tzinfo=dt.UTC)
    with db.write_connection(engine) as conn:
        head_seq, _ = _lock_head(conn)
        status = _verify(conn, key)
        if not status.ok:
            raise ChainBroken(f"the chain is broken ({status.message}); nothing was pruned")
        first_kept = conn.execute(sa.select(sa.func.min(LogEntry.seq)).where(LogEntry.occurred_at >= before)).scalar()
        last = head_seq if first_kept is None else first_kept - 1
        if status.first_seq is None or last < status.first_seq:
            return 0, None
        last_hash = conn.execute(sa.select(LogEntry.entry_hash).where(LogEntry.seq == last)).scalar_one()
        removed = conn.execute(sa.delete(LogEntry).where(LogEntry.seq <= last)).rowcount
        cp = {"seq": last, "entry_hash": last_hash, "pruned_before": before, "pruned_count": removed,
              "created_at": dt.datetime.now(dt.UTC).replace(microsecond=0)}
        cp["signature"] = sign_checkpoint(key, cp)
        cp["key_fingerprint"] = _fingerprint(key)
        conn.execute(sa.insert(Checkpoint), [cp])
        return removed, last


# --- export ----------------------------------------------------------------------------------------------------


def export_dict(row: FieldValues) -> dict[str, Any]:
    """An entry as plain JSON values (time as ISO 8601 UTC, quality as an object)."""
    out = {name: row[name] for name in EXPORT_FIELDS}
    out["occurred_at"] = _format_time(row["occurred_at"])
    try:
        out["quality"] = json.loads(row["quality"] or "{}")
    except ValueError:
        out["quality"] = row["quality"]
    if row["page"] is None:
        del out["page"]  # absent, as in the hash
    if row["front_outcome"] is None:
        del out["front_outcome"]  # no front compared: absent, as in the hash
    if row["regions"] is None:
        del out["regions"]  # absent, as in the hash
    else:
        try:
            out["regions"] = json.loads(row["regions"])
        except ValueError:
            pass
    return out


def _csv_cell(value: Any) -> Any:
    # Serials and issuers come from uploads: stop spreadsheets from running them as formulas.
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def iter_csv(rows: Iterable[FieldValues]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\r\n")
    writer.writerow(EXPORT_FIELDS)
    for row in rows:
        doc = export_dict(row)
        doc["quality"] = json.dumps(doc["quality"], sort_keys=True, ensure_ascii=False)
        doc["regions"] = " ".join(doc.get("regions") or ())
        doc.setdefault("page", None)
        doc.setdefault("front_outcome", None)
        writer.writerow([_csv_cell(doc[name]) for name in EXPORT_FIELDS])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    if buf.tell():
        yield buf.getvalue()


def iter_jsonl(rows: Iterable[FieldValues]) -> Iterator[str]:
    for row in rows:
        yield json.dumps(export_dict(row), ensure_ascii=False) + "\n"


def iter_export(fmt: str, rows: Iterable[FieldValues]) -> Iterator[str]:
    return iter_csv(rows) if fmt == "csv" else iter_jsonl(rows)


# --- CLI -------------------------------------------------------------------------------------------------------


def _parse_time(value: str | None, end: bool = False) -> dt.datetime | None:
    """A command-line time bound (see ``auditquery.parse_when``); a clear usage error when it cannot be read."""
    try:
        return parse_when(value, end)
    except ValueError as exc:
        raise click.BadParameter(f"{value!r} is not an ISO date (2025-01-31) or date-time") from exc


@click.group("audit", cls=AppGroup, help="The verification log: verify the hash chain, export, prune.")
def audit_cli() -> None:
    pass


@audit_cli.command("verify", help="Walk the hash chain; exit 1 naming the first broken entry.")
def verify_command() -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    status = verify_chain(db.get_engine(app), _checkpoint_key(app))
    if status.ok:
        click.echo(f"chain valid: {status.message} (last entry {status.last_seq})")
        return
    click.echo(f"chain BROKEN at entry {status.broken_seq}: {status.message}", err=True)
    sys.exit(1)


@audit_cli.command("export", help="Write the entries (oldest first) to standard output.")
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
@click.option("--since", help="From this UTC date or date-time (inclusive).")
@click.option("--until", help="Up to this UTC date (inclusive: the whole day) or date-time (exclusive).")
@click.option("--outcome", type=click.Choice(["verified", "altered", "failed"]))
@click.option("--code", help="Error code, e.g. bad_signature.")
@click.option("--serial")
@click.option("--client", help="API key name or ip:... hash.")
@click.option("--channel", type=click.Choice(["web", "api"]))
def export_command(fmt: str, since: str | None, until: str | None, **filters: Any) -> None:
    # ``filters``: the options above, each a str or None (Any: LogFilter's fields include a bool, ``partial``)
    flt = LogFilter(since=_parse_time(since), until=_parse_time(until, end=True), **filters)
    with db.get_engine().connect() as conn:
        for chunk in iter_export(fmt, iter_entries(conn, flt, newest_first=False)):
            click.echo(chunk, nl=False)


@audit_cli.command("prune", help="Remove entries older than DATE, leaving a signed checkpoint.")
@click.option("--before", required=True, help="UTC date or date-time: entries before it are removed.")
def prune_command(before: str) -> None:
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    cutoff = _parse_time(before)
    assert cutoff is not None
    try:
        removed, seq = prune(db.get_engine(app), _checkpoint_key(app), cutoff)
    except ChainBroken as exc:
        raise click.ClickException(str(exc)) from exc
    if removed:
        click.echo(f"removed {removed} entries up to entry {seq}; signed checkpoint written")
    else:
        click.echo("nothing to prune")


def init_app(app: Flask) -> None:
    """Register ``flask audit``; the log itself uses the database set up by :func:`web.db.init_app`."""
    app.cli.add_command(audit_cli)
