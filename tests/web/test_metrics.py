"""/metrics in one process (the Flask development server's shape): hidden without the token, and what a
verification and a log append add to it. gunicorn's workers summed: test_metrics_gunicorn.py; the refusals (beside
the log's rule) and the overload answers: test_api.py."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from tests.support import create_key
from tests.web.helpers import METRICS_TOKEN, log_entries, metric, metric_samples, upload
from web.config import ConfigurationError

URL = "/api/v1/verifications"
PIPELINE_STAGES = ("decode", "locate", "code", "warp", "finish")  # every restoration passes these


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def scrape(client) -> dict:
    response = client.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain; version=")
    return metric_samples(response.get_data(as_text=True))


def delta(before: dict, after: dict, name: str, **labels: str) -> float:
    return metric(after, name, **labels) - metric(before, name, **labels)


@pytest.fixture
def metered(app_factory):
    return app_factory(METRICS_TOKEN=METRICS_TOKEN)


def test_metrics_answer_only_the_configured_bearer_token(app_factory):
    """Without METRICS_TOKEN /metrics does not exist; with it, any other credentials get the same 404 as an unknown
    address (nothing tells a prober the endpoint is there)."""
    unset = app_factory().test_client()
    assert unset.get("/metrics", headers=bearer(METRICS_TOKEN)).status_code == 404
    client = app_factory(METRICS_TOKEN=METRICS_TOKEN).test_client()
    unknown = client.get("/no-such-page", headers={"Accept": "application/json"})
    for headers in ({}, bearer("x" * 48), bearer(METRICS_TOKEN[:-1]), {"Authorization": f"Basic {METRICS_TOKEN}"},
                    {"Authorization": METRICS_TOKEN}):
        refused = client.get("/metrics", headers={**headers, "Accept": "application/json"})
        assert refused.status_code == 404 and refused.json["code"] == unknown.json["code"] == "not_found"
        assert refused.json.keys() == unknown.json.keys()
    answer = client.get("/metrics", headers=bearer(METRICS_TOKEN))
    assert answer.status_code == 200 and b"# TYPE certverify_verifications_total counter" in answer.data
    assert answer.headers["Cache-Control"] == "no-store"


def test_a_guessable_metrics_token_is_refused_at_start(app_factory):
    with pytest.raises(ConfigurationError, match="METRICS_TOKEN"):
        app_factory(METRICS_TOKEN="metrics")


def test_verifications_are_counted_with_their_stages_queue_wait_and_log_append(metered, sample):
    """Three answered attempts, one per outcome and both channels: each counted once under its channel, outcome and
    code, the restored ones' stages timed, every one's queue wait, slot time and log append observed; the counts
    agree with the log's entries."""
    client = metered.test_client()
    key = create_key(metered.test_cli_runner(), "bank-a")
    before = scrape(client)
    assert client.post(URL + "?image=none", data=sample.back_png, headers=bearer(key)).status_code == 200
    assert client.post(URL, data=sample.forged_png, headers=bearer(key)).json["code"] == "altered"
    assert upload(client, sample.back_jpeg).status_code == 200
    after = scrape(client)

    assert delta(before, after, "certverify_verifications_total", channel="api", outcome="verified", code="none") == 1
    assert delta(before, after, "certverify_verifications_total", channel="api", outcome="altered",
                 code="altered") == 1
    assert delta(before, after, "certverify_verifications_total", channel="web", outcome="verified", code="none") == 1
    for stage in PIPELINE_STAGES:  # the altered back passed every stage before its content check refused it
        assert delta(before, after, "certverify_stage_seconds_count", stage=stage) == 3, stage
        assert delta(before, after, "certverify_stage_seconds_sum", stage=stage) > 0, stage
    assert delta(before, after, "certverify_stage_seconds_count", stage="refused") == 1  # its content check
    assert delta(before, after, "certverify_stage_seconds_count", stage="encode") == 1  # the page's front
    assert delta(before, after, "certverify_queue_wait_seconds_count") == 3
    assert delta(before, after, "certverify_verification_seconds_count") == 3
    assert delta(before, after, "certverify_verification_seconds_sum") > 0
    assert delta(before, after, "certverify_log_append_seconds_count") == len(log_entries(metered)) == 3
    assert metric(after, "certverify_verifications_running") == metric(after, "certverify_verifications_waiting") == 0


def test_a_log_that_cannot_take_the_entry_is_counted_as_an_append_failure(metered, sample):
    """The log without its chain head (a database not migrated or damaged): the attempt is answered 503
    unavailable, counted as an append failure, and not as an answered verification."""
    from web import db
    from web.models import ChainHead

    client = metered.test_client()
    key = create_key(metered.test_cli_runner(), "bank-a")
    with metered.app_context(), db.get_engine().begin() as conn:
        conn.execute(sa.delete(ChainHead))
    before = scrape(client)
    response = client.post(URL, data=b"", headers=bearer(key))
    assert response.status_code == 503 and response.json["code"] == "unavailable"
    after = scrape(client)
    assert delta(before, after, "certverify_log_append_failures_total") == 1
    assert delta(before, after, "certverify_log_append_seconds_count") == 0
    assert delta(before, after, "certverify_verifications_total", channel="api", outcome="failed",
                 code="empty_upload") == 0
