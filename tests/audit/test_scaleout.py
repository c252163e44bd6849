"""The scaled shape, running: nginx with deploy/nginx.conf (the file compose.yaml runs) in front of two app instances
(two gunicorn masters, two workers each) sharing PostgreSQL (the verification log) and Redis (the rate limits), all
from the OS's packages, on loopback, configured as compose.yaml configures them.

Through nginx: an API limit reached at the same total however the requests fall on the instances; concurrent
verifications spread over both, one instance killed under them (master and workers, SIGKILL) and every request still
answered; nginx's own answer once no instance is left; and a log whose chain verifies, with exactly one entry per
request an instance answered. The tests run in this order on one deployment. Without PostgreSQL, Redis or nginx they
skip locally and fail in CI, as the other service tests do.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import sqlalchemy as sa

from tests.audit.helpers import (
    ROOT,
    SECRET,
    Instance,
    assert_chain,
    create_api_key,
    gunicorn_instances,
    issued_scan,
    json_lines,
    subprocess_env,
    wait_http,
)
from tests.support import empty_postgres, free_port, http_request, key_ring, make_app, need_tool

NGINX = "/usr/sbin/nginx"
TEMPLATE = ROOT / "deploy" / "nginx.conf"
COMPOSE = ROOT / "compose.yaml"
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")  # what the nginx image's envsubst fills in (${NAME} only, here)
API = "/api/v1/verifications"
API_LIMIT = 30  # per API key and minute, for the whole site
SERIAL = "SCALE-0001"
LOAD = 24  # verifications of the kill test, from CLIENTS clients at once
CLIENTS = 6
RETRYABLE = {"overloaded", "unavailable"}  # 503 with Retry-After: the client tries again later

# What the nginx image's /etc/nginx/nginx.conf is in the container: the process, its files, the include. Everything
# under the test's directory so that nginx runs as this user (as root, in CI, its workers stay root too: the default,
# nobody, could not use the test's files).
MAIN_CONF = """\
{user}worker_processes 1;
pid {dir}/nginx.pid;
error_log {dir}/error.log notice;
events {{ worker_connections 512; }}
http {{
    client_body_temp_path {dir}/client_body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    include {dir}/certverify.conf;
}}
"""


def render(template: str, values: dict[str, str]) -> str:
    """The template with its ${NAME}s filled in, as the nginx image does at start; a name without a value fails."""
    assert set(PLACEHOLDER.findall(template)) == set(values), "deploy/nginx.conf and its values disagree"
    bare = re.findall(r"\$(\w+)", template)  # envsubst would fill in $NAME too; this does not
    assert not set(bare) & set(values), "write ${NAME} in deploy/nginx.conf, not $NAME"
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def instance_settings(database_url: str, redis_url: str) -> dict[str, str]:
    """compose.yaml's settings of an app instance (x-app), with this run's services, on plain HTTP."""
    return {"SECRET_KEY": SECRET, "DATABASE_URL": database_url, "RATELIMIT_STORAGE_URI": redis_url,
            "CERTVERIFY_PROXY_FIX_HOPS": "1", "CERTVERIFY_SESSION_COOKIE_SECURE": "false", "CERTVERIFY_WORKERS": "2"}


@contextmanager
def nginx(directory: Path, upstreams: list[str]) -> Iterator[tuple[str, Path]]:
    """The OS's nginx as this user on a free port, deploy/nginx.conf rendered for ``upstreams`` (host:port); yields
    its URL and its stdout (the access log's JSON lines)."""
    directory.mkdir()
    port = free_port()
    (directory / "certverify.conf").write_text(render(TEMPLATE.read_text(), {
        "PROXY_LISTEN": f"127.0.0.1:{port}", "PROXY_APP1": upstreams[0], "PROXY_APP2": upstreams[1]}))
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};\n" if os.geteuid() == 0 else ""
    (directory / "nginx.conf").write_text(MAIN_CONF.format(user=user, dir=directory))
    log = directory / "stdout.log"
    with log.open("wb") as out:
        process = subprocess.Popen([NGINX, "-p", str(directory), "-c", str(directory / "nginx.conf"),
                                    "-e", str(directory / "error.log"), "-g", "daemon off;"],
                                   stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", timeout=20, proc=process)
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()  # nginx's fast shutdown: the master ends its workers
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    sent: float  # time.monotonic() when the request left, and when its answer arrived
    at: float

    @property
    def request_id(self) -> str:
        return self.headers["X-Request-ID"]

    def json(self) -> dict[str, Any]:
        return json.loads(self.body)

    def is_retryable_problem(self) -> bool:
        """A 503 problem document that tells the client to come back (what a dead instance may cost)."""
        return (self.status == 503 and self.headers.get("Content-Type") == "application/problem+json"
                and self.json()["code"] in RETRYABLE and int(self.headers["Retry-After"]) >= 1)


@dataclass
class Deployment:
    url: str  # nginx
    instances: list[Instance]
    proxy_log: Path
    app: Any  # an app on the same database: API keys, the log
    scan: bytes  # a genuine back, as a scanner's JPEG
    answers: list[Answer] = field(default_factory=list)  # every answer through nginx, all tests

    def post(self, key: str, body: bytes, headers: dict[str, str] | None = None) -> Answer:
        sent = time.monotonic()
        status, got, data = http_request(self.url + API + "?image=none", body, method="POST", timeout=60, headers={
            "Authorization": f"Bearer {key}", "Content-Type": "application/octet-stream", **(headers or {})})
        answer = Answer(status, got, data, sent, time.monotonic())
        self.answers.append(answer)
        return answer

    def answered_by(self) -> dict[str, int]:
        """Request id -> the instance (0, 1) whose request log has it."""
        return {line["request_id"]: i for i, instance in enumerate(self.instances)
                for line in instance.requests() if "request_id" in line}

    def until_both_answer(self, timeout: float = 30.0) -> None:
        """Health checks through nginx until each instance has answered one: an instance slow to take its first
        requests on a loaded machine counts as failed for nginx a while, and every request goes to the other."""
        ids: set[str] = set()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            ids.add(http_request(self.url + "/healthz", timeout=10)[1]["X-Request-ID"])
            time.sleep(0.1)  # the request log lines are flushed
            by = self.answered_by()
            if {by[i] for i in ids if i in by} == {0, 1}:
                return
        pytest.fail("nginx did not pass requests to both instances")

    def proxied(self) -> list[dict[str, Any]]:
        """nginx's access log: per request the upstreams tried in turn, their statuses, the request id answered."""
        return json_lines(self.proxy_log)


@pytest.fixture(scope="module")
def deployment(tmp_path_factory: pytest.TempPathFactory, postgres_database: str, redis_url: str,
               gunicorn: str) -> Iterator[Deployment]:
    need_tool(NGINX, "nginx")
    empty_postgres(postgres_database)
    tmp = tmp_path_factory.mktemp("scaleout")
    app = make_app(postgres_database, key_ring(tmp))
    env = subprocess_env(postgres_database, tmp, **instance_settings(postgres_database, redis_url),
                         CERTVERIFY_ENV="production", CERTVERIFY_RATELIMIT_API=f"{API_LIMIT} per minute",
                         CERTVERIFY_RATELIMIT_KEY_PREFIX="scale" + uuid.uuid4().hex)
    scan = issued_scan(tmp, SERIAL)
    try:
        with gunicorn_instances(gunicorn, env, tmp, 2) as instances, \
                nginx(tmp / "nginx", [urlsplit(i.base).netloc for i in instances]) as (url, log):
            yield Deployment(url, instances, log, app, scan)
    finally:
        from web import db

        db.get_engine(app).dispose()


def test_compose_runs_the_same_proxy_and_instances():
    """compose.yaml mounts deploy/nginx.conf as the image's template and fills in exactly its names, with the app
    services; its instances are configured with the settings the instances here get."""
    import yaml  # PyYAML, of the test extras

    services = yaml.safe_load(COMPOSE.read_text())["services"]
    proxy = services["proxy"]
    assert "./deploy/nginx.conf:/etc/nginx/templates/default.conf.template:ro" in proxy["volumes"]
    env = proxy["environment"]
    filled = {name for name in env if re.search(env["NGINX_ENVSUBST_FILTER"], name)}
    assert filled == set(PLACEHOLDER.findall(TEMPLATE.read_text()))
    bind_port = re.search(r"CERTVERIFY_BIND=[\d.]+:(\d+)", (ROOT / "Dockerfile").read_text()).group(1)
    for name in ("PROXY_APP1", "PROXY_APP2"):
        service, port = env[name].split(":")
        assert service in services and port == bind_port, env[name]
    app_env = services["app1"]["environment"]
    assert services["app2"]["environment"] == app_env
    ours = instance_settings("postgresql+psycopg://u@db/certverify", "redis://redis:6379/0")
    assert set(app_env) == set(ours)
    assert app_env["CERTVERIFY_PROXY_FIX_HOPS"] == ours["CERTVERIFY_PROXY_FIX_HOPS"]
    assert app_env["DATABASE_URL"].startswith("postgresql+psycopg://")
    assert app_env["RATELIMIT_STORAGE_URI"].startswith("redis://")


@pytest.mark.slow
def test_an_api_limit_counts_once_for_both_instances(deployment):
    """API_LIMIT + 10 requests of one key at once, spread over both instances by nginx: exactly API_LIMIT pass, as
    on a single instance (per-process counters would have let all of them through)."""
    key = create_api_key(deployment.app, "limited-bank")
    deployment.until_both_answer()
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: deployment.post(key, b"not an image"), range(API_LIMIT + 10)))
    assert Counter(a.status for a in answers) == {415: API_LIMIT, 429: 10}
    for refused in (a for a in answers if a.status == 429):
        assert refused.json()["code"] == "rate_limited" and int(refused.headers["Retry-After"]) >= 1
    # Both instances took part (had each counted on its own, the one nginx gave fewer requests would have passed
    # its own up to API_LIMIT, beyond the total above). Which statuses each answered is nginx's and the clock's
    # choice: an instance slow on its first API request (a cold database or Redis connection) may find the limit
    # spent by the other by the time it counts, and answer only 429s.
    by = deployment.answered_by()
    assert {by[a.request_id] for a in answers} == {0, 1}, "one instance took every request"


@pytest.mark.slow
def test_an_instance_killed_under_load_the_other_answers(deployment):
    """CLIENTS clients verify a genuine back through nginx; once both instances have answered, one is SIGKILLed
    (master and workers) with requests in its hands. nginx passes those, and the next ones, to the other: every
    request is answered `verified` (or a retryable 503 problem, never nginx's own page), none hangs."""
    key = create_api_key(deployment.app, "load-bank")
    survivor, victim = deployment.instances
    with ThreadPoolExecutor(CLIENTS) as pool:
        futures = [pool.submit(deployment.post, key, deployment.scan) for _ in range(LOAD)]
        deadline = time.monotonic() + 60
        while not {deployment.answered_by().get(f.result().request_id) for f in futures if f.done()} >= {0, 1}:
            assert time.monotonic() < deadline, "the two instances did not both answer"
            time.sleep(0.05)
        killed_at = time.monotonic()
        victim.kill()
        answers = [f.result() for f in futures]  # each bounded by its 60 s timeout: a hang fails here

    by = deployment.answered_by()
    for answer in answers:
        if answer.status == 200:
            body = answer.json()
            assert body["outcome"] == "verified" and body["certificate"]["serial"] == SERIAL
        else:
            assert answer.is_retryable_problem(), (answer.status, answer.headers, answer.body[:300])
    verified = [a for a in answers if a.status == 200]
    assert len(verified) >= LOAD // 2, Counter(a.status for a in answers)
    assert {by[a.request_id] for a in answers if a.at < killed_at} == {0, 1}  # spread over both before the kill
    after = [a for a in verified if a.sent > killed_at]
    assert after and {by[a.request_id] for a in after} == {0}  # then the survivor alone

    # nginx saw the victim fail (its requests in progress, or refused connections) and passed those on.
    victim_addr, survivor_addr = urlsplit(victim.base).netloc, urlsplit(survivor.base).netloc
    passed_on = [line for line in deployment.proxied()
                 if line["path"] == API and line["upstream"] == f"{victim_addr}, {survivor_addr}"]
    assert passed_on and {line["status"] for line in passed_on} <= {200, 503}
    # At least one of them was in the victim's hands when it died (a refused connection fails in no time).
    assert any(float(line["upstream_seconds"].split(",")[0]) > 0 and line["status"] == 200 for line in passed_on)
    print(f"\n{len(verified)} of {LOAD} verified, {len(passed_on)} passed on to the survivor after the kill, "
          f"{len(after)} answered by it afterwards")


@pytest.mark.slow
def test_with_no_instance_left_nginx_answers_and_the_log_holds(deployment):
    """With no instance left nginx answers itself, as the apps do when they cannot take a check: 503 `unavailable`,
    the same problem document, Retry-After. The log then holds exactly one entry per request an instance answered
    (429s never enter it), plus at most one per request nginx passed on after a failed try, and its chain verifies."""
    from web.problems import WebError, problem

    key = create_api_key(deployment.app, "late-bank")
    for instance in deployment.instances:
        if instance.process.poll() is None:
            instance.kill()
    for lang, headers in (("ja", {}), ("en", {"Accept-Language": "en-GB,en;q=0.8"})):
        answer = deployment.post(key, deployment.scan, headers)
        assert answer.status == 503 and answer.headers["Content-Type"] == "application/problem+json"
        assert answer.headers["Retry-After"] == "10" and answer.headers["Cache-Control"] == "no-store"
        uuid.UUID(answer.request_id)
        assert answer.json() == problem(WebError("unavailable", retry_after=10), lang=lang,
                                        request_id=answer.request_id,
                                        type_url=f"{deployment.url}/errors/unavailable")
    status, headers, page = http_request(deployment.url + "/")  # a browser gets a page, not JSON
    assert status == 503 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert WebError("unavailable", retry_after=10).message("ja") in page.decode() and b"nginx" not in page

    from web import db

    with db.get_engine(deployment.app).connect() as conn:
        logged = Counter(conn.execute(sa.text("SELECT request_id FROM log_entries")).scalars())
    by = deployment.answered_by()
    for answer in deployment.answers:
        expected = 1 if answer.request_id in by and answer.status != 429 else 0
        assert logged[answer.request_id] == expected, (answer.status, answer.request_id)
    unanswered = set(logged) - {answer.request_id for answer in deployment.answers}
    tried_twice = [line for line in deployment.proxied() if "," in line["upstream"]]
    assert len(unanswered) <= len(tried_twice)
    assert_chain(deployment.app, sum(logged.values()))
