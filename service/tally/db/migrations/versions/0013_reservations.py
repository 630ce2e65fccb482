"""Reservations: ``reservation``, a hold of capacity of one feature with its lifetime, and what became of it
(committed with the idempotency key of its usage event, or released).

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from advanced_alchemy.types import DateTimeUTC
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reservation",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("reservation_id", sa.String(128), nullable=False),
        sa.Column("feature_key", sa.String(64), nullable=False),
        sa.Column("quantity", sa.BigInteger(), nullable=False),
        sa.Column("expires_in_seconds", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("created_at", DateTimeUTC(), nullable=False),
        sa.Column("expires_at", DateTimeUTC(), nullable=False),
        sa.Column("ended_at", DateTimeUTC(), nullable=True),
        sa.Column("ended_before_commit", sa.String(16), nullable=True),
        sa.Column("committed_event", sa.String(255), nullable=True),
        sa.Column("committed_quantity", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("tenant_id", "reservation_id", name="pk_reservation"),
    )
    op.create_index("ix_reservation_tenant_id_feature_key_state", "reservation", ["tenant_id", "feature_key", "state"])


def downgrade() -> None:
    op.drop_index("ix_reservation_tenant_id_feature_key_state", table_name="reservation")
    op.drop_table("reservation")
