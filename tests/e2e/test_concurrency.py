"""Many clients re-sending overlapping batches to two server processes that share one PostgreSQL
database: every distinct event is counted exactly once, and no request fails."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer
from tests.e2e.conftest import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

DISTINCT = 600
CLIENTS = 12
BATCHES_PER_CLIENT = 8
BATCH = 150


async def test_overlapping_resends_across_two_processes_count_once(postgres_database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    rng = random.Random(42)
    start = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
    events = [
        {
            "feature_key": "api_calls",
            "quantity": rng.randint(1, 1000),
            "idempotency_key": f"evt-{i}",
            "timestamp": (start + dt.timedelta(minutes=i)).isoformat(),
        }
        for i in range(DISTINCT)
    ]
    with (
        running_server(postgres_database, tmp_path / "a.log") as server_a,
        running_server(postgres_database, tmp_path / "b.log") as server_b,
    ):
        async with httpx.AsyncClient(timeout=60) as http:
            created = await http.put(
                f"{server_a}/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=bearer("platform")
            )
            assert created.status_code == 201

            async def client(n: int) -> list[dict[str, int]]:
                own = random.Random(n)
                results = []
                for b in range(BATCHES_PER_CLIENT):
                    server = (server_a, server_b)[(n + b) % 2]
                    batch = own.sample(events, BATCH)  # overlaps with every other client's batches
                    r = await http.post(
                        f"{server}/api/v1/billing/tenants/{tenant}/usage-events",
                        json={"events": batch},
                        headers=bearer("admin", tenant),
                    )
                    assert r.status_code == 200, r.text
                    results.append(r.json())
                return results

            outcomes = [r for rs in await asyncio.gather(*(client(n) for n in range(CLIENTS))) for r in rs]
            sent = {e["idempotency_key"] for n in range(CLIENTS) for e in _replay_samples(n, events)}

            totals = await http.get(
                f"{server_b}/api/v1/billing/tenants/{tenant}/usage-totals",
                params={"period_start": start.isoformat(), "period_end": (start + dt.timedelta(days=30)).isoformat()},
                headers=bearer("viewer", tenant),
            )
    assert totals.status_code == 200
    expected = sum(e["quantity"] for e in events if e["idempotency_key"] in sent)
    assert totals.json()[0]["quantity"] == expected
    assert sum(o["accepted"] for o in outcomes) == len(sent)
    assert sum(o["accepted"] + o["duplicates"] for o in outcomes) == CLIENTS * BATCHES_PER_CLIENT * BATCH


def _replay_samples(n: int, events: list[dict[str, object]]) -> list[dict[str, object]]:
    """The events client ``n`` sent (its own seeded sampling, replayed)."""
    own = random.Random(n)
    return [e for _ in range(BATCHES_PER_CLIENT) for e in own.sample(events, BATCH)]
