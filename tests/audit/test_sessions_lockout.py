"""Console sign-ins end on the server, names are normalised once, and lockouts are per (account, source)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.audit.helpers import (
    PASSWORD,
    attempt,
    create_user,
    record_many,
    run_flask,
    sign_in,
)
from tests.support import key_ring, make_app

pytestmark = pytest.mark.every_database  # on PostgreSQL too: sign-ins and lockouts are rows shared by every instance


@pytest.fixture
def extra_apps(database_url, tmp_path):
    """More app instances on the test's database (other workers), their engines closed afterwards."""
    made = []

    def make(**overrides):
        made.append(make_app(database_url, key_ring(tmp_path), **overrides))
        return made[-1]

    yield make
    from web import db

    for app in made:
        db.get_engine(app).dispose()


def _browser(app, address: str = "127.0.0.1"):
    client = app.test_client()
    client.environ_base.update(HTTP_ACCEPT_LANGUAGE="en", REMOTE_ADDR=address)
    return client


def _copy_cookie(source, target) -> None:
    cookie = source.get_cookie("session")
    assert cookie is not None
    target.set_cookie("session", cookie.value)


def _signed_in(app, name: str = "alice", address: str = "127.0.0.1", password: str = PASSWORD):
    browser = _browser(app, address)
    assert sign_in(browser, name, password).status_code == 302
    return browser


# --- sessions end on the server --------------------------------------------------------------------------------


def test_a_cookie_copied_before_sign_out_opens_nothing(app):
    create_user(app)
    browser = _signed_in(app)
    thief = _browser(app)
    _copy_cookie(browser, thief)
    assert thief.get("/audit/").status_code == 200  # the copy works while the sign-in lasts
    page = browser.get("/audit/").get_data(as_text=True)
    from tests.audit.helpers import csrf_from

    assert browser.post("/audit/sign-out", data={"csrf_token": csrf_from(page)}).status_code == 302
    for path in ("/audit/", "/audit/export.csv", "/audit/export.jsonl"):
        response = thief.get(path)
        assert response.status_code == 302 and "/audit/sign-in" in response.headers["Location"], path


def test_idle_sign_ins_are_removed_from_the_table(app, monkeypatch):
    from web import console, db
    from web.models import ConsoleSession

    create_user(app)
    idle = _signed_in(app)
    now = console._now()
    monkeypatch.setattr(console, "_now", lambda: now + app.permanent_session_lifetime.total_seconds() + 1)
    _signed_in(app)
    with app.app_context():
        assert db.get_session().scalar(sa.select(sa.func.count()).select_from(ConsoleSession)) == 1
    assert idle.get("/audit/").status_code == 302


def test_sign_out_ends_only_this_sign_in(app):
    create_user(app)
    laptop, phone = _signed_in(app), _signed_in(app)
    page = laptop.get("/audit/").get_data(as_text=True)
    from tests.audit.helpers import csrf_from

    laptop.post("/audit/sign-out", data={"csrf_token": csrf_from(page)})
    assert laptop.get("/audit/").status_code == 302
    assert phone.get("/audit/").status_code == 200


def test_sign_out_everywhere_by_the_user(app):
    create_user(app)
    laptop, phone = _signed_in(app), _signed_in(app)
    copy = _browser(app)
    _copy_cookie(phone, copy)
    page = laptop.get("/audit/").get_data(as_text=True)
    from tests.audit.helpers import csrf_from

    laptop.post("/audit/sign-out", data={"csrf_token": csrf_from(page), "everywhere": "1"})
    assert [b.get("/audit/").status_code for b in (laptop, phone, copy)] == [302, 302, 302]


def test_admin_signs_an_account_out_everywhere(app):
    create_user(app, "alice")
    create_user(app, "root", role="admin")
    alice_1, alice_2, admin = _signed_in(app), _signed_in(app), _signed_in(app, "root")
    page = admin.get("/audit/users").get_data(as_text=True)
    assert "alice" in page and "Sign out everywhere" in page
    from tests.audit.helpers import csrf_from
    from web import db
    from web.models import User

    with app.app_context():
        uid = db.get_session().scalar(sa.select(User.id).where(User.name == "alice"))
    response = admin.post(f"/audit/users/{uid}/sign-out", data={"csrf_token": csrf_from(page)})
    assert response.status_code == 302
    assert alice_1.get("/audit/").status_code == 302 and alice_2.get("/audit/").status_code == 302
    assert admin.get("/audit/").status_code == 200
    assert alice_1.get("/audit/users").status_code == 302  # and an auditor never sees the page
    assert sign_in(alice_1).status_code == 302 and alice_1.get("/audit/users").status_code == 403


def test_cli_signs_out_everywhere(app):
    create_user(app)
    browser = _signed_in(app)
    result = run_flask(app, "users", "sign-out-everywhere", "alice")
    assert result.exit_code == 0 and "ended 1 sign-in(s) of alice" in result.output
    assert browser.get("/audit/").status_code == 302


def test_password_change_and_deletion_end_copied_cookies(app):
    create_user(app)
    browser = _signed_in(app)
    copy = _browser(app)
    _copy_cookie(browser, copy)
    assert run_flask(app, "users", "set-password", "alice", "--password-stdin",
                     input="a new long password\n").exit_code == 0
    assert copy.get("/audit/").status_code == 302
    browser = _signed_in(app, password="a new long password")
    _copy_cookie(browser, copy)
    assert copy.get("/audit/").status_code == 200
    assert run_flask(app, "users", "delete", "alice").exit_code == 0
    create_user(app)  # a new account of the same name does not inherit the old sign-ins
    assert copy.get("/audit/").status_code == 302


def test_migration_keeps_the_log_chain(tmp_path):
    """0001 -> head on a log with entries: the new tables and columns arrive, the chain verifies as before, and an
    entry naming its regions, and one noting its front's comparison, join it."""
    from web import auditlog, db

    app = make_app(f"sqlite:///{tmp_path / 'old.db'}", key_ring(tmp_path))
    db.upgrade(app, "0001")
    record_many(app, [attempt(i) for i in range(5)])
    with db.get_engine(app).connect() as conn:
        before = conn.execute(sa.text("SELECT seq, entry_hash FROM log_entries ORDER BY seq")).all()
    db.upgrade(app)
    assert db.current_revision(app) == "0005"
    with app.app_context():
        status = auditlog.verify_chain(db.get_engine(app), auditlog._checkpoint_key(app))
    assert status.ok and status.entries == 5
    with db.get_engine(app).connect() as conn:
        assert conn.execute(sa.text("SELECT seq, entry_hash FROM log_entries ORDER BY seq")).all() == before
        assert conn.execute(sa.text("SELECT COUNT(*) FROM console_sessions")).scalar() == 0
    record_many(app, [attempt(9, outcome="altered", regions=["address"])])
    front = attempt(10)
    front.front_outcome = "differs"  # a verified back whose paper front was compared
    record_many(app, [front])
    with app.app_context():
        assert auditlog.verify_chain(db.get_engine(app), auditlog._checkpoint_key(app)).entries == 7
    with db.get_engine(app).connect() as conn:
        assert conn.execute(sa.text("SELECT front_outcome FROM log_entries ORDER BY seq")).scalars().all() == [
            None] * 6 + ["differs"]
    db.get_engine(app).dispose()


# --- one name, one counter -------------------------------------------------------------------------------------


def test_padded_names_share_the_lockout(app):
    create_user(app)
    browser = _browser(app)
    for name in ("alice", "alice ", "\u3000alice", "ａｌｉｃｅ", "ALICE"):
        assert sign_in(browser, name, "wrong password!").status_code == 200
    for name in ("alice", "alice ", "\u3000alice", " alice\t", "ａｌｉｃｅ"):
        response = sign_in(browser, name, PASSWORD)
        assert response.status_code == 429, name
        assert "Too many failed sign-ins" in response.get_data(as_text=True)
        assert int(response.headers["Retry-After"]) > 60


def test_padded_names_sign_in_as_the_account(app):
    create_user(app)
    browser = _browser(app)
    assert sign_in(browser, "\u3000alice ", PASSWORD).status_code == 302
    assert "Signed in as alice" in browser.get("/audit/").get_data(as_text=True)


def test_cli_normalises_names(app):
    result = run_flask(app, "users", "create", "\u3000alice ", "--role", "auditor", "--password-stdin",
                       input=PASSWORD + "\n")
    assert result.exit_code == 0 and "created auditor alice" in result.output
    assert run_flask(app, "users", "create", "alice", "--role", "admin", "--password-stdin",
                     input=PASSWORD + "\n").exit_code != 0  # the same account
    assert run_flask(app, "users", "set-password", "ａｌｉｃｅ", "--password-stdin",
                     input="another long password\n").exit_code == 0
    assert sign_in(_browser(app), "alice", "another long password").status_code == 302
    listed = run_flask(app, "users", "list").output
    assert listed.count("alice") == 1
    assert run_flask(app, "users", "delete", "alice ").exit_code == 0
    assert "alice" not in run_flask(app, "users", "list").output


# --- lockout per (account, source) -----------------------------------------------------------------------------


def test_a_stranger_cannot_lock_the_owner_out(app):
    create_user(app)
    stranger = _browser(app, "203.0.113.9")
    for _ in range(12):  # past the lockout and past the per-address rate limit
        sign_in(stranger, "alice", "wrong password!")
    assert sign_in(stranger, "alice", PASSWORD).status_code == 429  # the stranger's own source is locked
    owner = _browser(app, "198.51.100.7")
    assert sign_in(owner, "alice", PASSWORD).status_code == 302


def _lockouts() -> float:
    """Locked sign-ins counted in this process's metrics (``certverify_refusals_total``)."""
    from web import metrics

    return metrics.REGISTRY.get_sample_value("certverify_refusals_total",
                                             {"reason": "signin_locked", "channel": "console"}) or 0.0


def test_the_owner_is_locked_only_on_the_source_that_failed(app):
    create_user(app)
    office = _browser(app, "198.51.100.7")
    for _ in range(5):
        assert sign_in(office, "alice", "wrong password!").status_code == 200
    before = _lockouts()
    assert sign_in(office, "alice", PASSWORD).status_code == 429
    assert _lockouts() == before + 1  # seen by the operator, never a log entry (not a verification)
    assert sign_in(_browser(app, "198.51.100.8"), "alice", PASSWORD).status_code == 302
    # An IPv6 network counts as one source: another address of the same /64 is locked too.
    v6 = _browser(app, "2001:db8:1:2::10")
    for _ in range(5):
        sign_in(v6, "alice", "wrong password!")
    assert sign_in(_browser(app, "2001:db8:1:2::99"), "alice", PASSWORD).status_code == 429
    assert sign_in(_browser(app, "2001:db8:1:3::10"), "alice", PASSWORD).status_code == 302


def test_a_success_clears_its_own_source(app):
    create_user(app)
    office = _browser(app, "198.51.100.7")
    for _ in range(4):
        sign_in(office, "alice", "wrong password!")
    assert sign_in(office, "alice", PASSWORD).status_code == 302
    for _ in range(4):
        assert sign_in(_browser(app, "198.51.100.7"), "alice", "wrong password!").status_code == 200


def test_distributed_guessing_meets_the_account_bound(extra_apps):
    app = extra_apps(SIGNIN_ACCOUNT_FAILURES=6)
    create_user(app)
    for i in range(6):  # six sources, one failure each: none reaches its own lockout
        assert sign_in(_browser(app, f"192.0.2.{i + 1}"), "alice", "wrong password!").status_code == 200
    for i in range(6):  # but the account's bound now locks every source that failed on it
        assert sign_in(_browser(app, f"192.0.2.{i + 1}"), "alice", PASSWORD).status_code == 429
    assert sign_in(_browser(app, "198.51.100.7"), "alice", PASSWORD).status_code == 302  # a clean source gets in


def test_lockout_is_shared_by_app_instances(extra_apps):
    """The counters live in the database: another worker, or the same one restarted, sees the lock."""
    first = extra_apps()
    create_user(first)
    for _ in range(5):
        sign_in(_browser(first), "alice", "wrong password!")
    second = extra_apps()
    assert sign_in(_browser(second), "alice", PASSWORD).status_code == 429


def test_lockout_window_passes(app, monkeypatch):
    from web import console

    create_user(app)
    browser = _browser(app)
    for _ in range(5):
        sign_in(browser, "alice", "wrong password!")
    assert sign_in(browser, "alice", PASSWORD).status_code == 429
    now = console._now()
    monkeypatch.setattr(console, "_now", lambda: now + app.config["SIGNIN_LOCKOUT_SECONDS"] + 1)
    assert sign_in(_browser(app), "alice", PASSWORD).status_code == 302
