"""API keys for banks: `flask api-keys create|list|revoke` and bearer-token authentication.

A key looks like ``cv_<prefix>_<secret>``. Only its SHA-256 is stored (the key carries 256 random bits, so a plain
hash cannot be brute-forced, and it survives a change of SECRET_KEY); the prefix identifies the row and is shown to
people. The key itself is shown once, when it is created.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

import click
import sqlalchemy as sa
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web import db
from web.models import ApiKey

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
TOKEN_RE = re.compile(r"^cv_([a-z0-9]{10})_([A-Za-z0-9_-]{43})$")
_DUMMY_HASH = hashlib.sha256(b"certverify: no such key").hexdigest()


class ApiKeyError(ValueError):
    """A key cannot be created or revoked (bad or taken name, unknown key)."""


@dataclass(frozen=True)
class KeyInfo:
    name: str
    prefix: str
    created_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_key(session: Session, name: str) -> str:
    """Store a new key named ``name`` and return the key itself (the only time it exists in clear)."""
    if not NAME_RE.match(name):
        raise ApiKeyError("a key name is 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    if session.scalar(sa.select(ApiKey.id).where(ApiKey.name == name)) is not None:
        raise ApiKeyError(f"an API key named {name!r} already exists (revoked keys keep their name)")
    prefix = "".join(secrets.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(10))
    token = f"cv_{prefix}_{secrets.token_urlsafe(32)}"
    session.add(ApiKey(name=name, prefix=f"cv_{prefix}", key_hash=_hash(token), created_at=dt.datetime.now(dt.UTC)))
    try:
        session.commit()
    except IntegrityError as exc:
        session.rollback()
        raise ApiKeyError(f"an API key named {name!r} already exists") from exc
    return token


def revoke_key(session: Session, name: str) -> KeyInfo:
    """Revoke the key ``name`` at once (idempotent)."""
    key = session.scalar(sa.select(ApiKey).where(ApiKey.name == name))
    if key is None:
        raise ApiKeyError(f"no API key is named {name!r}")
    if key.revoked_at is None:
        key.revoked_at = dt.datetime.now(dt.UTC)
        session.commit()
    return KeyInfo(key.name, key.prefix, key.created_at, key.revoked_at)


def list_keys(session: Session) -> list[KeyInfo]:
    rows = session.scalars(sa.select(ApiKey).order_by(ApiKey.name))
    return [KeyInfo(k.name, k.prefix, k.created_at, k.revoked_at) for k in rows]


def authenticate(token: str | None) -> str | None:
    """The name of the valid, unrevoked key ``token``, else None (the hash comparison is constant-time)."""
    match = TOKEN_RE.match(token or "")
    prefix = f"cv_{match.group(1)}" if match else None
    row = None
    if prefix is not None:
        with db.get_engine().connect() as conn:
            row = conn.execute(sa.select(ApiKey.name, ApiKey.key_hash, ApiKey.revoked_at)
                               .where(ApiKey.prefix == prefix)).one_or_none()
    candidate = _hash(token or "")
    same = hmac.compare_digest(candidate, row.key_hash if row is not None else _DUMMY_HASH)
    if row is None or not same or row.revoked_at is not None:
        return None
    return str(row.name)


# --- CLI -------------------------------------------------------------------------------------------------------


@click.group("api-keys", cls=AppGroup, help="API keys for the JSON API: create, list, revoke.")
def api_keys_cli() -> None:
    pass


@api_keys_cli.command("create", help="Create a key named NAME and print it once, alone on the last line.")
@click.argument("name")
def create_command(name: str) -> None:
    with Session(bind=db.get_engine()) as session:
        try:
            token = create_key(session, name)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"Created API key {name!r}. Copy it now: only its hash is kept and it cannot be shown again.",
               err=True)
    click.echo(token)


@api_keys_cli.command("list", help="List the keys: name, prefix, created, revoked.")
def list_command() -> None:
    with Session(bind=db.get_engine()) as session:
        keys = list_keys(session)
    if not keys:
        click.echo("no API keys")
        return
    width = max(len(k.name) for k in keys)
    for k in keys:
        state = f"revoked {k.revoked_at:%Y-%m-%d %H:%M}Z" if k.revoked_at else "active"
        click.echo(f"{k.name:<{width}}  {k.prefix}…  created {k.created_at:%Y-%m-%d %H:%M}Z  {state}")


@api_keys_cli.command("revoke", help="Revoke the key named NAME; requests with it are refused at once.")
@click.argument("name")
def revoke_command(name: str) -> None:
    with Session(bind=db.get_engine()) as session:
        try:
            info = revoke_key(session, name)
        except ApiKeyError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"revoked {info.name} ({info.prefix}…)")


def init_app(app: Flask) -> None:
    """Register ``flask api-keys``; keys live in the database set up by :func:`web.db.init_app`."""
    app.cli.add_command(api_keys_cli)
