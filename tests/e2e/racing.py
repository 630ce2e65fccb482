"""Batches raced at one tenant's rejecting limit through two server processes sharing one database: the harness of
the hard limit's and the credits' concurrency tests (the plan's set-up is the reservations' too)."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from collections.abc import Iterable

import httpx

from tests.conftest import bearer

API = "/api/v1/billing"
CLIENTS = 20
BATCHES_PER_CLIENT = 12
Batch = list[dict[str, object]]


async def on_hard_plan(
    http: httpx.AsyncClient,
    server: str,
    tenant: uuid.UUID,
    limit: int,
    feature_key: str = "api_calls",
    unit: str = "requests",
) -> None:
    """``feature_key`` in the catalog, and the tenant on a plan that rejects its usage past ``limit`` a month."""
    platform = bearer("platform")
    r = await http.put(f"{server}{API}/features/{feature_key}", json={"unit": unit}, headers=platform)
    assert r.status_code == 201, r.text
    plan = {"name": "Hard", "limits": [{"feature_key": feature_key, "limit": limit, "enforcement": "reject"}]}
    assert (await http.put(f"{server}{API}/plans/hard", json=plan, headers=platform)).status_code == 201
    r = await http.put(f"{server}{API}/tenants/{tenant}/plan", json={"plan_key": "hard"}, headers=platform)
    assert r.status_code == 200, r.text


async def race(http: httpx.AsyncClient, servers: tuple[str, str], tenant: uuid.UUID) -> tuple[list[Batch], list[Batch]]:
    """CLIENTS clients each send BATCHES_PER_CLIENT batches of 1-5 events dated now, alternating between the two
    servers; each accepted batch is sent again to the other server and must be all duplicates. Answers the
    accepted and the refused (409 limit-exceeded) batches."""
    admin = bearer("admin", tenant)
    at = dt.datetime.now(dt.UTC).isoformat()  # the current period
    accepted: list[Batch] = []
    refused: list[Batch] = []

    async def client(n: int) -> None:
        rng = random.Random(n)
        for b in range(BATCHES_PER_CLIENT):
            batch: Batch = [
                {
                    "feature_key": "api_calls",
                    "quantity": rng.randint(1, 30),
                    "idempotency_key": f"c{n}-b{b}-e{i}",
                    "timestamp": at,
                }
                for i in range(rng.randint(1, 5))
            ]
            url = f"{API}/tenants/{tenant}/usage-events"
            r = await http.post(f"{servers[(n + b) % 2]}{url}", json={"events": batch}, headers=admin)
            assert r.status_code in (200, 409), r.text
            if r.status_code == 409:
                assert r.json()["type"] == "urn:tally:problem:limit-exceeded"
                refused.append(batch)
                continue
            assert r.json() == {"accepted": len(batch), "duplicates": 0}
            accepted.append(batch)
            # a retry of a stored batch is a duplicate, at the limit or not
            again = await http.post(f"{servers[(n + b + 1) % 2]}{url}", json={"events": batch}, headers=admin)
            assert again.status_code == 200, again.text
            assert again.json() == {"accepted": 0, "duplicates": len(batch)}

    await asyncio.gather(*(client(n) for n in range(CLIENTS)))
    return accepted, refused


async def stored_keys(http: httpx.AsyncClient, server: str, tenant: uuid.UUID) -> set[str]:
    """The idempotency keys of every event stored for the tenant, read page by page."""
    stored: set[str] = set()
    cursor = None
    while True:
        params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        url = f"{server}{API}/tenants/{tenant}/usage-events"
        page = (await http.get(url, params=params, headers=bearer("admin", tenant))).json()
        stored |= {e["idempotency_key"] for e in page["items"]}
        cursor = page["next_cursor"]
        if cursor is None:
            return stored


def quantity(batches: Iterable[Batch]) -> int:
    return sum(int(e["quantity"]) for batch in batches for e in batch)  # type: ignore[call-overload]


def keys(batches: Iterable[Batch]) -> set[str]:
    return {str(e["idempotency_key"]) for batch in batches for e in batch}
