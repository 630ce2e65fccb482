"""The async engine, made as the database's dialect wants it (see ``tally.db.dialects``)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine

from tally.config import Settings
from tally.db.dialects import for_url


def create_engine(settings: Settings) -> AsyncEngine:
    return for_url(settings.database_url).create_engine(settings)
