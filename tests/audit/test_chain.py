"""The hash chain: records verify; any edit, deletion, swap or reordering is named by `flask audit verify`."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from tests.audit.helpers import attempt, raw_sql, record_many, run_flask, utc

pytestmark = pytest.mark.every_database  # on PostgreSQL too: the hash chain is the database's rows and locks


def verify(app):
    result = run_flask(app, "audit", "verify")
    return result.exit_code, result.output


def test_records_chain_and_verify(app):
    seqs = record_many(app, [attempt(i) for i in range(5)])
    assert seqs == [1, 2, 3, 4, 5]
    code, out = verify(app)
    assert code == 0, out
    assert "5 entries verified" in out


def test_empty_log_verifies(app):
    code, out = verify(app)
    assert code == 0 and "0 entries" in out


def test_entry_keeps_every_field(app):
    from web import db
    from web.models import LogEntry

    when = utc(2025, 3, 4, 5, 6, 7, 891011)
    record_many(app, [attempt(1, occurred_at=when, error_code="bad_signature", outcome="failed",
                              quality={"ssim": 0.5, "nested": {"a": [1, 2.5]}}, dpi_estimate=float("nan"))])
    with db.get_engine(app).connect() as conn:
        row = conn.execute(sa.select(LogEntry.__table__)).mappings().one()
    assert row["occurred_at"] == when
    assert row["error_code"] == "bad_signature" and row["outcome"] == "failed"
    assert json.loads(row["quality"]) == {"nested": {"a": [1, 2.5]}, "ssim": 0.5}
    assert row["dpi_estimate"] is None  # NaN is not JSON: kept as unknown
    assert row["width"] == 2480 and row["processing_ms"] == pytest.approx(123.456)
    assert row["prev_hash"] == "0" * 64 and len(row["entry_hash"]) == 64


def test_hostile_strings_are_cleaned(app):
    """Serials come from uploads: NUL (refused by PostgreSQL) and control characters are dropped, length bounded."""
    record_many(app, [attempt(1, serial="AB\x00C\x1b[31m" + "x" * 500, issuer="\u202eevil")])
    from web import db
    from web.models import LogEntry

    with db.get_engine(app).connect() as conn:
        serial, issuer = conn.execute(sa.select(LogEntry.serial, LogEntry.issuer)).one()
    assert serial.startswith("ABC[31m") and len(serial) == 200
    assert "\x00" not in serial and "\x1b" not in serial
    assert verify(app)[0] == 0


@pytest.mark.parametrize("column,value", [("client", "someone-else"), ("outcome", "verified"),
                                          ("serial", "S-99999"), ("processing_ms", 1.0), ("width", 1)])
def test_edit_is_named(app, column, value):
    record_many(app, [attempt(i, outcome="failed") for i in range(6)])
    raw_sql(app, f"UPDATE log_entries SET {column} = :v WHERE seq = 4", v=value)
    code, out = verify(app)
    assert code == 1
    assert "BROKEN at entry 4" in out and "edited" in out


def test_edit_of_time_is_named(app):
    record_many(app, [attempt(i) for i in range(4)])
    raw_sql(app, "UPDATE log_entries SET occurred_at = :v WHERE seq = 2", v=utc(2020, 1, 1).replace(tzinfo=None))
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 2" in out


def test_rehashed_edit_is_named(app):
    """An insider who edits an entry and recomputes its own hash still breaks the link to the next entry."""
    from web import auditlog, db
    from web.models import LogEntry

    record_many(app, [attempt(i) for i in range(5)])
    with db.get_engine(app).begin() as conn:
        row = dict(conn.execute(sa.select(LogEntry.__table__).where(LogEntry.seq == 3)).mappings().one())
        row["outcome"] = "verified"
        row["client"] = "innocent"
        new_hash = auditlog.entry_hash(row)
        conn.execute(sa.update(LogEntry).where(LogEntry.seq == 3).values(client="innocent", entry_hash=new_hash))
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 3" in out and "rewritten" in out


def test_deletion_is_named(app):
    record_many(app, [attempt(i) for i in range(6)])
    raw_sql(app, "DELETE FROM log_entries WHERE seq = 3")
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 3" in out and "removed" in out


def test_deletion_of_first_entry_is_named(app):
    record_many(app, [attempt(i) for i in range(3)])
    raw_sql(app, "DELETE FROM log_entries WHERE seq = 1")
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 1" in out


def test_deletion_of_newest_entries_is_named(app):
    record_many(app, [attempt(i) for i in range(6)])
    raw_sql(app, "DELETE FROM log_entries WHERE seq >= 5")
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 5" in out and "end of the log" in out


def test_swapped_contents_are_named(app):
    """Two rows exchange their contents (every column but the sequence number)."""
    from web import db
    from web.auditlog import HASHED_FIELDS
    from web.models import LogEntry

    record_many(app, [attempt(i, client=f"client-{i}") for i in range(6)])
    cols = [c for c in (*HASHED_FIELDS, "entry_hash") if c != "seq"]
    with db.get_engine(app).begin() as conn:
        a = conn.execute(sa.select(LogEntry.__table__).where(LogEntry.seq == 2)).mappings().one()
        b = conn.execute(sa.select(LogEntry.__table__).where(LogEntry.seq == 5)).mappings().one()
        conn.execute(sa.update(LogEntry).where(LogEntry.seq == 2).values({c: b[c] for c in cols}))
        conn.execute(sa.update(LogEntry).where(LogEntry.seq == 5).values({c: a[c] for c in cols}))
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 2" in out


def test_reordered_sequence_numbers_are_named(app):
    """Two rows exchange their sequence numbers (the order of the log changes)."""
    record_many(app, [attempt(i) for i in range(6)])
    raw_sql(app, "UPDATE log_entries SET seq = 1000 WHERE seq = 3")
    raw_sql(app, "UPDATE log_entries SET seq = 3 WHERE seq = 4")
    raw_sql(app, "UPDATE log_entries SET seq = 4 WHERE seq = 1000")
    code, out = verify(app)
    assert code == 1 and "BROKEN at entry 3" in out


def test_appends_continue_after_verify(app):
    record_many(app, [attempt(i) for i in range(3)])
    assert verify(app)[0] == 0
    assert record_many(app, [attempt(9)]) == [4]
    assert verify(app)[0] == 0


def test_client_for_ip_is_keyed_and_hides_the_address(app):
    from web import auditlog

    with app.app_context():
        a = auditlog.client_for_ip("203.0.113.7")
        assert a == auditlog.client_for_ip("203.0.113.7")
        assert a != auditlog.client_for_ip("203.0.113.8")
        assert a.startswith("ip:") and "203" not in a and len(a) == 19
    other = app.config["SECRET_KEY"]
    app.config["AUDIT_IP_HASH_SECRET"] = "another secret"
    with app.app_context():
        assert auditlog.client_for_ip("203.0.113.7") != a
    assert app.config["SECRET_KEY"] == other


def test_postgres_urls_use_psycopg3():
    from web.db import normalise_url

    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgresql://u@h:5432/db") == "postgresql+psycopg://u@h:5432/db"
    assert normalise_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:////tmp/x.db") == "sqlite:////tmp/x.db"
