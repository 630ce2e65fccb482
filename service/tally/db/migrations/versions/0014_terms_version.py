"""Plan terms cached in each process: on PostgreSQL, every change to ``plan`` or ``tenant_plan`` notifies the
``tally_terms`` channel (a statement trigger, so whatever writes them, any process or ``psql``, is heard). Each
serving process listens and forgets its cached terms (``tally.db.terms``). SQLite has no notifications: its
processes read the terms every time.

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

TABLES = ("plan", "tenant_plan")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("""
        CREATE FUNCTION tally_terms_changed() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            PERFORM pg_notify('tally_terms', '');
            RETURN NULL;
        END
        $$
    """)
    for table in TABLES:
        op.execute(f"""
            CREATE TRIGGER {table}_terms_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION tally_terms_changed()
        """)


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"DROP TRIGGER {table}_terms_changed ON {table}")
    op.execute("DROP FUNCTION tally_terms_changed()")
