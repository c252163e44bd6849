"""The sign-in rate limit is shared by two app instances (two gunicorn processes) through a real Redis."""

from __future__ import annotations

import http.cookiejar
import urllib.error
import urllib.parse
import urllib.request
import uuid

from tests.audit.helpers import create_user, csrf_from, gunicorn_instances, subprocess_env


class Browser:
    """A cookie-keeping HTTP client for one instance."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))

    def sign_in(self, name: str, password: str) -> int:
        with self.opener.open(self.base + "/audit/sign-in", timeout=10) as page:
            token = csrf_from(page.read().decode())
        data = urllib.parse.urlencode({"name": name, "password": password, "csrf_token": token}).encode()
        try:
            with self.opener.open(self.base + "/audit/sign-in", data=data, timeout=10) as response:
                return response.status
        except urllib.error.HTTPError as exc:
            exc.close()  # its body is an open response: unclosed, it warns later
            return exc.code


def test_sign_in_limit_is_shared_through_redis(app, database_url, tmp_path, gunicorn, redis_url):
    create_user(app, "alice")
    env = subprocess_env(database_url, tmp_path, RATELIMIT_STORAGE_URI=redis_url,
                         CERTVERIFY_RATELIMIT_SIGNIN="6 per minute", CERTVERIFY_WORKERS="1",
                         CERTVERIFY_RATELIMIT_KEY_PREFIX="t" + uuid.uuid4().hex)
    with gunicorn_instances(gunicorn, env, tmp_path, 2) as instances:
        a, b = (Browser(instance.base) for instance in instances)
        # Each name stays below its own lockout (kept in the database): only the per-address limit counts here.
        statuses = [a.sign_in(f"guess{i}", "wrong password!") for i in range(3)]
        statuses += [b.sign_in(f"guess{i}", "wrong password!") for i in range(3, 6)]
        assert statuses == [200] * 6  # six attempts in all: the limit is reached across both instances
        assert b.sign_in("alice", "wrong password!") == 429
        assert a.sign_in("alice", "wrong password!") == 429
