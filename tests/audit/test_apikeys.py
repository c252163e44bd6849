"""`flask api-keys create|list|revoke` and bearer-token authentication."""

from __future__ import annotations

import hashlib

import pytest
import sqlalchemy as sa

from tests.audit.helpers import run_flask

pytestmark = pytest.mark.every_database  # on PostgreSQL too: keys are looked up by their hash in the database


def create(app, name: str) -> str:
    result = run_flask(app, "api-keys", "create", name)
    assert result.exit_code == 0, result.output
    return result.output.strip().splitlines()[-1]


def authenticate(app, token):
    from web import apikeys

    with app.app_context():
        return apikeys.authenticate(token)


def test_create_prints_the_key_once_and_stores_only_its_hash(app):
    token = create(app, "bank-a")
    assert token.startswith("cv_") and len(token) > 50
    assert run_flask(app, "api-keys", "create", "bank-a").exit_code != 0  # names are unique
    from web import db

    with db.get_engine(app).connect() as conn:
        row = conn.execute(sa.text("SELECT * FROM api_keys")).mappings().one()
    assert token not in " ".join(str(v) for v in row.values())
    assert row["key_hash"] == hashlib.sha256(token.encode()).hexdigest()
    assert token.startswith(row["prefix"] + "_")


def test_authenticate(app):
    a, b = create(app, "bank-a"), create(app, "bank-b")
    assert authenticate(app, a) == "bank-a"
    assert authenticate(app, b) == "bank-b"
    assert authenticate(app, a[:-1] + ("A" if a[-1] != "A" else "B")) is None  # right prefix, wrong secret
    assert authenticate(app, "cv_0000000000_" + "A" * 43) is None
    assert authenticate(app, "") is None
    assert authenticate(app, None) is None
    assert authenticate(app, "not a key") is None


def test_list_and_revoke(app):
    a = create(app, "bank-a")
    create(app, "bank-b")
    listed = run_flask(app, "api-keys", "list").output
    assert "bank-a" in listed and "bank-b" in listed and "active" in listed
    assert a not in listed
    result = run_flask(app, "api-keys", "revoke", "bank-a")
    assert result.exit_code == 0 and "revoked bank-a" in result.output
    assert authenticate(app, a) is None
    listed = run_flask(app, "api-keys", "list").output
    assert "revoked" in listed.splitlines()[0]
    assert run_flask(app, "api-keys", "revoke", "nobody").exit_code == 1
    assert run_flask(app, "api-keys", "create", "bad name!").exit_code != 0


def test_api_accepts_a_key_and_refuses_a_revoked_one(app):
    """The site's API consults this module: a revoked key is refused at once (401)."""
    token = create(app, "bank-a")
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/octet-stream"}
    live = client.post("/api/v1/verifications", data=b"not an image", headers=headers)
    assert live.status_code != 401
    run_flask(app, "api-keys", "revoke", "bank-a")
    dead = client.post("/api/v1/verifications", data=b"not an image", headers=headers)
    assert dead.status_code == 401
