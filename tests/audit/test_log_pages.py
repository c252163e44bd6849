"""The pages of one upload in the log: each its own entry naming its page, all under one request id; the page is
hashed only where present, so the chain verifies across entries with and without it, on SQLite and PostgreSQL."""

from __future__ import annotations

import json

from tests.audit.helpers import assert_chain, attempt, create_user, raw_sql, record_many, run_flask, sign_in


def stack_entries():
    first = attempt(1)
    return [attempt(0), *(attempt(1, request_id=first.request_id, page=n) for n in (1, 2, 3))]


def test_pages_join_the_chain_and_an_edited_page_is_found(app):
    record_many(app, stack_entries())
    assert_chain(app, 4)
    raw_sql(app, "UPDATE log_entries SET page = 5 WHERE seq = 3")
    result = run_flask(app, "audit", "verify")
    assert result.exit_code != 0 and "3" in result.output


def test_the_export_names_the_page_where_there_is_one(app):
    record_many(app, stack_entries())
    result = run_flask(app, "audit", "export", "--format", "jsonl")
    assert result.exit_code == 0, result.output
    docs = [json.loads(line) for line in result.stdout.splitlines()]
    assert [d.get("page") for d in docs] == [None, 1, 2, 3]
    assert "page" not in docs[0]  # absent, as in its hash
    assert len({d["request_id"] for d in docs[1:]}) == 1


def test_the_console_shows_the_page(client, app):
    record_many(app, stack_entries())
    create_user(app, "alice", "auditor")
    assert sign_in(client).status_code == 302
    html = client.get("/audit/entries/3?lang=en").get_data(as_text=True)
    assert '<dd id="entry-page">2</dd>' in html and "Page of the upload" in html
    assert 'id="entry-page"' not in client.get("/audit/entries/1").get_data(as_text=True)
