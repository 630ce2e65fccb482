"""The rate limits' shared counters (``rate_limit_counter``): one statement per limited request.

Not an advanced-alchemy repository like the others: it runs in the rate limit middleware, before any route and
its session, on the engine itself, so a counted request costs one round trip and no ORM.
"""

from __future__ import annotations

from uuid import UUID

from sqlalchemy import Uuid, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.db import dialects

# A request of window w in a row of window w counts one more; a row of an older window starts over at one. A
# host whose clock lags (a row already in a later window) counts into that later window rather than reset it.
COUNT_HIT = text(
    """
    INSERT INTO rate_limit_counter (tenant_id, quota, window_index, used)
    VALUES (:tenant_id, :quota, :window_index, 1)
    ON CONFLICT (tenant_id, quota) DO UPDATE SET
        used = CASE WHEN rate_limit_counter.window_index >= excluded.window_index
                    THEN rate_limit_counter.used + 1 ELSE 1 END,
        window_index = CASE WHEN rate_limit_counter.window_index >= excluded.window_index
                            THEN rate_limit_counter.window_index ELSE excluded.window_index END
    RETURNING used
    """
).bindparams(bindparam("tenant_id", type_=Uuid))


class RateLimitCounterRepository:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.dialect = dialects.named(engine.dialect)

    async def count(self, tenant_id: UUID, quota: str, window_index: int) -> int:
        """Count one request of ``tenant_id`` against ``quota`` in window ``window_index``: the window's count,
        this request included (atomic across processes: the row's lock orders concurrent requests)."""
        rows = await self.dialect.write_returning(
            self.engine, COUNT_HIT, {"tenant_id": tenant_id, "quota": quota, "window_index": window_index}
        )
        return int(rows[0][0])
