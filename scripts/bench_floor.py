"""The benchmark's floors: what the framework and the database themselves cost for Tally's answers, with no Tally
around them.

    uvicorn --factory bench_floor:create_app     # BENCH_FLOOR_DATABASE unset: the framework floor

A bare Litestar app with one route at Tally's totals path, answering five msgspec ``UsageTotal`` structs:

- framework floor: the five structs from memory;
- database floor (``BENCH_FLOOR_DATABASE`` set to a plain ``postgresql://`` DSN of the benchmark's database):
  the same route running one prepared asyncpg query per request, the five features of ``BENCH_FLOOR_FEATURES``
  left-joined to the tenant's day buckets of the window, from a pool of its own.

With the database set it also has the *ingestion floor*, at Tally's ingestion path: the batch decoded into msgspec
structs, then one asyncpg statement that inserts it exactly once (``INSERT … SELECT FROM unnest(…) ON CONFLICT DO
NOTHING RETURNING …``) and feeds the inserted rows to ``usage_bucket`` at its three grains and, for events with
dimensions, to ``usage_dimension_bucket`` at its three, aggregated by GROUP BY inside PostgreSQL and upserted in key
order; it answers the counts Tally answers. The same rows Tally writes, with none of its checks (catalog, plan
limits, duplicates' content, tokens).

scripts/bench.py starts it with the same server and worker count as Tally; each Tally read and ingestion is
reported as a share of its floor. No token check, no middleware, no logging: that is the point.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from uuid import UUID

import asyncpg
import msgspec
from litestar import Litestar, get, post

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

# The grains of usage_bucket (seconds) and of usage_dimension_bucket (a month is date_trunc's, the rest date_bin's).
BUCKET_START = (
    "CASE WHEN g = 0 THEN date_trunc('month', t, 'UTC') "
    "ELSE date_bin(g * interval '1 second', t, TIMESTAMPTZ '2000-01-01 00:00:00+00') END"
)
STATE = "SUM(q), COUNT(*), MAX(q), MIN(q), MAX(l)"
COMBINE = """quantity = {0}.quantity + excluded.quantity, event_count = {0}.event_count + excluded.event_count,
    max_quantity = GREATEST({0}.max_quantity, excluded.max_quantity),
    min_quantity = LEAST({0}.min_quantity, excluded.min_quantity),
    latest_key = GREATEST({0}.latest_key, excluded.latest_key)"""
INGEST = f"""
    WITH new AS (
        INSERT INTO usage_event (tenant_id, idempotency_key, feature_key, quantity, timestamp, recorded_at, batch_index,
                                 latest_key, dimensions)
        SELECT $1, k, f, q, t, $2, i - 1,
               to_char(t AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS') || $3 || lpad(CAST(i - 1 AS text), 4, '0') || q,
               CAST(d AS jsonb)
        FROM unnest($4::text[], $5::text[], $6::bigint[], $7::timestamptz[], $8::text[]) WITH ORDINALITY
             AS batch(k, f, q, t, d, i)
        ORDER BY k
        ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
        RETURNING feature_key AS f, quantity AS q, timestamp AS t, latest_key AS l, dimensions AS d
    ), buckets AS (
        INSERT INTO usage_bucket (tenant_id, grain_seconds, bucket_start, feature_key, quantity, event_count,
                                  max_quantity, min_quantity, latest_key)
        SELECT $1, g, {BUCKET_START}, f, {STATE}
        FROM new CROSS JOIN (VALUES (86400), (3600), (900)) AS grains(g)
        GROUP BY 2, 3, 4 ORDER BY 2, 3, 4
        ON CONFLICT (tenant_id, grain_seconds, bucket_start, feature_key) DO UPDATE SET {COMBINE.format("usage_bucket")}
    ), dimension_buckets AS (
        INSERT INTO usage_dimension_bucket (tenant_id, feature_key, grain_seconds, bucket_start, dimension_set,
                                            quantity, event_count, max_quantity, min_quantity, latest_key)
        SELECT $1, f, CASE WHEN g = 0 THEN 2678400 ELSE g END, {BUCKET_START}, d, {STATE}
        FROM new CROSS JOIN (VALUES (0), (86400), (3600)) AS grains(g) WHERE d IS NOT NULL
        GROUP BY 2, 3, 4, 5 ORDER BY 2, 3, 4, 5
        ON CONFLICT (tenant_id, feature_key, grain_seconds, bucket_start, dimension_set)
        DO UPDATE SET {COMBINE.format("usage_dimension_bucket")}
    )
    SELECT count(*) FROM new
"""


class FloorEvent(msgspec.Struct, frozen=True):
    idempotency_key: str
    feature_key: str
    quantity: int
    timestamp: datetime
    dimensions: dict[str, str] | None = None


class FloorBatch(msgspec.Struct, frozen=True):
    events: list[FloorEvent]


class FloorResult(msgspec.Struct, frozen=True):
    accepted: int
    duplicates: int


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

    @post("/api/v1/billing/tenants/{tenant_id:str}/usage-events", status_code=200)
    async def ingest(tenant_id: str, data: FloorBatch) -> FloorResult:
        assert pool is not None, "the ingestion floor needs BENCH_FLOOR_DATABASE"
        events, now = data.events, datetime.now(UTC)
        recorded = now.strftime("%Y%m%d%H%M%S%f")
        async with pool.acquire() as connection:
            accepted = await connection.fetchval(
                INGEST,
                UUID(tenant_id),
                now,
                recorded,
                [e.idempotency_key for e in events],
                [e.feature_key for e in events],
                [e.quantity for e in events],
                [e.timestamp for e in events],
                [msgspec.json.encode(e.dimensions).decode() if e.dimensions else None for e in events],
            )
        return FloorResult(accepted=accepted, duplicates=len(events) - accepted)

    @get("/health/ready")
    async def ready() -> str:
        return "ok"

    return Litestar(route_handlers=[totals, ingest, ready], lifespan=[lifespan])
