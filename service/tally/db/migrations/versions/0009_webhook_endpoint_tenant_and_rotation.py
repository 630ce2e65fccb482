"""Webhook endpoints per tenant and secret rotation.

- ``webhook_endpoint.tenant_id``: the one tenant whose alerts an endpoint receives; null (every existing
  endpoint) keeps it platform-wide.
- ``webhook_endpoint.previous_secret`` and ``previous_secret_expires_at``: after a rotation the old secret
  signs deliveries too, until it expires.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("webhook_endpoint", sa.Column("tenant_id", sa.Uuid(), nullable=True))
    op.add_column("webhook_endpoint", sa.Column("previous_secret", sa.String(64), nullable=True))
    op.add_column("webhook_endpoint", sa.Column("previous_secret_expires_at", DateTimeUTC(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("webhook_endpoint") as batch:
        batch.drop_column("previous_secret_expires_at")
        batch.drop_column("previous_secret")
        batch.drop_column("tenant_id")
