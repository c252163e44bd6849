"""The tables: API keys, console users, their sessions and sign-in failures, the hash-chained log, its chain head
and its pruning checkpoints.

The schema itself is created by the Alembic migrations under ``migrations/``; these classes must match them.
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class UTCDateTime(sa.types.TypeDecorator):
    """Timestamps stored as naive UTC (the same on SQLite and PostgreSQL), returned timezone-aware in UTC."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect) -> dt.datetime | None:  # noqa: ANN001
        if value is None:
            return None
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect) -> dt.datetime | None:  # noqa: ANN001
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    pass


class ApiKey(Base):
    """A bank's API key: only the SHA-256 of the key is stored; ``prefix`` identifies it for people."""

    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    prefix: Mapped[str] = mapped_column(sa.String(32), unique=True)
    key_hash: Mapped[str] = mapped_column(sa.String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, nullable=True)


class User(Base):
    """An auditor or admin of the console; the password is kept only as an argon2id hash."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(sa.String(64), unique=True)
    role: Mapped[str] = mapped_column(sa.String(16))  # "auditor" or "admin"
    password_hash: Mapped[str] = mapped_column(sa.String(255))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ConsoleSession(Base):
    """A console sign-in: the cookie carries a random token, the table only its SHA-256. Deleting the row ends the
    sign-in at once (sign-out, password change, account deletion, "sign out everywhere")."""

    __tablename__ = "console_sessions"

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(sa.String(64), unique=True)
    user_id: Mapped[int] = mapped_column(sa.ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)


class SigninFailure(Base):
    """Failed sign-ins to one account name (normalised) from one source address within the lockout window."""

    __tablename__ = "signin_failures"
    __table_args__ = (sa.UniqueConstraint("account", "source", name="uq_signin_failures_account_source"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account: Mapped[str] = mapped_column(sa.String(64), index=True)
    source: Mapped[str] = mapped_column(sa.String(64))
    failures: Mapped[int] = mapped_column(sa.Integer)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class LogEntry(Base):
    """One verification attempt; ``entry_hash`` covers every other column, ``prev_hash`` links the chain."""

    __tablename__ = "log_entries"

    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), primary_key=True,
                                     autoincrement=False)
    occurred_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    request_id: Mapped[str] = mapped_column(sa.String)
    channel: Mapped[str] = mapped_column(sa.String, index=True)
    client: Mapped[str] = mapped_column(sa.String, index=True)
    outcome: Mapped[str] = mapped_column(sa.String, index=True)
    error_code: Mapped[str | None] = mapped_column(sa.String, index=True)
    serial: Mapped[str | None] = mapped_column(sa.String, index=True)
    issuer: Mapped[str | None] = mapped_column(sa.String)
    key_id: Mapped[str | None] = mapped_column(sa.String)
    signature: Mapped[str | None] = mapped_column(sa.String)
    upload_sha256: Mapped[str | None] = mapped_column(sa.String)
    input_format: Mapped[str | None] = mapped_column(sa.String)
    width: Mapped[int | None] = mapped_column(sa.Integer)
    height: Mapped[int | None] = mapped_column(sa.Integer)
    dpi_estimate: Mapped[float | None] = mapped_column(sa.Float)
    quality: Mapped[str] = mapped_column(sa.Text)  # canonical JSON, hashed exactly as stored
    # the bound regions a content refusal names (JSON list of field names); hashed only when present
    regions: Mapped[str | None] = mapped_column(sa.Text, nullable=True)
    # the page of a multi-page upload (from 1); hashed only when present
    page: Mapped[int | None] = mapped_column(sa.Integer, nullable=True)
    # the paper front compared with the restored front: matches, differs or unreadable; null when none was sent,
    # and then left out of the hash
    front_outcome: Mapped[str | None] = mapped_column(sa.String, nullable=True)
    processing_ms: Mapped[float] = mapped_column(sa.Float)
    prev_hash: Mapped[str] = mapped_column(sa.String(64))
    entry_hash: Mapped[str] = mapped_column(sa.String(64))


class ChainHead(Base):
    """The single row (id 1) naming the newest entry: appends lock it, and verify detects a cut-off tail."""

    __tablename__ = "chain_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"))
    entry_hash: Mapped[str] = mapped_column(sa.String(64))


class Checkpoint(Base):
    """Written by prune: the signed sequence number and hash of the last removed entry."""

    __tablename__ = "checkpoints"

    id: Mapped[int] = mapped_column(primary_key=True)
    seq: Mapped[int] = mapped_column(sa.BigInteger().with_variant(sa.Integer, "sqlite"), unique=True)
    entry_hash: Mapped[str] = mapped_column(sa.String(64))
    pruned_before: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    pruned_count: Mapped[int] = mapped_column(sa.Integer)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    key_fingerprint: Mapped[str] = mapped_column(sa.String(16))
    signature: Mapped[str] = mapped_column(sa.String(64))
