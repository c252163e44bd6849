"""/metrics through a real gunicorn with 2 workers, as a Prometheus server scrapes it: the counts of both workers
summed in one answer, whichever worker gives it; refused without the token; refusals counted; a killed worker's
counts kept and its live gauges dropped; the metrics folder made at start and removed at exit."""

from __future__ import annotations

import json
import os
import signal
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.web import live
from tests.web.helpers import METRICS_TOKEN, metric, metric_samples

API = "/api/v1/verifications"
API_LIMIT = 20  # per minute, per key or (without a valid key) per address


@pytest.fixture(scope="module")
def server(tmp_path_factory, sample, gunicorn):
    """2 workers sharing their rate-limit counters (a SQLite file), so that the limit is exact whichever answers."""
    tmp = tmp_path_factory.mktemp("metrics-live")
    srv = live.start(gunicorn, tmp, sample.keys_dir, CERTVERIFY_METRICS_TOKEN=METRICS_TOKEN,
                     CERTVERIFY_RATELIMIT_API=f"{API_LIMIT} per minute",
                     RATELIMIT_STORAGE_URI=f"sqlite:///{tmp / 'limits.db'}")
    yield srv
    live.stop(srv)


def scrape(server) -> dict:
    status, headers, body = server.request("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert status == 200 and headers["Content-Type"].startswith("text/plain; version=")
    return metric_samples(body.decode())


def request_lines(server) -> list[dict]:
    return [json.loads(line) for line in server.log.read_text().splitlines() if line.startswith('{"time"')]


def verify_pair(server, sample) -> list[tuple[int, str]]:
    """Two verifications at once (so that the idle worker takes the second): each one's status and request id."""
    def one(_: int) -> tuple[int, str]:
        status, headers, _body = server.request(API + "?image=none", data=sample.back_jpeg, headers={
            "Authorization": f"Bearer {server.api_key}", "Content-Type": "image/jpeg"}, method="POST")
        return status, headers["X-Request-ID"]

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(one, range(2)))


def test_the_counts_of_both_workers_are_summed(server, sample):
    """Verifications until both workers have answered some (their pids in the request log): /metrics counts every
    one of them, as the log holds them; the workers gauge says 2."""
    answered: list[tuple[int, str]] = []
    pids: set[int] = set()
    while len(pids) < 2 or len(answered) < 6:
        assert len(answered) < API_LIMIT - 2, f"every verification went to one worker: {pids}"
        answered += verify_pair(server, sample)
        time.sleep(0.3)  # the request log lines are flushed
        ids = {rid for _, rid in answered}
        pids = {line["pid"] for line in request_lines(server) if line.get("request_id") in ids}
    assert [status for status, _ in answered] == [200] * len(answered)

    samples = scrape(server)
    assert metric(samples, "certverify_verifications_total", channel="api", outcome="verified",
                  code="none") == len(answered)
    assert metric(samples, "certverify_stage_seconds_count", stage="decode") == len(answered)
    assert metric(samples, "certverify_queue_wait_seconds_count") == len(answered)
    assert metric(samples, "certverify_log_append_seconds_count") == len(answered)
    assert server.log_size() == len(answered)
    assert metric(samples, "certverify_workers") == 2
    assert metric(samples, "certverify_verifications_running") == 0
    # whichever worker answers the scrape, the sums are the same
    assert all(metric(scrape(server), "certverify_verifications_total", channel="api", outcome="verified",
                      code="none") == len(answered) for _ in range(4))


def test_metrics_are_refused_without_the_token(server):
    for headers in ({}, {"Authorization": "Bearer not-the-token-but-long-enough-to-look-like-one"}):
        status, _, body = server.request("/metrics", headers={**headers, "Accept": "application/json"})
        assert status == 404 and json.loads(body)["code"] == "not_found"


def test_refusals_are_counted_over_the_workers(server):
    """Requests without a key from one address: refused 401 until the address's limit is reached, then 429; both
    counted, none a log entry."""
    before = scrape(server)
    entries = server.log_size()
    statuses = [server.request(API, data=b"x", method="POST")[0] for _ in range(API_LIMIT + 2)]
    assert statuses == [401] * API_LIMIT + [429] * 2
    after = scrape(server)
    for reason, count in (("unauthorized", API_LIMIT), ("rate_limited", 2)):
        assert (metric(after, "certverify_refusals_total", reason=reason, channel="api")
                - metric(before, "certverify_refusals_total", reason=reason, channel="api")) == count, reason
    assert server.log_size() == entries


def test_a_killed_worker_keeps_its_counts_and_leaves_the_live_gauges(server, sample):
    """A worker killed outright: gunicorn's child_exit hook takes it out of the live gauges (the workers gauge stays
    2 with its replacement, not 3), and what it counted stays in the sums."""
    pair = verify_pair(server, sample)
    assert [status for status, _ in pair] == [200, 200]
    time.sleep(0.3)  # the request log lines are flushed
    verified = metric(scrape(server), "certverify_verifications_total", channel="api", outcome="verified",
                      code="none")
    victim = next(line["pid"] for line in request_lines(server)  # a worker that verified one of them
                  if line.get("request_id") in {rid for _, rid in pair} and line["pid"] in children(server))
    os.kill(victim, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (len(children(server)) == 2 and victim not in children(server)):
        time.sleep(0.2)
    assert len(children(server)) == 2 and victim not in children(server), "no replacement worker"
    for _ in range(100):  # until the replacement has started its app and answers
        if server.request("/healthz")[0] == 200 and metric(scrape(server), "certverify_workers") >= 2:
            break
        time.sleep(0.2)
    samples = scrape(server)
    assert metric(samples, "certverify_workers") == 2
    assert not list(metrics_dir(server).glob(f"gauge_livesum_{victim}.db"))
    assert list(metrics_dir(server).glob(f"counter_{victim}.db"))  # its counts stay, and are summed:
    assert metric(samples, "certverify_verifications_total", channel="api", outcome="verified",
                  code="none") == verified


def children(server) -> set[int]:
    """The master's live worker processes."""
    pid = server.process.pid
    text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    return {int(child) for child in text.split()}


def metrics_dir(server) -> Path:
    """The folder gunicorn.conf.py makes for a master (none named in the environment): one per master's pid."""
    base = Path("/dev/shm") if Path("/dev/shm").is_dir() else Path(tempfile.gettempdir())
    return base / f"certverify-metrics-{server.process.pid}"


def test_stopping_the_master_removes_its_metrics_folder(server):
    """Last in this file: it stops the module's server."""
    folder = metrics_dir(server)
    assert folder.is_dir() and list(folder.glob("*.db"))
    live.stop(server)
    assert not folder.exists()
