"""Reads from a streaming standby (``TALLY_DATABASE_READ_URL``), with bounded lag and the primary as fallback.

A task checks every second how far the standby's replay is behind the primary: caught up (its replay LSN at
or past the primary's current WAL LSN) is a lag of 0, otherwise the lag is the time since the last transaction
it replayed committed. While the lag is at most ``TALLY_READ_MAX_LAG_SECONDS`` the read routes' connections are
taken from the standby; when it is more, or the standby does not answer within the database timeout, or a read on
it fails for a reason that means "not now", they are taken from the primary until a later check is healthy.
Writes, and reads that must see their own writes, never come here: they use the primary's ``db_session``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from tally.background import Periodic
from tally.db import dialects
from tally.db.dialects import transient
from tally.db.engine import create_engine
from tally.metrics import READ_FALLBACKS, READ_REPLICA_IN_USE, READ_REPLICA_LAG

logger = logging.getLogger("tally.replica")

CHECK_SECONDS = 1.0
PRIMARY_LSN = text("SELECT CAST(pg_current_wal_lsn() AS text)")
# NULLs: not a standby (a server that is not in recovery), or nothing replayed since it started (no timestamp).
STANDBY_LAG = text("""
    SELECT pg_is_in_recovery(),
           pg_last_wal_replay_lsn() >= CAST(CAST(:primary_lsn AS text) AS pg_lsn),
           EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())
""")
NOT_ANSWERING: tuple[type[BaseException], ...] = (sa_exc.SQLAlchemyError, asyncpg.PostgresError, OSError, TimeoutError)


class ReadReplica:
    """The read replica's engine, its health as last checked, and the read routes' connections taken accordingly."""

    def __init__(self, url: str, primary: AsyncEngine, *, max_lag: float, pool_size: int, timeout: float) -> None:
        self.engine = create_engine(url, pool_size=pool_size, timeout=timeout)
        self.primary = primary
        self.max_lag = max_lag
        self.timeout = timeout
        self.healthy: bool | None = None  # not checked yet: reads go to the primary
        self.checks = Periodic("tally-read-replica-check", self.check, CHECK_SECONDS)

    # --- the read connection -------------------------------------------------------------------------

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """One pooled connection for a read route: the replica's while it is healthy, else the primary's."""
        on_replica = self.healthy is True
        if not on_replica:
            READ_FALLBACKS.inc()
        try:
            engine = self.engine if on_replica else self.primary
            async with dialects.named(engine.dialect).connect(engine) as connection:
                yield connection
        except Exception as exc:
            # The replica went away since the last check: the next reads go to the primary until a check finds it
            # healthy again (this one is answered as any database failure is, a 503).
            if on_replica and transient(exc):
                self._switch(healthy=False, reason=f"a read failed ({type(exc).__name__})")
            raise

    # --- the lag check -------------------------------------------------------------------------------

    async def start(self) -> None:
        READ_REPLICA_IN_USE.set(0)  # not checked yet
        await self.checks.start()

    async def stop(self) -> None:
        await self.checks.stop()
        await self.engine.dispose()

    async def check(self) -> bool:
        """Measure the lag once and route the reads by it (never work to repeat at once: False)."""
        try:
            async with asyncio.timeout(self.timeout):
                lag = await self.lag()
        except NOT_ANSWERING as exc:
            self._switch(healthy=False, reason=f"the check failed ({type(exc).__name__})")
            return False
        if lag is None:
            self._switch(healthy=False, reason="it is not a standby in recovery, or has replayed nothing yet")
            return False
        READ_REPLICA_LAG.set(lag)
        self._switch(healthy=lag <= self.max_lag, reason=f"{lag:.1f} s behind (bound {self.max_lag:g} s)")
        return False

    async def lag(self) -> float | None:
        """Seconds the replica's replay is behind the primary (0: caught up); None when that cannot be told."""
        async with self.primary.connect() as primary:
            primary_lsn = (await primary.execute(PRIMARY_LSN)).scalar_one()
        async with self.engine.connect() as replica:
            in_recovery, caught_up, behind = (await replica.execute(STANDBY_LAG, {"primary_lsn": primary_lsn})).one()
        if not in_recovery:
            return None
        if caught_up:
            return 0.0
        return None if behind is None else max(float(behind), 0.0)

    def _switch(self, *, healthy: bool, reason: str) -> None:
        READ_REPLICA_IN_USE.set(1 if healthy else 0)
        if healthy == self.healthy:
            return
        self.healthy = healthy
        # The engine's URL as SQLAlchemy renders it: its password masked.
        where = "the read replica" if healthy else "the primary"
        logger.warning("reads go to %s: the read replica at %s is %s", where, self.engine.url, reason)
