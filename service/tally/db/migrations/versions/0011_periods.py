"""Final numbers: a grace period on plans and plan assignments, and ``billing_period``, one row per closed
calendar month of a tenant with the totals recorded at its close.

No existing plan or tenant has a grace period (its periods stay open, as before), and no period is closed yet, so
the table starts empty. ``usage_event`` already keeps ``recorded_at`` and ``voided_at``: totals as they were known
at an instant need nothing more.

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("plan", "tenant_plan"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("grace_period", sa.String(16), nullable=True))
    op.create_table(
        "billing_period",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("period_start", DateTimeUTC(), nullable=False),
        sa.Column("period_end", DateTimeUTC(), nullable=False),
        sa.Column("closed_at", DateTimeUTC(), nullable=False),
        sa.Column("totals", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "period_start", name="pk_billing_period"),
    )


def downgrade() -> None:
    op.drop_table("billing_period")
    for table in ("tenant_plan", "plan"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("grace_period")
