"""Console accounts: auditors read the log, admins also manage API keys. `flask users create|list|delete`.

Passwords are kept only as argon2id hashes (argon2-cffi's defaults, rehashed on sign-in when they change).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import sys

import click
import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from web import db
from web.models import User

ROLES = ("auditor", "admin")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("certverify: timing equaliser for unknown accounts")


class UserError(ValueError):
    """An account cannot be created or changed (bad name, taken name, weak password)."""


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def create_user(session: Session, name: str, role: str, password: str) -> User:
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
    user = session.scalar(sa.select(User).where(User.name == name)) if name else None
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


def session_stamp(user: User) -> str:
    """Changes when the password changes, so that existing sign-ins of the account end."""
    return hashlib.sha256(user.password_hash.encode()).hexdigest()[:16]


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
            create_user(session, name, role, password)
        except UserError as exc:
            raise click.ClickException(str(exc)) from exc
    click.echo(f"created {role} {name}")


@users_cli.command("set-password", help="Set a new password for NAME; its current sign-ins end.")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from the first line of standard input.")
def set_password_command(name: str, password_stdin: bool) -> None:
    password = _read_password(password_stdin)
    if len(password) < MIN_PASSWORD:
        raise click.ClickException(f"the password must be at least {MIN_PASSWORD} characters long")
    with Session(bind=db.get_engine()) as session:
        user = session.scalar(sa.select(User).where(User.name == name))
        if user is None:
            raise click.ClickException(f"no user is named {name!r}")
        user.password_hash = hash_password(password)
        session.commit()
    click.echo(f"new password set for {name}")


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return click.prompt("Password", hide_input=True, confirmation_prompt=True)


@users_cli.command("list", help="List the accounts and their roles.")
def list_command() -> None:
    with Session(bind=db.get_engine()) as session:
        for user in session.scalars(sa.select(User).order_by(User.name)):
            click.echo(f"{user.name}  {user.role}  created {user.created_at:%Y-%m-%d %H:%M}Z")


@users_cli.command("delete", help="Delete the account NAME; its sign-ins end at their next request.")
@click.argument("name")
def delete_command(name: str) -> None:
    with Session(bind=db.get_engine()) as session:
        user = session.scalar(sa.select(User).where(User.name == name))
        if user is None:
            raise click.ClickException(f"no user is named {name!r}")
        session.delete(user)
        session.commit()
    click.echo(f"deleted {name}")


def init_app(app: Flask) -> None:
    app.cli.add_command(users_cli)
