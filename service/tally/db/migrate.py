"""Apply Alembic migrations to a database URL, and check that a database is at the code's revision.

Alembic is driven directly (not through advanced-alchemy's command wrapper) because its env.py
would reuse the app's engine across event loops; here each run opens its own short-lived engine.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tally.db import dialects

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Safe to run again: applied revisions are skipped."""
    command.upgrade(alembic_config(database_url), revision)


@cache
def head_revision() -> str:
    """The revision the code needs (the newest migration)."""
    head = ScriptDirectory(str(MIGRATIONS)).get_current_head()
    assert head is not None
    return head


async def schema_problem(connection: AsyncConnection) -> str | None:
    """None when the database is at the code's revision, else one line saying what is wrong and what to do."""
    current = await connection.run_sync(lambda sync: MigrationContext.configure(sync).get_current_revision())
    if current == head_revision():
        return None
    state = "has no Tally schema" if current is None else f"is at schema revision {current}"
    return f"the database {state}; this Tally needs revision {head_revision()}: run `tally migrate`"


def missing_database(engine: AsyncEngine) -> str | None:
    """One line when connecting to ``engine`` would create an empty database (a SQLite file that does not
    exist), else None."""
    return dialects.named(engine.dialect).missing_database(engine.url)
