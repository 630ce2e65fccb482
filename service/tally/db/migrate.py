"""Apply Alembic migrations to a database URL.

Alembic is driven directly (not through advanced-alchemy's command wrapper) because its env.py
would reuse the app's engine across event loops; here each run opens its own short-lived engine.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["database_url"] = database_url
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    """Bring the schema to ``revision``. Safe to run again: applied revisions are skipped."""
    command.upgrade(alembic_config(database_url), revision)
