"""Console accounts: auditors read the log, admins also manage API keys.
`flask users create|set-password|list|delete|sign-out-everywhere`.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, rehashed on sign-in when they change).
Account names are normalised once (Unicode NFKC, surrounding white space trimmed) wherever one is read or stored,
so ``"alice "`` and ``"\u3000alice"`` are ``alice`` everywhere, lockout counters included.

Sign-ins are rows of ``console_sessions``: the browser's cookie holds a random token, the table its SHA-256.
Deleting a user's rows ends their sign-ins at once.

Failed sign-ins are counted per (account, source address) in ``signin_failures``, so that a stranger who knows a
name cannot lock its owner out from another network; see docs/auditlog.md ("Sign-in lockout").
"""

from __future__ import annotations

import datetime as dt
import hashlib
import ipaddress
import re
import secrets
import sys
import unicodedata
from dataclasses import dataclass
from typing import Any, cast

import click
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from web import db
from web.models import ConsoleSession, SigninFailure, User

ROLES = ("auditor", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("certverify: timing equaliser for unknown accounts")


class UserError(ValueError):
    """An account cannot be created or changed (bad name, taken name, weak password)."""


def normalise_name(name: str) -> str:
    """The one form of an account name: NFKC (full-width and compatibility forms folded), white space trimmed."""
    return unicodedata.normalize("NFKC", name or "").strip()


def lockout_account(name: str) -> str:
    """The key of the lockout counters: the normalised name, case-folded, at most 64 characters."""
    return normalise_name(name).casefold()[:64]


def find_user(session: Session, name: str) -> User | None:
    name = normalise_name(name)
    return session.scalar(sa.select(User).where(User.name == name)) if name else None


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, name: str, role: str, password: str) -> User:
    name = normalise_name(name)
    if not NAME_RE.match(name):
        raise UserError("a user name is 1-64 letters, digits, '.', '_', '@' or '-'")
    if role not in ROLES:
        raise UserError(f"the role is one of {', '.join(ROLES)}")
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters long")
    if session.scalar(sa.select(User.id).where(User.name == name)) is not None:
        raise UserError(f"a user named {name!r} already exists")
    user = User(name=name, role=role, password_hash=hash_password(password), created_at=dt.datetime.now(dt.UTC))
    session.add(user)
    session.commit()
    return user


def authenticate(session: Session, name: str, password: str) -> User | None:
    """The user ``name`` if ``password`` is theirs; an unknown name costs the same time as a wrong password."""
    user = find_user(session, name)
    try:
        _hasher.verify(user.password_hash if user else _DUMMY, password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
        session.commit()
    return user


def set_password(session: Session, user: User, password: str) -> None:
    """A new password for ``user``; every sign-in of the account ends."""
    if len(password) < MIN_PASSWORD:
        raise UserError(f"the password must be at least {MIN_PASSWORD} characters long")
    user.password_hash = hash_password(password)
    session.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    session.commit()


def delete_user(session: Session, user: User) -> None:
    session.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == user.id))
    session.delete(user)
    session.commit()


# --- sessions --------------------------------------------------------------------------------------------------


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user: User, now: dt.datetime, idle: dt.timedelta) -> str:
    """A new sign-in of ``user``: its token (for the cookie); only the token's hash is stored. Sign-ins idle
    longer than ``idle`` (of any account) are removed on the way."""
    token = secrets.token_urlsafe(32)
    session.execute(sa.delete(ConsoleSession).where(ConsoleSession.last_seen_at < now - idle))
    session.add(ConsoleSession(token_hash=_token_hash(token), user_id=user.id, created_at=now, last_seen_at=now))
    session.commit()
    return token


def resume_session(session: Session, token: str, now: dt.datetime, idle: dt.timedelta) -> tuple[User | None, bool]:
    """The user of the sign-in ``token`` if it still exists and was used within ``idle``; the bool says whether
    it existed but lapsed (the console then says so). A lapsed sign-in is deleted; a live one is renewed."""
    if not token:
        return None, False
    row = session.scalar(sa.select(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))
    if row is None:
        return None, False
    if now - row.last_seen_at > idle:
        session.delete(row)
        session.commit()
        return None, True
    user = session.get(User, row.user_id)
    if user is None:
        return None, False
    if now - row.last_seen_at > dt.timedelta(seconds=15):  # renew without a write on every single request
        row.last_seen_at = now
        session.commit()
    return user, False


def end_session(session: Session, token: str) -> None:
    if token:
        session.execute(sa.delete(ConsoleSession).where(ConsoleSession.token_hash == _token_hash(token)))
        session.commit()


def end_all_sessions(session: Session, user: User) -> int:
    """Sign ``user`` out everywhere; the number of sign-ins ended."""
    # cast: a DELETE's result is a CursorResult (with a rowcount); Session.execute is typed as the base Result
    result = cast(CursorResult[Any],
                  session.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == user.id)))
    ended = result.rowcount
    session.commit()
    return ended or 0


# --- lockout ---------------------------------------------------------------------------------------------------


def source_of(address: str) -> str:
    """The lockout's source: the IPv4 address, or the /64 of an IPv6 address (one site's or one host's)."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return (address or "unknown")[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class LockoutPolicy:
    per_source: int  # failures of one (account, source) that lock the pair
    per_account: int  # failures of the account from all sources that lock every source that has failed
    window: dt.timedelta


def locked_until(session: Session, account: str, source: str, now: dt.datetime,
                 policy: LockoutPolicy) -> dt.datetime | None:
    """When the (account, source) lock ends, or None if this source may try.

    A source is locked once it has failed ``per_source`` times on the account within the window, or once the
    account has failed ``per_account`` times from all sources and this source is one of them. A source with no
    recent failure on the account is never locked: its owner, with the right password, still gets in.
    """
    since = now - policy.window
    rows = session.execute(sa.select(SigninFailure.source, SigninFailure.failures, SigninFailure.last_at)
                           .where(SigninFailure.account == account, SigninFailure.last_at > since)).all()
    mine = next((r for r in rows if r.source == source), None)
    if mine is None:
        return None
    if mine.failures >= policy.per_source or sum(r.failures for r in rows) >= policy.per_account:
        return mine.last_at + policy.window
    return None


def record_failure(session: Session, account: str, source: str, now: dt.datetime, policy: LockoutPolicy) -> None:
    """Count one failed sign-in of (account, source); a count older than the window starts again."""
    table = cast(sa.Table, SigninFailure.__table__)  # a mapped class's table, typed as any FromClause
    fresh = sa.case((table.c.last_at <= now - policy.window, 1), else_=table.c.failures + 1)
    for _attempt in range(3):
        updated = cast(CursorResult[Any], session.execute(  # cast: as in end_all_sessions
            sa.update(table).where(table.c.account == account, table.c.source == source)
            .values(failures=fresh, last_at=now)))
        done = updated.rowcount
        if done:
            break
        try:
            session.execute(sa.insert(table).values(account=account, source=source, failures=1, first_at=now,
                                                    last_at=now))
            break
        except IntegrityError:  # another worker counted the first failure at the same moment
            session.rollback()
    # Old counters are kept no longer than the window needs them.
    session.execute(sa.delete(table).where(table.c.last_at <= now - policy.window))
    session.commit()


def clear_failures(session: Session, account: str, source: str) -> None:
    """A successful sign-in forgets the failures of its own source (not those of others)."""
    session.execute(sa.delete(SigninFailure).where(SigninFailure.account == account, SigninFailure.source == source))
    session.commit()


# --- CLI -------------------------------------------------------------------------------------------------------


@click.group("users", cls=AppGroup, help="Console accounts: auditors and admins.")
def users_cli() -> None:
    pass


@users_cli.command("create", help="Create the account NAME; the password is prompted (or read from stdin).")
@click.argument("name")
@click.option("--role", type=click.Choice(ROLES), required=True)
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def create_command(name: str, role: str, password_stdin: bool) -> None:
    password = _read_password(password_stdin)
    with Session(bind=db.get_engine()) as session:
        try:
            name = create_user(session, name, role, password).name
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {name}")


@users_cli.command("set-password", help="Set a new password for NAME; its current sign-ins end.")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def set_password_command(name: str, password_stdin: bool) -> None:
    password = _read_password(password_stdin)
    with Session(bind=db.get_engine()) as session:
        user = _existing(session, name)
        try:
            set_password(session, user, password)
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
        name = user.name
    click.echo(f"new password set for {name}; its sign-ins have ended")


def _existing(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise click.ClickException(f"no user is named {normalise_name(name)!r}")
    return user


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("list", help="List the accounts and their roles.")
def list_command() -> None:
    with Session(bind=db.get_engine()) as session:
        for user in session.scalars(sa.select(User).order_by(User.name)):
            click.echo(f"{user.name}  {user.role}  created {user.created_at:%Y-%m-%d %H:%M}Z")


@users_cli.command("delete", help="Delete the account NAME; its sign-ins end at once.")
@click.argument("name")
def delete_command(name: str) -> None:
    with Session(bind=db.get_engine()) as session:
        user = _existing(session, name)
        name = user.name
        delete_user(session, user)
    click.echo(f"deleted {name}")


@users_cli.command("sign-out-everywhere", help="End every console sign-in of the account NAME at once.")
@click.argument("name")
def sign_out_everywhere_command(name: str) -> None:
    with Session(bind=db.get_engine()) as session:
        user = _existing(session, name)
        ended = end_all_sessions(session, user)
        name = user.name
    click.echo(f"ended {ended} sign-in(s) of {name}")


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
