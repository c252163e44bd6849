"""Retention with signed checkpoints, and `flask audit export` with its filters."""

from __future__ import annotations

import csv
import io
import json

import pytest
import sqlalchemy as sa

from tests.audit.helpers import attempt, raw_sql, record_many, run_flask, utc

pytestmark = pytest.mark.every_database  # on PostgreSQL too: pruning and export read and rewrite the database's rows


def seed_days(app) -> None:
    """Ten entries on 2025-01-01 .. 2025-01-10, one a day, at noon UTC."""
    record_many(app, [attempt(i, occurred_at=utc(2025, 1, i + 1, 12)) for i in range(10)])


def test_prune_leaves_a_verifiable_checkpoint(app):
    seed_days(app)
    result = run_flask(app, "audit", "prune", "--before", "2025-01-05")
    assert result.exit_code == 0, result.output
    assert "removed 4 entries up to entry 4" in result.output
    ok = run_flask(app, "audit", "verify")
    assert ok.exit_code == 0, ok.output
    assert "6 entries verified after the checkpoint at entry 4" in ok.output
    record_many(app, [attempt(99)])
    assert run_flask(app, "audit", "verify").exit_code == 0
    # A second prune stacks a second checkpoint; both signatures are checked.
    assert "removed 3 entries" in run_flask(app, "audit", "prune", "--before", "2025-01-08").output
    assert run_flask(app, "audit", "verify").exit_code == 0


def test_prune_everything_then_append(app):
    seed_days(app)
    assert "removed 10 entries" in run_flask(app, "audit", "prune", "--before", "2030-01-01").output
    assert run_flask(app, "audit", "verify").exit_code == 0
    assert record_many(app, [attempt(1)]) == [11]
    assert run_flask(app, "audit", "verify").exit_code == 0


def test_prune_nothing(app):
    seed_days(app)
    assert "nothing to prune" in run_flask(app, "audit", "prune", "--before", "2024-01-01").output


def test_forged_checkpoint_fails(app):
    """Deleting old entries and writing a checkpoint without the key is caught."""
    seed_days(app)
    assert run_flask(app, "audit", "prune", "--before", "2025-01-03").exit_code == 0
    raw_sql(app, "UPDATE checkpoints SET seq = 5, entry_hash = (SELECT entry_hash FROM log_entries WHERE seq = 5)")
    raw_sql(app, "DELETE FROM log_entries WHERE seq <= 5")
    result = run_flask(app, "audit", "verify")
    assert result.exit_code == 1
    assert "BROKEN at entry 5" in result.output and "invalid signature" in result.output


def test_checkpoint_signed_with_another_key_fails(app):
    seed_days(app)
    assert run_flask(app, "audit", "prune", "--before", "2025-01-03").exit_code == 0
    app.config["AUDIT_CHECKPOINT_KEY"] = "a different key"
    result = run_flask(app, "audit", "verify")
    assert result.exit_code == 1 and "another key" in result.output


def test_removing_the_checkpoint_fails(app):
    seed_days(app)
    assert run_flask(app, "audit", "prune", "--before", "2025-01-03").exit_code == 0
    raw_sql(app, "DELETE FROM checkpoints")
    result = run_flask(app, "audit", "verify")
    assert result.exit_code == 1 and "BROKEN at entry 1" in result.output


def test_prune_refuses_a_broken_chain(app):
    seed_days(app)
    raw_sql(app, "UPDATE log_entries SET client = 'x' WHERE seq = 2")
    result = run_flask(app, "audit", "prune", "--before", "2025-01-05")
    assert result.exit_code != 0 and "nothing was pruned" in result.output
    from web import db

    with db.get_engine(app).connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM log_entries")).scalar() == 10


def test_export_jsonl_with_filters(app):
    record_many(app, [
        attempt(1, occurred_at=utc(2025, 2, 1, 9), outcome="failed", error_code="bad_signature", client="bank-a"),
        attempt(2, occurred_at=utc(2025, 2, 2, 9), outcome="verified", client="bank-b", channel="web"),
        attempt(3, occurred_at=utc(2025, 2, 3, 9), outcome="failed", error_code="markers_not_found",
                client="bank-a"),
    ])
    result = run_flask(app, "audit", "export", "--format", "jsonl")
    lines = [json.loads(line) for line in result.output.splitlines()]
    assert [d["seq"] for d in lines] == [1, 2, 3]
    assert lines[0]["occurred_at"] == "2025-02-01T09:00:00.000000Z"
    assert lines[0]["quality"] == {"sharpness": 1.5, "ssim": 0.97}
    assert {"prev_hash", "entry_hash", "upload_sha256", "dpi_estimate"} <= set(lines[0])

    def seqs(*args: str) -> list[int]:
        out = run_flask(app, "audit", "export", "--format", "jsonl", *args)
        assert out.exit_code == 0, out.output
        return [json.loads(line)["seq"] for line in out.output.splitlines()]

    assert seqs("--outcome", "failed") == [1, 3]
    assert seqs("--code", "bad_signature") == [1]
    assert seqs("--client", "bank-a", "--since", "2025-02-02") == [3]
    assert seqs("--until", "2025-02-02") == [1, 2]  # a bare date includes the whole day
    assert seqs("--since", "2025-02-01T10:00:00Z", "--until", "2025-02-03T09:00:00+00:00") == [2]
    assert seqs("--channel", "web") == [2]
    assert seqs("--serial", "S-00003") == [3]
    bad = run_flask(app, "audit", "export", "--since", "yesterday")
    assert bad.exit_code == 2 and "ISO date" in bad.output


def test_export_csv(app):
    record_many(app, [attempt(1, serial="=HYPERLINK(\"http://evil\")"), attempt(2)])
    result = run_flask(app, "audit", "export", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert len(rows) == 2 and rows[1]["seq"] == "2"
    assert rows[0]["serial"].startswith("'=")  # spreadsheets must not run it as a formula
    assert json.loads(rows[0]["quality"])["ssim"] == 0.97


def test_export_can_be_rechecked_without_this_code(app):
    """docs/auditlog.md specifies the hash: re-derive it from a JSON Lines export with hashlib and json alone."""
    import hashlib

    record_many(app, [attempt(1, serial="住民-0001", quality={"b": 1.25, "a": [0.1, None]}),
                      attempt(2, dpi_estimate=None, width=None), attempt(3, outcome="failed", error_code="x"),
                      attempt(4, outcome="altered", error_code="altered", regions=["resident0.birth", "address"])])
    prev = "0" * 64
    for line in run_flask(app, "audit", "export", "--format", "jsonl").output.splitlines():
        doc = json.loads(line)
        fields = {k: v for k, v in doc.items() if k != "entry_hash"}
        fields["quality"] = json.dumps(doc["quality"], sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        if "regions" in doc:  # only a content refusal's entry has them
            fields["regions"] = json.dumps(doc["regions"], separators=(",", ":"), ensure_ascii=False)
        canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
        assert doc["prev_hash"] == prev
        assert hashlib.sha256(b"certverify-log-v1\n" + canonical).hexdigest() == doc["entry_hash"]
        prev = doc["entry_hash"]
    assert doc["regions"] == ["resident0.birth", "address"]
