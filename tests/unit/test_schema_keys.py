"""Every table of tenant data can be distributed by tenant (Citus, docs/scaling.md): it has a ``tenant_id``
column, in its primary key and in every unique constraint and unique index (a distributed table can only
enforce uniqueness that includes the distribution column).

Checked twice: on the SQLAlchemy models, and on the schema the migrations actually build on SQLite and
PostgreSQL (so a migration that drifts from the models is caught too). Every table is tenant data except
the shared feature catalog, the plans, the webhook endpoints (a platform's) and Alembic's bookkeeping.
"""

from __future__ import annotations

import pytest
from sqlalchemy import Connection, MetaData, UniqueConstraint, inspect
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.db.models import Base

pytestmark = pytest.mark.anyio

SHARED = {"feature", "plan", "webhook_endpoint", "alembic_version"}


def key_problems(table: str, columns: set[str], primary_key: list[str], unique: dict[str, list[str]]) -> list[str]:
    """What keeps ``table`` from being distributed by tenant_id; ``unique`` maps a constraint or index name to
    its columns."""
    if "tenant_id" not in columns:
        return [f"{table}: holds tenant data but has no tenant_id column"]
    problems = [] if "tenant_id" in primary_key else [f"{table}: primary key {primary_key} lacks tenant_id"]
    problems += [
        f"{table}: unique {name} {cols} lacks tenant_id" for name, cols in unique.items() if "tenant_id" not in cols
    ]
    return problems


def test_the_check_finds_what_it_looks_for() -> None:
    assert key_problems("t", {"tenant_id", "k"}, ["tenant_id", "k"], {"uq": ["tenant_id", "x"]}) == []
    assert len(key_problems("t", {"k"}, ["k"], {})) == 1
    assert len(key_problems("t", {"tenant_id", "k"}, ["k"], {"uq": ["k"], "ix": ["tenant_id"]})) == 2


def test_models_keep_tenant_id_in_every_key() -> None:
    metadata: MetaData = Base.metadata
    tenant_tables = [t for name, t in metadata.tables.items() if name not in SHARED]
    assert {t.name for t in tenant_tables} >= {"usage_event", "usage_bucket"}
    problems = []
    for table in tenant_tables:
        unique = {
            str(c.name): [col.name for col in c.columns] for c in table.constraints if isinstance(c, UniqueConstraint)
        }
        unique |= {str(ix.name): [col.name for col in ix.columns] for ix in table.indexes if ix.unique}
        problems += key_problems(table.name, set(table.columns.keys()), [c.name for c in table.primary_key], unique)
    assert problems == []


def _migrated_problems(connection: Connection) -> tuple[set[str], list[str]]:
    inspector = inspect(connection)
    tables = set(inspector.get_table_names()) - SHARED
    problems = []
    for table in sorted(tables):
        unique = {str(c["name"]): list(c["column_names"]) for c in inspector.get_unique_constraints(table)}
        unique |= {
            str(ix["name"]): [str(c) for c in ix["column_names"]] for ix in inspector.get_indexes(table) if ix["unique"]
        }
        columns = {c["name"] for c in inspector.get_columns(table)}
        primary_key = inspector.get_pk_constraint(table)["constrained_columns"]
        problems += key_problems(table, columns, primary_key, unique)
    return tables, problems


async def test_migrated_schema_keeps_tenant_id_in_every_key(database_url: str) -> None:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            tables, problems = await connection.run_sync(_migrated_problems)
    finally:
        await engine.dispose()
    assert tables >= {"usage_event", "usage_bucket"}
    assert problems == []
