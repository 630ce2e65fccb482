"""The benchmark's two floors: what the framework itself costs for a totals-shaped answer, with no Tally around it.

    uvicorn --factory bench_floor:create_app     # BENCH_FLOOR_DATABASE unset: the framework floor

A bare Litestar app with one route at Tally's totals path, answering five msgspec ``UsageTotal`` structs:

- framework floor: the five structs from memory;
- database floor (``BENCH_FLOOR_DATABASE`` set to a plain ``postgresql://`` DSN of the benchmark's database):
  the same route running one prepared asyncpg query per request, the five features of ``BENCH_FLOOR_FEATURES``
  left-joined to the tenant's day buckets of the window, from a pool of its own.

scripts/bench.py starts it with the same server and worker count as Tally; each Tally read is reported as a
share of its floor. No token check, no middleware, no logging: that is the point.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
from litestar import Litestar, get

from tally.domain.usage import UsageTotal

WINDOW = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
QUERY = """
    SELECT feature.feature_key, feature.unit, COALESCE(agg.quantity, 0)
    FROM feature LEFT OUTER JOIN (
        SELECT feature_key, CAST(SUM(quantity) AS bigint) AS quantity FROM usage_bucket
        WHERE tenant_id = $1 AND grain_seconds = 86400 AND bucket_start >= $2 AND bucket_start < $3
        GROUP BY feature_key
    ) AS agg ON agg.feature_key = feature.feature_key
    WHERE feature.feature_key = ANY($4::text[])
    ORDER BY feature.feature_key
"""


def create_app() -> Litestar:
    dsn = os.environ.get("BENCH_FLOOR_DATABASE")
    features = os.environ.get("BENCH_FLOOR_FEATURES", "a,b,c,d,e").split(",")
    in_memory = [
        UsageTotal(
            feature_key=key,
            unit="units",
            quantity=1000 + i,
            window_start=WINDOW[0],
            window_end=WINDOW[1],
            dimensions={},
        )
        for i, key in enumerate(features)
    ]
    pool: asyncpg.Pool | None = None

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        nonlocal pool
        if dsn:
            pool = await asyncpg.create_pool(dsn, min_size=2, max_size=10)
        yield
        if pool is not None:
            await pool.close()

    @get("/api/v1/billing/tenants/{tenant_id:str}/usage-totals")
    async def totals(tenant_id: str) -> list[UsageTotal]:
        if pool is None:
            return in_memory
        async with pool.acquire() as connection:
            # fetch(), not prepare(): fetch prepares once per connection (asyncpg's statement cache), then only binds.
            rows = await connection.fetch(QUERY, UUID(tenant_id), *WINDOW, features)
        return [
            UsageTotal(
                feature_key=key,
                unit=unit,
                quantity=quantity,
                window_start=WINDOW[0],
                window_end=WINDOW[1],
                dimensions={},
            )
            for key, unit, quantity in rows
        ]

    @get("/health/ready")
    async def ready() -> str:
        return "ok"

    return Litestar(route_handlers=[totals, ready], lifespan=[lifespan])
