"""Reading the verification log: filters, pages, daily counts and the suspicious patterns the console flags."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict, deque
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, RowMapping
from sqlalchemy.orm import QueryableAttribute

from web.models import LogEntry

OUTCOMES = ("verified", "altered", "failed")
# Time bounds a filter may name: wide enough for any log, narrow enough that a day or a flag window added to or
# taken from them stays a date every database stores.
MIN_YEAR, MAX_YEAR = 1970, 9000
# Highest page number a listing accepts (the offset must stay an integer every database takes).
MAX_PAGE = 10_000_000
CHANNELS = ("web", "api")


def parse_when(value: str | None, end: bool = False, zone: dt.tzinfo = dt.UTC) -> dt.datetime | None:
    """An ISO date (2025-01-31) or date-time (2025-01-31T12:00[:00], in ``zone`` unless it says otherwise) as a
    bound of a time range; a bare date as ``end`` includes the whole day. None for an empty value; ValueError if
    unreadable."""
    value = (value or "").strip()
    if not value:
        return None
    if len(value) == 10:
        day = dt.date.fromisoformat(value)
        if not MIN_YEAR <= day.year <= MAX_YEAR:
            raise ValueError(f"year outside {MIN_YEAR}-{MAX_YEAR}")
        start = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
        return start + dt.timedelta(days=1) if end else start
    parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    if not MIN_YEAR <= parsed.year <= MAX_YEAR:
        raise ValueError(f"year outside {MIN_YEAR}-{MAX_YEAR}")
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)


def _contains(column: sa.ColumnElement[Any] | QueryableAttribute[Any], text: str) -> sa.ColumnElement[bool]:
    """``text`` anywhere in ``column``, ignoring case, its LIKE wildcards taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return column.ilike(f"%{escaped}%", escape="\\")


@dataclass(frozen=True)
class LogFilter:
    """Which entries to show or export; ``until`` is exclusive, every bound optional. With ``partial`` (the
    console's search), ``serial`` and ``client`` match any part of the value: a serial's last digits, a key's
    name without its prefix."""

    since: dt.datetime | None = None
    until: dt.datetime | None = None
    outcome: str | None = None
    code: str | None = None
    serial: str | None = None
    client: str | None = None
    channel: str | None = None
    partial: bool = False

    def conditions(self) -> list[sa.ColumnElement[bool]]:
        cond: list[sa.ColumnElement[bool]] = []
        if self.since:
            cond.append(LogEntry.occurred_at >= self.since)
        if self.until:
            cond.append(LogEntry.occurred_at < self.until)
        for column, value in ((LogEntry.outcome, self.outcome), (LogEntry.error_code, self.code),
                              (LogEntry.channel, self.channel)):
            if value:
                cond.append(column == value)
        for column, value in ((LogEntry.serial, self.serial), (LogEntry.client, self.client)):
            if value:
                cond.append(_contains(column, value) if self.partial else column == value)
        return cond

    def is_empty(self) -> bool:
        return not any(v for k, v in asdict(self).items() if k != "partial")


def _select(flt: LogFilter) -> sa.Select:
    return sa.select(LogEntry.__table__).where(*flt.conditions())


def iter_entries(conn: Connection, flt: LogFilter, newest_first: bool = True) -> Iterator[RowMapping]:
    """Stream the matching entries (server-side cursor on PostgreSQL)."""
    order = LogEntry.seq.desc() if newest_first else LogEntry.seq
    result = conn.execute(_select(flt).order_by(order), execution_options={"stream_results": True,
                                                                           "yield_per": 1000})
    try:
        yield from result.mappings()
    finally:
        result.close()


# The columns a listing may be sorted by, by the name its address uses; ties are broken by the entry's number.
SORTS = {"seq": LogEntry.seq, "outcome": LogEntry.outcome, "code": LogEntry.error_code, "serial": LogEntry.serial,
         "client": LogEntry.client, "channel": LogEntry.channel, "key": LogEntry.key_id,
         "signature": LogEntry.signature, "ms": LogEntry.processing_ms}


def page(conn: Connection, flt: LogFilter, number: int, size: int, sort: str = "seq",
         descending: bool = True) -> tuple[list[RowMapping], int]:
    """One page of matching entries in the order of ``sort`` (newest first by default), and the number of matches."""
    total = conn.execute(sa.select(sa.func.count()).select_from(LogEntry).where(*flt.conditions())).scalar_one()
    columns = [SORTS[sort], LogEntry.seq] if sort != "seq" else [LogEntry.seq]
    order = [c.desc().nulls_last() if descending else c.asc().nulls_first() for c in columns]
    rows = conn.execute(_select(flt).order_by(*order).offset((number - 1) * size).limit(size))
    return list(rows.mappings()), int(total)


def totals(conn: Connection, flt: LogFilter) -> dict[str, int]:
    """Matching entries per outcome."""
    counts = dict.fromkeys(OUTCOMES, 0)
    for outcome, count in conn.execute(sa.select(LogEntry.outcome, sa.func.count()).where(*flt.conditions())
                                       .group_by(LogEntry.outcome)):
        counts[outcome] = counts.get(outcome, 0) + int(count)
    return counts


def entry(conn: Connection, seq: int) -> RowMapping | None:
    return conn.execute(sa.select(LogEntry.__table__).where(LogEntry.seq == seq)).mappings().one_or_none()


def _as_date(value: Any) -> dt.date:
    return value if isinstance(value, dt.date) else dt.date.fromisoformat(str(value)[:10])


def _day(conn: Connection, hours: int) -> sa.ColumnElement:
    """The calendar day of an entry's time, ``hours`` ahead of UTC (timestamps are stored as naive UTC)."""
    if not hours:
        return sa.func.date(LogEntry.occurred_at)
    if conn.dialect.name == "sqlite":
        return sa.func.date(LogEntry.occurred_at, f"{hours:+d} hours")
    return sa.func.date(LogEntry.occurred_at + sa.literal_column(f"interval '{int(hours)} hours'"))


def daily_counts(conn: Connection, flt: LogFilter, hours: int = 0) -> dict[dt.date, dict[str, int]]:
    """Attempts per day and outcome among the matching entries; days begin ``hours`` ahead of UTC (JST: 9)."""
    day = _day(conn, hours)
    rows = conn.execute(sa.select(day, LogEntry.outcome, sa.func.count()).where(*flt.conditions())
                        .group_by(day, LogEntry.outcome))
    out: dict[dt.date, dict[str, int]] = defaultdict(lambda: dict.fromkeys(OUTCOMES, 0))
    for value, outcome, count in rows:
        out[_as_date(value)][outcome] = out[_as_date(value)].get(outcome, 0) + int(count)
    return dict(out)


# --- suspicious patterns ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Thresholds:
    client_failures: int = 10  # failed attempts from one client in the window
    serial_clients: int = 3  # distinct clients checking one serial in the window
    burst_count: int = 20  # attempts from one client, or of one serial ...
    burst_seconds: int = 60  # ... within this many seconds
    scan_limit: int = 200_000  # most recent entries examined for bursts


@dataclass
class Flag:
    """One suspicious pattern: what kind, about whom (a client, serial or key id), how many, when."""

    kind: str  # altered, bad_signature, unknown_key, burst_serial, burst_client, serial_clients, client_failures
    subject: str
    count: int
    first: dt.datetime
    last: dt.datetime
    failures: int = 0
    distinct: int = 0
    earlier_verified: int = 0  # altered: checks of the same serial that passed before (any time)
    filters: dict[str, str] = field(default_factory=dict)  # console query that lists the entries behind it


SEVERITY = ("altered", "bad_signature", "unknown_key", "burst_serial", "burst_client", "serial_clients",
            "client_failures")
MAX_PER_KIND = 20


def _grouped(conn: Connection, key: sa.ColumnElement[Any] | QueryableAttribute[Any], where: list,
             having: sa.ColumnElement[bool] | None = None,
             extra: sa.ColumnElement | None = None) -> list[tuple[Any, int, Any, Any, int]]:
    cols = [key, sa.func.count(), sa.func.min(LogEntry.occurred_at), sa.func.max(LogEntry.occurred_at)]
    cols.append(extra if extra is not None else sa.literal(0))
    stmt = sa.select(*cols).where(*where).group_by(key).order_by(sa.func.count().desc()).limit(MAX_PER_KIND)
    if having is not None:
        stmt = stmt.having(having)
    return [tuple(r) for r in conn.execute(stmt)]


def _aware(value: Any) -> dt.datetime:
    if isinstance(value, str):  # SQLite aggregates bypass the column type
        value = dt.datetime.fromisoformat(value)
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def find_flags(conn: Connection, since: dt.datetime, until: dt.datetime | None = None,
               limits: Thresholds | None = None) -> list[Flag]:
    """The suspicious patterns among entries in [since, until), most severe first."""
    limits = limits or Thresholds()
    window = LogFilter(since=since, until=until).conditions()
    flags: list[Flag] = []

    def add(kind: str, rows: list, filters_for, distinct: bool = False) -> None:
        for subject, count, first, last, extra in rows:
            flags.append(Flag(kind, str(subject), int(count), _aware(first), _aware(last),
                              distinct=int(extra) if distinct else 0, filters=filters_for(subject)))

    add("altered", _grouped(conn, LogEntry.serial, [*window, LogEntry.outcome == "altered"]),
        lambda s: {"serial": s or "", "outcome": "altered"})
    bad_sig = sa.or_(LogEntry.error_code == "bad_signature", LogEntry.signature == "invalid")
    add("bad_signature", _grouped(conn, LogEntry.serial, [*window, bad_sig]),
        lambda s: {"serial": s or "", "code": "bad_signature"})
    add("unknown_key", _grouped(conn, LogEntry.key_id, [*window, LogEntry.error_code == "unknown_key"]),
        lambda _k: {"code": "unknown_key"})
    flags.extend(_bursts(conn, window, limits))
    distinct_clients = sa.func.count(sa.distinct(LogEntry.client))
    add("serial_clients", _grouped(conn, LogEntry.serial, [*window, LogEntry.serial.is_not(None)],
                                   having=distinct_clients >= limits.serial_clients, extra=distinct_clients),
        lambda s: {"serial": s}, distinct=True)
    add("client_failures", _grouped(conn, LogEntry.client, [*window, LogEntry.outcome == "failed"],
                                    having=sa.func.count() >= limits.client_failures),
        lambda c: {"client": c, "outcome": "failed"})
    for f in flags:
        if f.kind in ("altered", "bad_signature") and f.subject == "None":
            f.subject, f.filters = "", {k: v for k, v in f.filters.items() if k != "serial"}
        elif f.kind == "altered":
            f.earlier_verified = int(conn.execute(
                sa.select(sa.func.count()).select_from(LogEntry).where(
                    LogEntry.serial == f.subject, LogEntry.outcome == "verified",
                    LogEntry.occurred_at < f.first)).scalar_one())
    return sorted(flags, key=lambda f: (SEVERITY.index(f.kind), -f.count))


def _bursts(conn: Connection, window: list, limits: Thresholds) -> list[Flag]:
    """Sliding-window bursts per client and per serial: ``burst_count`` attempts within ``burst_seconds``."""
    # oldest first; a row read by position (``row[index]``) is any of its columns' types, hence Sequence[Any]
    rows: Sequence[Sequence[Any]] = sorted(
        conn.execute(sa.select(LogEntry.occurred_at, LogEntry.client, LogEntry.serial, LogEntry.outcome)
                     .where(*window).order_by(LogEntry.seq.desc()).limit(limits.scan_limit)).all(),
        key=lambda r: r[0])
    span = dt.timedelta(seconds=limits.burst_seconds)
    found: dict[tuple[str, str], Flag] = {}
    for kind, index in (("burst_client", 1), ("burst_serial", 2)):
        recent: dict[str, deque] = defaultdict(deque)
        for row in rows:
            subject = row[index]
            if subject is None:
                continue
            times = recent[subject]
            times.append((row[0], row[3] == "failed"))
            while row[0] - times[0][0] > span:
                times.popleft()
            if len(times) >= limits.burst_count:
                best = found.get((kind, subject))
                if best is None or len(times) > best.count:
                    filters = {"client" if index == 1 else "serial": subject,
                               "since": times[0][0].strftime("%Y-%m-%dT%H:%M:%SZ"),
                               "until": (row[0] + dt.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")}
                    found[(kind, subject)] = Flag(kind, subject, len(times), times[0][0], row[0],
                                                  failures=sum(1 for _, bad in times if bad), filters=filters)
    ordered = sorted(found.values(), key=lambda f: -f.count)
    return [f for kind in ("burst_serial", "burst_client") for f in ordered if f.kind == kind][:2 * MAX_PER_KIND]
