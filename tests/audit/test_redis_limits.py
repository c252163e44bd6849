"""The sign-in rate limit is shared by two app instances (two gunicorn processes) through a real Redis."""

from __future__ import annotations

import uuid

import pytest

from tests.audit.helpers import create_user, gunicorn_instances, subprocess_env
from tests.support import HttpSession


@pytest.mark.slow
def test_sign_in_limit_is_shared_through_redis(app, database_url, tmp_path, gunicorn, redis_url):
    create_user(app, "alice")
    env = subprocess_env(database_url, tmp_path, RATELIMIT_STORAGE_URI=redis_url,
                         CERTVERIFY_RATELIMIT_SIGNIN="6 per minute", CERTVERIFY_WORKERS="1",
                         CERTVERIFY_RATELIMIT_KEY_PREFIX="t" + uuid.uuid4().hex)
    with gunicorn_instances(gunicorn, env, tmp_path, 2) as instances:
        a, b = (HttpSession(instance.base) for instance in instances)
        # Each name stays below its own lockout (kept in the database): only the per-address limit counts here.
        statuses = [a.sign_in(f"guess{i}", "wrong password!") for i in range(3)]
        statuses += [b.sign_in(f"guess{i}", "wrong password!") for i in range(3, 6)]
        assert statuses == [200] * 6  # six attempts in all: the limit is reached across both instances
        assert b.sign_in("alice", "wrong password!") == 429
        assert a.sign_in("alice", "wrong password!") == 429
