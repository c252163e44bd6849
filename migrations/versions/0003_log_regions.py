"""The log names the bound regions of a content refusal (``altered``, ``content_unconfirmed``): the issuer's field
names, never their text. Null for every other entry, and then left out of the entry's hash, so the entries
written before keep their hashes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("regions", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("regions")
