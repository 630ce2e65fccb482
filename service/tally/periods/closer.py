"""The background close: in every serving process, periodically record the periods whose grace has passed.

Several processes may run it at once: a close takes the tenant's period lock exclusively and reads what is recorded
after it, so the second process to reach a period finds it recorded and does nothing (one row, one message).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tally.background import Periodic
from tally.db.repositories import PeriodRepository
from tally.metering.totals import TotalsSource
from tally.periods.service import PeriodService

logger = logging.getLogger("tally")


class PeriodCloser:
    def __init__(self, engine: AsyncEngine, *, poll_seconds: float, totals_source: TotalsSource = "buckets") -> None:
        self.sessions = async_sessionmaker(engine, expire_on_commit=False)
        self.totals_source = totals_source
        self.rounds = Periodic("tally-period-close", self.round, poll_seconds)

    async def start(self) -> None:
        await self.rounds.start()

    async def stop(self) -> None:
        await self.rounds.stop()

    async def round(self) -> bool:
        """One round over the tenants with a grace period. Always waits for the next: a round closes everything due."""
        try:
            closed = await self.close_due(datetime.now(UTC))
        except (sa_exc.SQLAlchemyError, OSError) as exc:  # the database is away: try again next round
            logger.warning("period close round failed (%s)", type(exc).__name__)
            return False
        if closed:
            logger.info("closed %d billing periods", closed)
        return False

    async def close_due(self, now: datetime) -> int:
        """Record every period whose grace has passed by ``now``, a transaction per tenant; how many."""
        async with self.sessions() as session:
            tenants = await PeriodRepository(session).graced_tenants()
        closed = 0
        for tenant_id in tenants:
            async with self.sessions() as session:
                closed += await PeriodService(session, self.totals_source).close_due(tenant_id, now)
        return closed
