"""The first schema: API keys, users, the hash-chained log, its chain head and checkpoints.

Revision ID: 0001
Revises:
Create Date: 2025-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

BIGINT = sa.BigInteger().with_variant(sa.Integer, "sqlite")
GENESIS = "0" * 64


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("prefix", sa.String(32), nullable=False, unique=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("revoked_at", sa.DateTime(), nullable=True),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.CheckConstraint("role IN ('auditor', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "log_entries",
        sa.Column("seq", BIGINT, primary_key=True, autoincrement=False),
        sa.Column("occurred_at", sa.DateTime(), nullable=False),
        sa.Column("request_id", sa.String, nullable=False),
        sa.Column("channel", sa.String, nullable=False),
        sa.Column("client", sa.String, nullable=False),
        sa.Column("outcome", sa.String, nullable=False),
        sa.Column("error_code", sa.String, nullable=True),
        sa.Column("serial", sa.String, nullable=True),
        sa.Column("issuer", sa.String, nullable=True),
        sa.Column("key_id", sa.String, nullable=True),
        sa.Column("signature", sa.String, nullable=True),
        sa.Column("upload_sha256", sa.String, nullable=True),
        sa.Column("input_format", sa.String, nullable=True),
        sa.Column("width", sa.Integer, nullable=True),
        sa.Column("height", sa.Integer, nullable=True),
        sa.Column("dpi_estimate", sa.Float, nullable=True),
        sa.Column("quality", sa.Text, nullable=False),
        sa.Column("processing_ms", sa.Float, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    for column in ("occurred_at", "channel", "client", "outcome", "error_code", "serial"):
        op.create_index(f"ix_log_entries_{column}", "log_entries", [column])
    head = op.create_table(
        "chain_head",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", BIGINT, nullable=False),
        sa.Column("entry_hash", sa.String(64), nullable=False),
    )
    op.bulk_insert(head, [{"id": 1, "seq": 0, "entry_hash": GENESIS}])
    op.create_table(
        "checkpoints",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("seq", BIGINT, nullable=False, unique=True),
        sa.Column("entry_hash", sa.String(64), nullable=False),
        sa.Column("pruned_before", sa.DateTime(), nullable=False),
        sa.Column("pruned_count", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("key_fingerprint", sa.String(16), nullable=False),
        sa.Column("signature", sa.String(64), nullable=False),
    )


def downgrade() -> None:
    for table in ("checkpoints", "chain_head", "log_entries", "users", "api_keys"):
        op.drop_table(table)
