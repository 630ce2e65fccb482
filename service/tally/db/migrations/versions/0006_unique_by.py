"""Distinct counts: a ``unique_count`` feature names the dimension whose distinct values it counts.

No new usage table: ``usage_dimension_bucket`` already keeps one row per distinct set of dimension values
per bucket, the counted value among them, so a distinct count reads as many rows as there are distinct sets
in the window, not as many as there are events.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feature") as batch:
        batch.add_column(sa.Column("unique_by", sa.String(32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("feature") as batch:
        batch.drop_column("unique_by")
