"""Dimensions: features declare keys, events carry values, totals group and filter by them.

- ``feature.dimensions``: the keys a feature declares, in declaration order (``[]`` for every existing one).
- ``usage_event.dimensions``: an event's values (null: none); jsonb on PostgreSQL, canonical JSON text on
  SQLite.
- ``usage_dimension_bucket``: the buckets of ``usage_bucket`` once more, per distinct set of dimension
  values, for the features that declare dimensions. No feature declares any yet, so it starts empty.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def _dimensions_type() -> sa.types.TypeEngine[str]:
    return sa.Text().with_variant(JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("feature") as batch:
        batch.add_column(sa.Column("dimensions", sa.JSON(), nullable=False, server_default="[]"))
    with op.batch_alter_table("usage_event") as batch:
        batch.add_column(sa.Column("dimensions", _dimensions_type(), nullable=True))
    op.create_table(
        "usage_dimension_bucket",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("grain_seconds", sa.Integer(), nullable=False),
        sa.Column("bucket_start", DateTimeUTC(), nullable=False),
        sa.Column("dimension_set", _dimensions_type(), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("max_quantity", sa.BigInteger(), nullable=False),
        sa.Column("latest_key", sa.String(80).with_variant(sa.String(80, collation="C"), "postgresql"), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id",
            "feature_key",
            "grain_seconds",
            "bucket_start",
            "dimension_set",
            name="pk_usage_dimension_bucket",
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_dimension_bucket")
    with op.batch_alter_table("usage_event") as batch:
        batch.drop_column("dimensions")
    with op.batch_alter_table("feature") as batch:
        batch.drop_column("dimensions")
