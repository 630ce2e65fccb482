"""What every command shares: its one-line failure, the database's failures named, an engine for the command's
work, the checks ``serve`` and ``config`` make beyond the settings' own."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

from alembic.util import CommandError as AlembicError
from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.catalog_file import read_catalog_file
from tally.config import ConfigError, Settings, redact_url
from tally.db.engine import create_engine
from tally.db.migrate import missing_database, schema_problem
from tally.domain.errors import TallyError

T = TypeVar("T")


class CommandError(Exception):
    """A command cannot do its work; the message is the one line the operator sees."""


@contextmanager
def database_errors(url: str) -> Iterator[None]:
    """The database's failures (unreachable, refused, missing, unknown revision) as one line naming it."""
    try:
        yield
    except (sa_exc.DBAPIError, OSError, TimeoutError, AlembicError) as exc:
        cause = exc.orig if isinstance(exc, sa_exc.DBAPIError) else exc
        reason = (str(cause).strip().splitlines() or [type(cause).__name__])[0]
        raise CommandError(f"cannot use the database {redact_url(url)}: {reason}") from exc


def with_engine(settings: Settings, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    async def run() -> T:
        engine = create_engine(
            settings.database_url, pool_size=settings.db_pool_size, timeout=settings.db_timeout_seconds
        )
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    with database_errors(settings.database_url):
        return asyncio.run(run())


def check_files(settings: Settings) -> None:
    """What ``serve`` would otherwise trip over at start-up, beyond the settings' own validation."""
    if settings.catalog_file:
        try:
            read_catalog_file(Path(settings.catalog_file))
        except TallyError as exc:
            raise ConfigError(f"TALLY_CATALOG_FILE: {exc}") from None


async def schema_problem_of(engine: AsyncEngine) -> str | None:
    if problem := missing_database(engine):
        return problem
    async with engine.connect() as connection:
        return await schema_problem(connection)
