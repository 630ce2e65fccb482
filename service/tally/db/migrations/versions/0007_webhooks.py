"""Usage alerts and webhooks.

- ``webhook_endpoint``: a URL that receives alerts and the secret that signs them.
- ``usage_alert``: one row per threshold crossing; its key (tenant, feature, period start, threshold) makes a
  crossing exactly once.
- ``webhook_delivery``: the outbox, one row per alert and endpoint, with its attempts.

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "webhook_endpoint",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("events", sa.JSON(), nullable=False),
        sa.Column("secret", sa.String(64), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_webhook_endpoint"),
    )
    op.create_table(
        "usage_alert",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("period_start", DateTimeUTC(), nullable=False),
        sa.Column("threshold_percent", sa.Integer(), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "feature_key", "period_start", "threshold_percent", name="pk_usage_alert"),
    )
    op.create_table(
        "webhook_delivery",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("endpoint_id", sa.Uuid(), nullable=False),
        sa.Column("message_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(64), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.JSON(), nullable=False),
        sa.Column("next_attempt_at", DateTimeUTC(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name="pk_webhook_delivery"),
    )
    op.create_index("ix_webhook_delivery_status_next_attempt_at", "webhook_delivery", ["status", "next_attempt_at"])
    op.create_index("ix_webhook_delivery_endpoint_id", "webhook_delivery", ["endpoint_id"])


def downgrade() -> None:
    op.drop_table("webhook_delivery")
    op.drop_table("usage_alert")
    op.drop_table("webhook_endpoint")
