"""Plans, limits and entitlements.

- ``plan``: a plan and its per-feature limits (JSON), shared by every tenant like ``feature``.
- ``tenant_plan``: the plan a tenant is on, the time zone of its periods and its overrides (JSON);
  ``tenant_id`` is its key.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "plan",
        sa.Column("plan_key", sa.String(64), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("limits", sa.JSON(), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("plan_key", name="pk_plan"),
    )
    op.create_table(
        "tenant_plan",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("plan_key", sa.String(64), nullable=False),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("overrides", sa.JSON(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", name="pk_tenant_plan"),
    )


def downgrade() -> None:
    op.drop_table("tenant_plan")
    op.drop_table("plan")
