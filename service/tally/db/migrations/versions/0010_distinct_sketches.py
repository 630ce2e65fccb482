"""Approximate distinct counts: ``feature.approximate`` and ``usage_sketch``, a mergeable sketch of the counted
values per tenant, feature, UTC bucket (15 minutes, one hour, one day) and set of the other dimension values.

Every existing feature stays exact (``approximate`` false), and a feature cannot switch once it has usage, so the
table starts empty.

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("feature") as batch:
        batch.add_column(sa.Column("approximate", sa.Boolean(), nullable=False, server_default=sa.false()))
    op.create_table(
        "usage_sketch",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("grain_seconds", sa.Integer(), nullable=False),
        sa.Column("bucket_start", DateTimeUTC(), nullable=False),
        sa.Column("dimension_set", sa.Text().with_variant(JSONB(), "postgresql"), nullable=False),
        sa.Column("sketch", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint(
            "tenant_id", "feature_key", "grain_seconds", "bucket_start", "dimension_set", name="pk_usage_sketch"
        ),
    )


def downgrade() -> None:
    op.drop_table("usage_sketch")
    with op.batch_alter_table("feature") as batch:
        batch.drop_column("approximate")
