"""Pre-aggregated usage buckets, more aggregations, voids.

- ``usage_bucket``: per tenant, grain (15 minutes, one hour, one day, all aligned to UTC midnight),
  bucket and feature: the sum and count of quantities, the largest quantity, and the latest key.
- ``usage_event`` gains its position in the request (``batch_index``), a ``latest_key`` that sorts like
  (timestamp, recorded_at, batch_index) with the quantity at its end (so MAX() finds the latest event),
  and the audit record of a void (when, by whom, why).
- The foreign key from usage_event to feature is dropped: the service checks a batch's feature keys once,
  and the per-row check cost about half the insert time of a 1,000-event batch on PostgreSQL.
- The events' time index is re-keyed on (tenant_id, timestamp): a totals window reads a time range of one
  tenant for all its features at once, which (tenant_id, feature_key, timestamp) could filter, not seek.

Existing events are back-filled in Python.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def _key_type() -> sa.types.TypeEngine[str]:
    # Compared with MAX(): byte order on PostgreSQL whatever the database's locale (SQLite's is binary).
    return sa.String(80).with_variant(sa.String(80, collation="C"), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("usage_event") as batch:
        batch.drop_constraint("fk_usage_event_feature_key_feature", type_="foreignkey")
        batch.drop_index("ix_usage_event_tenant_id_feature_key_timestamp")
        batch.create_index("ix_usage_event_tenant_id_timestamp", ["tenant_id", "timestamp"])
        batch.add_column(sa.Column("batch_index", sa.Integer(), nullable=False, server_default="0"))
        batch.add_column(sa.Column("latest_key", _key_type(), nullable=False, server_default=""))
        batch.add_column(sa.Column("voided_at", DateTimeUTC(), nullable=True))
        batch.add_column(sa.Column("voided_by", sa.String(255), nullable=True))
        batch.add_column(sa.Column("void_reason", sa.Text(), nullable=True))
    op.create_table(
        "usage_bucket",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("grain_seconds", sa.Integer(), nullable=False),
        sa.Column("bucket_start", DateTimeUTC(), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("event_count", sa.BigInteger(), nullable=False),
        sa.Column("max_quantity", sa.BigInteger(), nullable=False),
        sa.Column("latest_key", _key_type(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "grain_seconds", "bucket_start", "feature_key", name="pk_usage_bucket"),
    )
    _backfill()


def _digits(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}{at.month:02d}{at.day:02d}{at.hour:02d}{at.minute:02d}{at.second:02d}{at.microsecond:06d}"


def _backfill() -> None:
    """Latest keys and buckets of the existing events. Written out here rather than with the service's code: a
    migration must keep doing what it did when it was written, while that code moves on (it keeps more state
    per bucket today, see 0004)."""
    bind = op.get_bind()
    events = sa.table(
        "usage_event",
        *(sa.column(name) for name in ("tenant_id", "idempotency_key", "feature_key", "quantity")),
        sa.column("timestamp", DateTimeUTC()),
        sa.column("recorded_at", DateTimeUTC()),
        sa.column("latest_key"),
    )
    buckets = sa.table(
        "usage_bucket",
        *(sa.column(name) for name in ("tenant_id", "grain_seconds", "feature_key", "quantity", "event_count")),
        sa.column("bucket_start", DateTimeUTC()),
        sa.column("max_quantity"),
        sa.column("latest_key"),
    )
    epoch = datetime(2000, 1, 1, tzinfo=UTC)
    cells: dict[tuple[object, int, datetime, str], list[Any]] = {}  # -> [sum, count, max, latest key]
    for row in bind.execute(sa.select(events)).all():
        key = f"{_digits(row.timestamp)}{_digits(row.recorded_at)}{0:04d}{row.quantity}"
        bind.execute(
            events.update()
            .where(events.c.tenant_id == row.tenant_id, events.c.idempotency_key == row.idempotency_key)
            .values(latest_key=key)
        )
        for grain in (86400, 3600, 900):
            start = row.timestamp - ((row.timestamp - epoch) % timedelta(seconds=grain))
            cell = cells.setdefault((row.tenant_id, grain, start, row.feature_key), [0, 0, 0, ""])
            cell[0] += row.quantity
            cell[1] += 1
            cell[2] = max(cell[2], row.quantity)
            cell[3] = max(cell[3], key)
    if cells:
        bind.execute(
            buckets.insert(),
            [
                {
                    "tenant_id": tenant_id,
                    "grain_seconds": grain,
                    "bucket_start": start,
                    "feature_key": feature_key,
                    "quantity": quantity,
                    "event_count": count,
                    "max_quantity": largest,
                    "latest_key": latest,
                }
                for (tenant_id, grain, start, feature_key), (quantity, count, largest, latest) in cells.items()
            ],
        )


def downgrade() -> None:
    op.drop_table("usage_bucket")
    with op.batch_alter_table("usage_event") as batch:
        for column in ("void_reason", "voided_by", "voided_at", "latest_key", "batch_index"):
            batch.drop_column(column)
        batch.drop_index("ix_usage_event_tenant_id_timestamp")
        batch.create_index("ix_usage_event_tenant_id_feature_key_timestamp", ["tenant_id", "feature_key", "timestamp"])
        batch.create_foreign_key("fk_usage_event_feature_key_feature", "feature", ["feature_key"], ["feature_key"])
