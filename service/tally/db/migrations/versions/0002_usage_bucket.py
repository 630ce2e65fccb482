"""Usage pre-aggregated in 15-minute and one-day UTC buckets, back-filled from the raw events.

Also drops the foreign key from usage_event to feature: the service checks a batch's feature keys once,
and the per-row check cost about half the insert time of a 1,000-event batch on PostgreSQL. And it
re-keys the events' time index on (tenant_id, timestamp): a totals query reads a time range of one
tenant for all its features at once, which the old (tenant_id, feature_key, timestamp) order could only
filter, not seek.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# The bucket of a timestamp per grain and dialect. SQLite keeps SQLAlchemy's text form
# 'YYYY-MM-DD HH:MM:SS.ffffff' (a backslash keeps text() from reading ':00' as a bind parameter).
BUCKET_SQL = {
    ("postgresql", 900): "date_bin('15 minutes', timestamp, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
    ("postgresql", 86400): "date_bin('1 day', timestamp, TIMESTAMPTZ '2000-01-01 00:00:00+00')",
    ("sqlite", 900): (
        "strftime('%Y-%m-%d %H:', timestamp) "
        "|| printf('%02d', (CAST(strftime('%M', timestamp) AS INTEGER) / 15) * 15) || '\\:00.000000'"
    ),
    ("sqlite", 86400): "strftime('%Y-%m-%d 00:00:00.000000', timestamp)",
}


def upgrade() -> None:
    with op.batch_alter_table("usage_event") as batch:
        batch.drop_constraint("fk_usage_event_feature_key_feature", type_="foreignkey")
        batch.drop_index("ix_usage_event_tenant_id_feature_key_timestamp")
        batch.create_index("ix_usage_event_tenant_id_timestamp", ["tenant_id", "timestamp"])
    op.create_table(
        "usage_bucket",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("grain_seconds", sa.Integer(), nullable=False),
        sa.Column("bucket_start", DateTimeUTC(), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "grain_seconds", "bucket_start", "feature_key", name="pk_usage_bucket"),
    )
    dialect = op.get_bind().dialect.name
    for grain in (900, 86400):
        bucket = BUCKET_SQL[(dialect, grain)]
        op.execute(
            "INSERT INTO usage_bucket (tenant_id, feature_key, grain_seconds, bucket_start, quantity, event_count) "  # noqa: S608 - fixed SQL
            f"SELECT tenant_id, feature_key, {grain}, {bucket}, SUM(quantity), COUNT(*) FROM usage_event "
            f"GROUP BY tenant_id, feature_key, {bucket}"
        )


def downgrade() -> None:
    op.drop_table("usage_bucket")
    with op.batch_alter_table("usage_event") as batch:
        batch.drop_index("ix_usage_event_tenant_id_timestamp")
        batch.create_index("ix_usage_event_tenant_id_feature_key_timestamp", ["tenant_id", "feature_key", "timestamp"])
        batch.create_foreign_key("fk_usage_event_feature_key_feature", "feature", ["feature_key"], ["feature_key"])
