"""Accounts, sign-in and sign-out, expiry, roles, CSRF, and the console's pages, filters, exports and flags."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from tests.audit.helpers import PASSWORD, attempt, create_user, csrf_from, raw_sql, record_many, run_flask, sign_in


@pytest.fixture
def auditor(client, app):
    create_user(app, "alice", "auditor")
    assert sign_in(client).status_code == 302
    return client


@pytest.fixture
def admin(client, app):
    create_user(app, "root", "admin")
    assert sign_in(client, "root").status_code == 302
    return client


# --- accounts --------------------------------------------------------------------------------------------------


@pytest.mark.every_database
def test_users_create_stores_argon2(app):
    create_user(app, "alice", "auditor")
    from web import db

    with db.get_engine(app).connect() as conn:
        stored = conn.exec_driver_sql("SELECT password_hash, role FROM users").one()
    assert stored[0].startswith("$argon2id$") and PASSWORD not in stored[0] and stored[1] == "auditor"
    again = run_flask(app, "users", "create", "alice", "--role", "admin", "--password-stdin", input="x" * 20 + "\n")
    assert again.exit_code != 0 and "already exists" in again.output
    short = run_flask(app, "users", "create", "bob", "--role", "auditor", "--password-stdin", input="short\n")
    assert short.exit_code != 0 and "at least" in short.output
    assert run_flask(app, "users", "create", "bob", "--role", "king", "--password-stdin", input=PASSWORD).exit_code


def test_users_create_prompts_twice(app):
    result = run_flask(app, "users", "create", "carol", "--role", "admin", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "created admin carol" in result.output and PASSWORD not in result.output
    assert "carol  admin" in run_flask(app, "users", "list").output


def test_console_requires_sign_in(client):
    for path in ("/audit/", "/audit/entries/1", "/audit/export.csv", "/audit/keys"):
        response = client.get(path)
        assert response.status_code == 302 and "/audit/sign-in" in response.headers["Location"], path


def test_sign_in_wrong_password_and_unknown_user(client, app):
    create_user(app)
    for name, password in (("alice", "wrong password!"), ("nobody", PASSWORD)):
        response = sign_in(client, name, password)
        assert response.status_code == 200
        assert 'id="sign-in-error"' in response.get_data(as_text=True)
    assert client.get("/audit/").status_code == 302


@pytest.mark.every_database
def test_sign_in_and_out(auditor):
    page = auditor.get("/audit/")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "alice" in html and page.headers["Cache-Control"] == "no-store"
    response = auditor.post("/audit/sign-out", data={"csrf_token": csrf_from(html)})
    assert response.status_code == 302
    assert auditor.get("/audit/").status_code == 302


def test_sign_in_needs_csrf(client, app):
    create_user(app)
    client.get("/audit/sign-in")
    response = client.post("/audit/sign-in", data={"name": "alice", "password": PASSWORD})
    assert response.status_code == 400
    assert client.get("/audit/").status_code == 302


def test_sign_out_needs_csrf(auditor):
    assert auditor.post("/audit/sign-out").status_code == 400
    assert auditor.get("/audit/").status_code == 200


def test_next_is_kept_but_never_offsite(client, app):
    create_user(app)
    page = client.get("/audit/sign-in?next=/audit/entries/1")
    token = csrf_from(page.get_data(as_text=True))
    ok = client.post("/audit/sign-in?next=/audit/entries/1", data={"name": "alice", "password": PASSWORD,
                                                                   "csrf_token": token})
    assert ok.headers["Location"].endswith("/audit/entries/1")
    client.post("/audit/sign-out", data={"csrf_token": token})
    for evil in ("https://evil.example/", "//evil.example/audit", "/audit\\@evil.example"):
        page = client.get("/audit/sign-in")
        token = csrf_from(page.get_data(as_text=True))
        out = client.post("/audit/sign-in", query_string={"next": evil},
                          data={"name": "alice", "password": PASSWORD, "csrf_token": token})
        assert out.headers["Location"].endswith("/audit/"), evil


@pytest.mark.every_database
def test_session_expires_after_inactivity(auditor, app, monkeypatch):
    from web import console

    assert auditor.get("/audit/").status_code == 200
    lifetime = app.permanent_session_lifetime.total_seconds()
    now = console._now()
    monkeypatch.setattr(console, "_now", lambda: now + lifetime - 5)
    assert auditor.get("/audit/").status_code == 200  # activity renews the session
    monkeypatch.setattr(console, "_now", lambda: now + 2 * lifetime - 6)
    assert auditor.get("/audit/").status_code == 200
    monkeypatch.setattr(console, "_now", lambda: now + 3 * lifetime)
    response = auditor.get("/audit/")
    assert response.status_code == 302 and "/audit/sign-in" in response.headers["Location"]


def test_session_cookie_is_permanent_with_the_lifetime(client, app):
    create_user(app)
    response = sign_in(client)
    cookie = response.headers["Set-Cookie"]
    assert "Expires=" in cookie and "HttpOnly" in cookie


@pytest.mark.every_database
def test_changed_password_ends_sessions(auditor, app):
    result = run_flask(app, "users", "set-password", "alice", "--password-stdin", input="a new long password\n")
    assert result.exit_code == 0, result.output
    assert auditor.get("/audit/").status_code == 302
    assert sign_in(auditor).status_code == 200  # the old password no longer works
    assert sign_in(auditor, password="a new long password").status_code == 302


@pytest.mark.every_database
def test_deleted_user_ends_sessions(auditor, app):
    assert run_flask(app, "users", "delete", "alice").exit_code == 0
    assert auditor.get("/audit/").status_code == 302


@pytest.mark.every_database
def test_sign_in_rate_limit(client, app):
    """Ten tries a minute from one address, whatever names they try (each name stays below its lockout)."""
    create_user(app)
    codes = [sign_in(client, f"guess{i}", "wrong password!").status_code for i in range(10)]
    codes.append(sign_in(client, "alice", "wrong password!").status_code)
    assert codes[:10] == [200] * 10 and codes[10] == 429
    assert sign_in(client).status_code == 429  # even the right password, until the window passes


def test_auditor_cannot_manage_keys(auditor):
    assert auditor.get("/audit/keys").status_code == 403
    html = auditor.get("/audit/").get_data(as_text=True)
    assert "/audit/keys" not in html
    token = csrf_from(html)
    assert auditor.post("/audit/keys", data={"name": "x", "csrf_token": token}).status_code == 403
    assert auditor.post("/audit/keys/x/revoke", data={"csrf_token": token}).status_code == 403


@pytest.mark.every_database
def test_admin_creates_and_revokes_keys(admin, app):
    page = admin.get("/audit/keys")
    assert page.status_code == 200
    token = csrf_from(page.get_data(as_text=True))
    created = admin.post("/audit/keys", data={"name": "bank-z", "csrf_token": token})
    assert created.status_code == 201 and created.headers["Cache-Control"] == "no-store"
    html = created.get_data(as_text=True)
    key = html.split('id="new-key">')[1].split("<")[0]
    from web import apikeys

    with app.app_context():
        assert apikeys.authenticate(key) == "bank-z"
    assert key not in admin.get("/audit/keys").get_data(as_text=True)  # shown once
    revoked = admin.post("/audit/keys/bank-z/revoke", data={"csrf_token": token}, follow_redirects=True)
    assert revoked.status_code == 200 and "revoked" in revoked.get_data(as_text=True)
    with app.app_context():
        assert apikeys.authenticate(key) is None
    assert admin.post("/audit/keys/none/revoke", data={"csrf_token": token}).status_code == 404
    dup = admin.post("/audit/keys", data={"name": "bank-z", "csrf_token": token})
    assert dup.status_code == 400 and "already exists" in dup.get_data(as_text=True)


def test_public_site_and_api_do_not_expose_the_log(client, app):
    record_many(app, [attempt(1, serial="SECRET-SERIAL")])
    for path in ("/", "/api/v1/openapi.json", "/audit/export.jsonl", "/audit/entries/1"):
        assert "SECRET-SERIAL" not in client.get(path).get_data(as_text=True), path
    rules = [r.rule for r in app.url_map.iter_rules()]
    assert not [r for r in rules if ("log" in r or "audit" in r) and not r.startswith("/audit")]


# --- pages -----------------------------------------------------------------------------------------------------


@pytest.mark.every_database
def test_list_is_newest_first_with_paging(auditor, app):
    app.config["AUDIT_PAGE_SIZE"] = 5
    record_many(app, [attempt(i) for i in range(12)])
    html = auditor.get("/audit/").get_data(as_text=True)
    assert html.index("S-00011") < html.index("S-00007")
    assert "S-00006" not in html and "12 entries" in html.replace("件", " entries")
    page3 = auditor.get("/audit/?page=3").get_data(as_text=True)
    assert "S-00000" in page3 and "S-00001" in page3 and "S-00002" not in page3


@pytest.mark.every_database
def test_filters(auditor, app):
    record_many(app, [
        attempt(1, outcome="failed", error_code="bad_signature", client="bank-a", serial="AAA"),
        attempt(2, outcome="verified", client="bank-b", channel="web", serial="BBB"),
        attempt(3, outcome="failed", error_code="markers_not_found", client="bank-a", serial="CCC",
                occurred_at=dt.datetime(2024, 6, 1, tzinfo=dt.UTC)),
    ])

    def serials(query: str) -> set[str]:
        html = auditor.get("/audit/?" + query).get_data(as_text=True)
        table = html.split('id="entries"')[1] if 'id="entries"' in html else ""
        return {s for s in ("AAA", "BBB", "CCC") if s in table}

    assert serials("") == {"AAA", "BBB", "CCC"}
    assert serials("outcome=failed") == {"AAA", "CCC"}
    assert serials("code=bad_signature") == {"AAA"}
    assert serials("client=bank-a") == {"AAA", "CCC"}
    assert serials("channel=web") == {"BBB"}
    assert serials("serial=CCC") == {"CCC"}
    assert serials("since=2025-01-01") == {"AAA", "BBB"}
    assert serials("until=2024-06-01") == {"CCC"}
    assert serials("outcome=nonsense") == {"AAA", "BBB", "CCC"}  # ignored, and said so
    assert "could not be read" in auditor.get("/audit/?since=garbage").get_data(as_text=True)


@pytest.mark.every_database
def test_entry_detail(auditor, app):
    record_many(app, [attempt(1, serial="DETAIL-1", quality={"ssim": 0.987})])
    html = auditor.get("/audit/entries/1").get_data(as_text=True)
    assert "DETAIL-1" in html and "0.987" in html and "ab" * 32 in html
    assert "/audit/entries/2" not in html  # the newest entry has no next one (the link led to a 404)
    missing = auditor.get("/audit/entries/99")
    assert missing.status_code == 404 and 'id="sign-out"' in missing.get_data(as_text=True)  # the console's bar


@pytest.mark.every_database
def test_an_altered_entry_names_the_fields_that_differed(auditor, app):
    record_many(app, [attempt(1, outcome="altered", error_code="altered", regions=["address", "resident0.birth"]),
                      attempt(2)])
    html = auditor.get("/audit/entries/1?lang=en").get_data(as_text=True)
    listed = html.split('id="entry-regions"')[1].split("</dd>")[0]
    assert "Fields that differed" in html and "address" in listed and "resident 1: date of birth" in listed
    assert 'id="entry-regions"' not in auditor.get("/audit/entries/2").get_data(as_text=True)


def test_a_page_the_account_may_not_see_keeps_the_consoles_bar(auditor):
    forbidden = auditor.get("/audit/keys")
    html = forbidden.get_data(as_text=True)
    assert forbidden.status_code == 403 and 'id="sign-out"' in html and 'class="audit-bar"' in html
    assert "forbidden" in html


@pytest.mark.every_database
def test_console_export(auditor, app):
    record_many(app, [attempt(1, outcome="failed", client="c1"), attempt(2, client="c2")])
    response = auditor.get("/audit/export.jsonl?outcome=failed")
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["Content-Disposition"].startswith("attachment;")
    lines = [json.loads(line) for line in response.get_data(as_text=True).splitlines()]
    assert [d["client"] for d in lines] == ["c1"]
    csv_response = auditor.get("/audit/export.csv")
    assert csv_response.mimetype == "text/csv" and csv_response.headers["Cache-Control"] == "no-store"
    assert len(csv_response.get_data(as_text=True).strip().splitlines()) == 3


@pytest.mark.every_database
def test_banner_shows_valid_then_broken(auditor, app):
    record_many(app, [attempt(i) for i in range(4)])
    html = auditor.get("/audit/").get_data(as_text=True)
    assert 'class="chain-banner chain-ok"' in html
    raw_sql(app, "UPDATE log_entries SET serial = 'X' WHERE seq = 2")
    html = auditor.get("/audit/").get_data(as_text=True)
    assert 'class="chain-banner chain-broken"' in html and "2" in html.split('id="chain-banner"')[1][:400]


@pytest.mark.every_database
def test_banner_checks_new_entries_at_once_and_old_ones_at_the_next_full_walk(auditor, app):
    app.config["AUDIT_VERIFY_CACHE_SECONDS"] = 3600
    record_many(app, [attempt(i) for i in range(3)])
    assert "chain-ok" in auditor.get("/audit/").get_data(as_text=True)
    record_many(app, [attempt(i) for i in range(3, 6)])
    assert "6 entries verified" in auditor.get("/audit/").get_data(as_text=True)  # only the tail was read
    raw_sql(app, "UPDATE log_entries SET serial = 'X' WHERE seq = 5")  # already checked: seen at the next full walk
    record_many(app, [attempt(9)])
    html = auditor.get("/audit/").get_data(as_text=True)
    assert "chain-ok" in html  # entries 1-6 were walked in full less than an hour ago
    app.config["AUDIT_VERIFY_CACHE_SECONDS"] = 0
    html = auditor.get("/audit/").get_data(as_text=True)
    assert "chain-broken" in html and "entry 5 was edited" in html


@pytest.mark.every_database
def test_banner_sees_a_cut_off_tail_at_once(auditor, app):
    app.config["AUDIT_VERIFY_CACHE_SECONDS"] = 3600
    record_many(app, [attempt(i) for i in range(4)])
    assert "chain-ok" in auditor.get("/audit/").get_data(as_text=True)
    record_many(app, [attempt(i) for i in range(2)])
    raw_sql(app, "DELETE FROM log_entries WHERE seq = 6")
    assert "chain-broken" in auditor.get("/audit/").get_data(as_text=True)


def test_chart_is_inline_svg(auditor, app):
    now = dt.datetime.now(dt.UTC)
    record_many(app, [attempt(1, occurred_at=now), attempt(2, occurred_at=now, outcome="failed"),
                      attempt(3, occurred_at=now - dt.timedelta(days=2), outcome="altered")])
    html = auditor.get("/audit/").get_data(as_text=True)
    svg = html.split("<svg", 1)[1] if "audit-chart" in html else ""
    assert 'class="audit-chart"' in html and "<rect" in svg
    assert "style=" not in svg and "<script" not in html.lower().replace('<script src=', '')
    assert f"{now.date().isoformat()}: 1 " in html


@pytest.mark.every_database
def test_planted_burst_is_flagged(auditor, app):
    """Thirty failing checks of one serial within a minute, from a handful of clients, are flagged."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    record_many(app, [attempt(i, serial="S-PROBED", client=f"ip:{i % 4:016x}", outcome="failed",
                              error_code="scramble_mismatch", occurred_at=now + dt.timedelta(seconds=i * 1.5))
                      for i in range(30)])
    record_many(app, [attempt(100 + i, serial=f"S-{i}") for i in range(10)])  # ordinary traffic
    html = auditor.get("/audit/").get_data(as_text=True)
    flags = html.split('id="flags"')[1].split("</section>")[0]
    assert 'data-kind="burst_serial"' in flags and "S-PROBED" in flags
    assert 'data-kind="serial_clients"' in flags
    assert "S-1<" not in flags and "S-2<" not in flags


@pytest.mark.every_database
def test_other_flags(auditor, app):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    record_many(app, [
        attempt(1, outcome="failed", error_code="unknown_key", key_id="k-rogue", occurred_at=now),
        attempt(2, outcome="failed", error_code="bad_signature", signature="invalid", serial="S-BADSIG",
                occurred_at=now),
        attempt(3, outcome="verified", serial="S-ALTERED", occurred_at=now - dt.timedelta(days=30)),
        attempt(4, outcome="altered", serial="S-ALTERED", occurred_at=now),
        *[attempt(10 + i, outcome="failed", error_code="markers_not_found", client="clumsy-bank",
                  occurred_at=now + dt.timedelta(minutes=5 * i)) for i in range(12)],
    ])
    html = auditor.get("/audit/").get_data(as_text=True)
    flags = html.split('id="flags"')[1].split("</section>")[0]
    for kind, subject in (("unknown_key", "k-rogue"), ("bad_signature", "S-BADSIG"), ("altered", "S-ALTERED"),
                          ("client_failures", "clumsy-bank")):
        assert f'data-kind="{kind}"' in flags and subject in flags, kind
    assert 'data-kind="burst_client"' not in flags  # twelve failures over an hour are not a burst
    assert "passed 1 earlier check" in flags  # checked fine a month ago, altered now
    assert "a back rebuilt for an altered front" in flags  # what was detected, not "the paper was changed"
    assert flags.index("S-ALTERED") < flags.index("clumsy-bank")  # most severe first


def test_console_in_japanese_by_default(auditor, app):
    auditor.environ_base.pop("HTTP_ACCEPT_LANGUAGE")
    record_many(app, [attempt(1)])
    html = auditor.get("/audit/").get_data(as_text=True)
    assert '<html lang="ja">' in html and "確認ログ" in html and "不審なパターン" in html and "確認済み" in html
    assert "ハッシュチェーンは正常です" in html
    english = auditor.get("/audit/?lang=en").get_data(as_text=True)
    assert "Verification log" in english and "Suspicious patterns" in english


@pytest.mark.every_database
def test_flags_are_reused_for_their_max_age(auditor, app):
    app.config["AUDIT_FLAG_CACHE_SECONDS"] = 3600
    assert 'id="no-flags"' in auditor.get("/audit/").get_data(as_text=True)
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    record_many(app, [attempt(1, outcome="altered", serial="S-LATE", occurred_at=now)])
    assert 'id="no-flags"' in auditor.get("/audit/").get_data(as_text=True)
    app.config["AUDIT_FLAG_CACHE_SECONDS"] = 0
    assert 'data-kind="altered"' in auditor.get("/audit/").get_data(as_text=True)


# --- the overview ----------------------------------------------------------------------------------------------


def _overview(html: str) -> dict[str, list[str]]:
    """The overview's rows: this period, the period before, the change."""
    import re

    table = html.split('id="overview"')[1].split("</table>")[0]
    rows = {}
    for key, cells in re.findall(r'<tr id="overview-([a-z_]+)">(.*?)</tr>', table, re.S):
        rows[key] = re.findall(r'<td class="num">(.*?)</td>', cells)
    return rows


@pytest.mark.every_database
def test_overview_totals_and_the_change_against_the_period_before(auditor, app):
    """Totals of the chosen period (verified, altered, failed, failure rate) beside the period just before it."""
    day = dt.timedelta(days=1)
    since = dt.datetime(2026, 3, 11, tzinfo=dt.UTC)
    record_many(app, [
        # the period before: 2026-03-01 to 03-10, 4 attempts, 1 failed
        *(attempt(i, occurred_at=since - (i + 1) * day) for i in range(3)),
        attempt(3, occurred_at=since - 2 * day, outcome="failed"),
        # the period: 2026-03-11 to 03-20, 6 attempts, 2 failed, 1 altered
        *(attempt(10 + i, occurred_at=since + i * day) for i in range(3)),
        attempt(13, occurred_at=since + day, outcome="altered"),
        attempt(14, occurred_at=since + 5 * day, outcome="failed"),
        attempt(15, occurred_at=since + 9 * day, outcome="failed"),
        attempt(16, occurred_at=since + 10 * day),  # after the period
    ])
    rows = _overview(auditor.get("/audit/?since=2026-03-11&until=2026-03-20&lang=en").get_data(as_text=True))
    assert rows["total"] == ["6", "4", "+2 (+50 %)"]
    assert rows["verified"] == ["3", "3", "±0"]
    assert rows["altered"] == ["1", "0", "+1"]
    assert rows["failed"] == ["2", "1", "+1 (+100 %)"]
    assert rows["failure_rate"] == ["33.3 %", "25.0 %", "+8.3 points"]
    # the other filters hold for both periods
    assert _overview(auditor.get("/audit/?since=2026-03-11&until=2026-03-20&outcome=failed&lang=en")
                     .get_data(as_text=True))["total"] == ["2", "1", "+1 (+100 %)"]


@pytest.mark.every_database
def test_times_in_jst_or_utc(auditor, app):
    """The switch shows every time in JST (and reads the date filters as JST days), and is remembered."""
    record_many(app, [attempt(1, serial="LATE", occurred_at=dt.datetime(2026, 3, 10, 16, 30, tzinfo=dt.UTC))])
    html = auditor.get("/audit/?lang=en").get_data(as_text=True)
    assert "2026-03-10 16:30:00" in html and "Time (UTC)" in html and 'id="zone-jst"' in html
    html = auditor.get("/audit/?tz=jst&lang=en").get_data(as_text=True)
    assert "2026-03-11 01:30:00" in html and "Time (JST)" in html and 'id="zone-utc"' in html
    assert "2026-03-11 01:30:00" in auditor.get("/audit/entries/1").get_data(as_text=True)  # remembered

    def listed(query: str) -> bool:
        page = auditor.get("/audit/?" + query).get_data(as_text=True)
        return "LATE" in page.split('id="entries-title"')[1]

    assert listed("since=2026-03-11&until=2026-03-11")  # the JST day 03-11 holds 16:30 UTC on 03-10
    auditor.get("/audit/?tz=utc")
    assert not listed("since=2026-03-11&until=2026-03-11")
    assert listed("since=2026-03-10&until=2026-03-10")


@pytest.mark.every_database
def test_the_chart_counts_days_of_the_chosen_zone_and_shows_them_as_a_table(auditor, app):
    late = dt.datetime.now(dt.UTC).replace(hour=20, minute=0) - dt.timedelta(days=1)  # JST: the next day, 05:00
    record_many(app, [attempt(1, occurred_at=late), attempt(2, occurred_at=late, outcome="failed")])
    utc_day, jst_day = late.date().isoformat(), (late.date() + dt.timedelta(days=1)).isoformat()

    def table(query: str) -> str:
        return auditor.get("/audit/?lang=en&" + query).get_data(as_text=True).split('id="chart-numbers"')[1] \
            .split("</details>")[0]

    assert f'<th scope="row" class="mono">{utc_day}</th><td class="num">1</td><td class="num">0</td>' \
           f'<td class="num">1</td><td class="num">2</td>' in table("tz=utc")
    numbers = table("tz=jst")
    assert jst_day in numbers and utc_day not in numbers


@pytest.mark.every_database
def test_partial_search_on_serial_and_client(auditor, app):
    record_many(app, [attempt(1, serial="20261206-1234567890", client="bank-tokyo"),
                      attempt(2, serial="20261206-5555500000", client="bank-osaka"),
                      attempt(3, serial="100%_SURE", client="ip:abc")])

    def serials(query: str) -> set[str]:
        html = auditor.get("/audit/?" + query).get_data(as_text=True)
        return {s for s in ("1234567890", "5555500000", "100%_SURE") if s in html.split('id="entries-title"')[1]}

    assert serials("serial=4567") == {"1234567890"}
    assert serials("serial=20261206") == {"1234567890", "5555500000"}
    assert serials("client=BANK") == {"1234567890", "5555500000"}
    assert serials("client=osaka") == {"5555500000"}
    assert serials("serial=%25_") == {"100%_SURE"}  # LIKE's wildcards are taken literally
    assert serials("serial=1%25S") == set()  # as a wildcard, 1%S would match it


@pytest.mark.every_database
def test_sortable_columns(auditor, app):
    record_many(app, [attempt(1, serial="S-B", processing_ms=50.0), attempt(2, serial="S-C", processing_ms=900.0),
                      attempt(3, serial="S-A", processing_ms=10.0)])

    def order(query: str) -> list[str]:
        html = auditor.get("/audit/?lang=en&" + query).get_data(as_text=True).split('id="entries"')[1]
        return sorted(("S-A", "S-B", "S-C"), key=html.index)

    assert order("") == ["S-A", "S-C", "S-B"]  # newest first
    assert order("sort=serial&dir=asc") == ["S-A", "S-B", "S-C"]
    assert order("sort=ms") == ["S-C", "S-B", "S-A"]
    html = auditor.get("/audit/?lang=en&sort=ms").get_data(as_text=True)
    assert 'aria-sort="descending"><a href="/audit/?sort=ms&amp;dir=asc"' in html  # a second click reverses
    assert auditor.get("/audit/?sort=password_hash").status_code == 400


def test_the_console_has_its_own_frame(auditor):
    html = auditor.get("/audit/?lang=en").get_data(as_text=True)
    assert '<span class="brand-sub">Auditors\' console</span>' in html
    assert 'class="site-nav"' not in html and "site-footer" not in html
    assert 'class="brand" href="/audit/"' in html
