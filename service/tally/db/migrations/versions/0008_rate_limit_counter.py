"""Rate limit counters shared by every process and host: ``rate_limit_counter``, one row per (tenant, quota).

UNLOGGED on PostgreSQL: a counter lives a window (a minute by default), so it is not worth a WAL record per
request; after a crash the table is empty and every tenant's window starts over. Unlogged tables are not
replicated either, which is right: a standby serves no rate limit.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    unlogged = ["UNLOGGED"] if op.get_bind().dialect.name == "postgresql" else []
    op.create_table(
        "rate_limit_counter",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("quota", sa.String(16), nullable=False),
        sa.Column("window_index", sa.BigInteger(), nullable=False),
        sa.Column("used", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "quota", name="pk_rate_limit_counter"),
        prefixes=unlogged,
    )


def downgrade() -> None:
    op.drop_table("rate_limit_counter")
