"""A verified back's entry notes whether a paper front was compared with its restored front and the outcome
(matches, differs, unreadable): no image, no text. Null when no front was compared, and then left out of the
entry's hash, so the entries written before keep their hashes.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-12
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.add_column(sa.Column("front_outcome", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("log_entries") as batch:
        batch.drop_column("front_outcome")
