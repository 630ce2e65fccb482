"""Closed periods' terms cached in each process too: on PostgreSQL, every change to ``billing_period`` (a period
recorded closed, by any process) notifies the ``tally_terms`` channel as plans and assignments do (migration 0014),
so that each serving process forgets the terms it cached (``tally.db.terms``) and a total of a period closed
elsewhere says ``final`` as soon as the notification arrives. SQLite has no notifications: nothing to do.

Revision ID: 0015
Revises: 0014
"""

from __future__ import annotations

from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE TRIGGER billing_period_terms_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON billing_period
        FOR EACH STATEMENT EXECUTE FUNCTION tally_terms_changed()
    """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER billing_period_terms_changed ON billing_period")
