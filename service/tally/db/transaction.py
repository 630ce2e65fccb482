"""A service's transaction boundaries, without SQL: start a write, take the catalog and limit locks, commit,
roll back."""

from __future__ import annotations

from collections.abc import Sequence
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from tally.db import dialects


class Transaction:
    """The unit of work of one request: every repository of a service shares its session.

    On PostgreSQL the engine runs in autocommit: a read is one statement and needs no BEGIN/ROLLBACK. A use case
    that writes calls ``begin_write`` first and gets a transaction committed or rolled back as a whole."""

    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.dialect = dialects.of(session)

    async def begin_write(self) -> None:
        await self.dialect.begin_write(self.session)

    async def lock_catalog(self, *, exclusive: bool) -> None:
        await self.dialect.lock_catalog(self.session, exclusive=exclusive)

    async def lock_limits(self, keys: Sequence[str]) -> None:
        """Take the locks of the hard limits named by ``keys`` (see ``Dialect.lock_limits``)."""
        if keys:
            await self.dialect.lock_limits(self.session, keys)

    async def lock_periods(self, tenant_id: UUID, *, exclusive: bool) -> None:
        await self.dialect.lock_periods(self.session, tenant_id, exclusive=exclusive)

    async def commit(self) -> None:
        await self.session.commit()

    async def rollback(self) -> None:
        await self.session.rollback()

    async def close(self) -> None:
        """End whatever the session holds and give its connection back to the pool."""
        await self.session.close()
