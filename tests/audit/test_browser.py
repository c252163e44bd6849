"""The console in real headless Chromium: sign in, read the flags, filter, open an entry, export, manage keys.

Screenshots go to test-artifacts/. Skipped only when Chromium is missing outside CI.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from tests.audit.helpers import PASSWORD, ThreadedServer, attempt, create_user, record_many
from tests.support import ARTIFACTS, accessibility_violations


@pytest.fixture
def server(app):
    """The console served to the browser; requested before ``page``, so it stops only after the page has closed
    (a request still in flight would otherwise be reset and fail the page)."""
    with ThreadedServer(app) as server:
        yield server


def shot(page, name: str, param: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"audit-{name}-{param}.png"), full_page=True)


def plant(app) -> None:
    """Ordinary traffic over a week, and a burst of failing checks of one serial an hour ago."""
    now = dt.datetime.now(dt.UTC).replace(microsecond=0)
    normal = []
    for i in range(60):
        when = now - dt.timedelta(days=i % 7, hours=i % 5, minutes=i)
        outcome = "verified" if i % 6 else "failed"
        normal.append(attempt(i, occurred_at=when, outcome=outcome, client=f"bank-{i % 3}",
                              error_code=None if outcome == "verified" else "markers_not_found",
                              channel="api" if i % 2 else "web"))
    normal.append(attempt(98, occurred_at=now - dt.timedelta(days=2), outcome="altered", serial="S-ALTERED",
                          error_code="altered"))
    burst_start = now - dt.timedelta(hours=1)
    burst = [attempt(200 + i, serial="S-PROBED", client=f"ip:{i % 5:016x}", outcome="failed",
                     error_code="scramble_mismatch", occurred_at=burst_start + dt.timedelta(seconds=2 * i),
                     channel="web") for i in range(25)]
    record_many(app, sorted(normal + burst, key=lambda e: e.occurred_at))


@pytest.mark.slow
def test_console_in_chromium(app, server, page, request):
    param = request.node.callspec.params["database_url"]
    create_user(app, "alice", "auditor")
    plant(app)
    page.goto(server.url + "/audit/?lang=en")
    assert "/audit/sign-in" in page.url
    shot(page, "sign-in", param)
    assert accessibility_violations(page) == []
    page.fill("#name", "alice")
    page.fill("#password", "not the password")
    page.click("#sign-in")
    assert page.locator("#sign-in-error").is_visible()
    assert accessibility_violations(page) == []
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/audit/**")
    assert page.locator("#chain-banner.chain-ok").is_visible()

    # The planted burst is found from the flags alone, and its link lists exactly those attempts.
    burst = page.locator('.flag[data-kind="burst_serial"]')
    assert burst.count() == 1 and "S-PROBED" in burst.inner_text()
    assert page.locator('.flag[data-kind="altered"]').count() == 1
    assert page.locator("svg.audit-chart rect").count() > 7
    shot(page, "list", param)
    assert accessibility_violations(page) == []
    burst.locator("a").click()
    page.wait_for_load_state()
    assert "serial=S-PROBED" in page.url
    assert page.locator("#entries tbody tr").count() == 25
    assert "25 entries" in page.locator("#entry-count").inner_text()

    # Filters by form: failed checks of one client on the web page.
    page.goto(server.url + "/audit/")
    page.select_option("#f-outcome", "failed")
    page.select_option("#f-channel", "web")
    page.fill("#f-serial", "S-PROBED")
    page.click("#apply-filters")
    page.wait_for_load_state()
    rows = page.locator("#entries tbody tr")
    assert rows.count() == 25
    assert all("failed" in rows.nth(i).get_attribute("class") for i in range(rows.count()))
    shot(page, "filtered", param)
    assert accessibility_violations(page) == []

    # Export of the filtered entries as a real download.
    with page.expect_download() as info:
        page.click("#export-csv")
    path = info.value.path()
    lines = Path(path).read_text(encoding="utf-8").strip().splitlines()
    assert len(lines) == 26 and all("S-PROBED" in line for line in lines[1:])
    with page.expect_download() as info:
        page.click("#export-jsonl")
    assert len(Path(info.value.path()).read_text(encoding="utf-8").strip().splitlines()) == 25

    # One entry.
    rows.first.locator("a").click()
    page.wait_for_load_state()
    assert "/audit/entries/" in page.url and "S-PROBED" in page.locator("main").inner_text()
    shot(page, "entry", param)
    assert accessibility_violations(page) == []

    # The overview, the chart's numbers as a table, JST, sorting, and a row opened anywhere on it.
    page.goto(server.url + "/audit/?lang=en")
    assert page.locator("#overview-total td").first.inner_text() == "86"
    page.click("#chart-numbers summary")
    assert page.locator("#chart-numbers tbody tr").count() >= 7
    page.click("#zone-jst")
    page.wait_for_selector("#zone-utc")
    assert "Time (JST)" in page.locator("#entries thead").inner_text()
    page.click("#sort-outcome")
    page.wait_for_load_state()
    assert page.locator("#entries tbody tr").first.get_attribute("class").startswith("outcome-verified")
    assert page.locator("#sort-outcome").locator("xpath=..").get_attribute("aria-sort") == "descending"
    shot(page, "overview-jst", param)
    assert accessibility_violations(page) == []
    serial = page.locator("#entries tbody tr").nth(1).locator("td").nth(4)
    expected = serial.inner_text()
    serial.scroll_into_view_if_needed()
    box = serial.bounding_box()
    page.mouse.click(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)  # on the serial, not the link
    page.wait_for_url("**/audit/entries/**")
    assert expected in page.locator("main").inner_text()

    # Japanese, then sign out.
    page.goto(server.url + "/audit/?lang=ja")
    shot(page, "list-ja", param)
    assert accessibility_violations(page) == []
    page.click("#sign-out")
    page.wait_for_url("**/audit/sign-in**")
    page.goto(server.url + "/audit/")
    assert "/audit/sign-in" in page.url


def test_admin_keys_in_chromium(app, server, page, request):
    param = request.node.callspec.params["database_url"]
    create_user(app, "root", "admin")
    page.goto(server.url + "/audit/sign-in?lang=en")
    page.fill("#name", "root")
    page.fill("#password", PASSWORD)
    page.click("#sign-in")
    page.wait_for_url("**/audit/")
    page.click("text=API keys")
    page.fill("#key-name", "bank-of-test")
    page.click("#create-key")
    key = page.locator("#new-key").inner_text()
    assert key.startswith("cv_")
    shot(page, "keys", param)
    assert accessibility_violations(page) == []
    from web import apikeys

    with app.app_context():
        assert apikeys.authenticate(key) == "bank-of-test"
    page.click('button[data-key="bank-of-test"]')
    page.wait_for_load_state()
    assert "revoked" in page.locator("#keys").inner_text()
    with app.app_context():
        assert apikeys.authenticate(key) is None
