"""Each page of a multi-page upload (a scanned stack) is its own log entry, all under the upload's request id: the
entry names its page (from 1). Null for a single picture, and then left out of the entry's hash, so the entries
written before keep their hashes.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("page", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("page")
