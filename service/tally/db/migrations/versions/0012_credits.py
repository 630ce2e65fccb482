"""Credits: ``credit_grant``, an amount of one feature granted to a tenant, with its priority, effective and expiry
times, its alert threshold and the audit of a void; ``credit_alert``, which side of each alert threshold a tenant's
remaining credits were on when last looked at. Balances are computed from usage, so nothing else changes.

Revision ID: 0012
Revises: 0011
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credit_grant",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("grant_id", sa.String(128), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("effective_at", DateTimeUTC(), nullable=False),
        sa.Column("expires_at", DateTimeUTC(), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("notify_below", sa.BigInteger(), nullable=True),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("created_by", sa.String(255), nullable=False),
        sa.Column("voided_at", DateTimeUTC(), nullable=True),
        sa.Column("voided_by", sa.String(255), nullable=True),
        sa.Column("void_reason", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "grant_id", name="pk_credit_grant"),
    )
    op.create_index("ix_credit_grant_tenant_id_feature_key", "credit_grant", ["tenant_id", "feature_key"])
    op.create_table(
        "credit_alert",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("threshold", sa.BigInteger(), nullable=False),
        sa.Column("below", sa.Boolean(), nullable=False),
        sa.Column("updated_at", DateTimeUTC(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "feature_key", "threshold", name="pk_credit_alert"),
    )


def downgrade() -> None:
    op.drop_table("credit_alert")
    op.drop_index("ix_credit_grant_tenant_id_feature_key", table_name="credit_grant")
    op.drop_table("credit_grant")
