"""Feature catalog and usage events.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "feature",
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("unit", sa.String(64), nullable=False),
        sa.Column("aggregation", sa.String(16), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("feature_key", name="pk_feature"),
    )
    op.create_table(
        "usage_event",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("timestamp", DateTimeUTC(), nullable=False),
        sa.Column("recorded_at", DateTimeUTC(), nullable=False),
        sa.ForeignKeyConstraint(["feature_key"], ["feature.feature_key"], name="fk_usage_event_feature_key_feature"),
        sa.PrimaryKeyConstraint("tenant_id", "idempotency_key", name="pk_usage_event"),
    )
    op.create_index(
        "ix_usage_event_tenant_id_feature_key_timestamp",
        "usage_event",
        ["tenant_id", "feature_key", "timestamp"],
    )


def downgrade() -> None:
    op.drop_index("ix_usage_event_tenant_id_feature_key_timestamp", table_name="usage_event")
    op.drop_table("usage_event")
    op.drop_table("feature")
