"""The ``min`` aggregation: both bucket tables keep the smallest quantity of their events.

``min_quantity`` is filled for existing rows from their raw events (voided ones left out), bucket by bucket,
in one UPDATE per table. A row's time span is its start plus its grain; the month grain of
``usage_dimension_bucket`` (2,678,400 seconds) is a calendar month.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

MONTH = 31 * 24 * 60 * 60


def _bucket_end(table: str, postgres: bool) -> str:
    if postgres:
        return (
            f"CASE WHEN {table}.grain_seconds = {MONTH} THEN {table}.bucket_start + INTERVAL '1 month'"
            f" ELSE {table}.bucket_start + make_interval(secs => {table}.grain_seconds) END"
        )
    # SQLite keeps instants as 'YYYY-MM-DD HH:MM:SS.ffffff' text, which sorts like the instants; datetime()
    # answers without the fraction, which still compares right against it (a longer equal prefix is greater).
    return (
        f"CASE WHEN {table}.grain_seconds = {MONTH} THEN datetime({table}.bucket_start, '+1 month')"
        f" ELSE datetime({table}.bucket_start, '+' || {table}.grain_seconds || ' seconds') END"
    )


def _fill(table: str, same_set: str, postgres: bool) -> None:
    op.execute(
        f"""
        UPDATE {table} SET min_quantity = COALESCE((
            SELECT MIN(e.quantity) FROM usage_event e
            WHERE e.tenant_id = {table}.tenant_id AND e.feature_key = {table}.feature_key
              AND e.voided_at IS NULL AND e.timestamp >= {table}.bucket_start
              AND e.timestamp < {_bucket_end(table, postgres)}{same_set}
        ), 0)
        """  # noqa: S608 - no input in the text
    )


def upgrade() -> None:
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in ("usage_bucket", "usage_dimension_bucket"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("min_quantity", sa.BigInteger(), nullable=False, server_default="0"))
    _fill("usage_bucket", "", postgres)
    no_values = "CAST('{}' AS jsonb)" if postgres else "'{}'"
    _fill(
        "usage_dimension_bucket",
        f" AND COALESCE(e.dimensions, {no_values}) = usage_dimension_bucket.dimension_set",
        postgres,
    )


def downgrade() -> None:
    for table in ("usage_bucket", "usage_dimension_bucket"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("min_quantity")
