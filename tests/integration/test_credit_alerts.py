"""Credit alerts: ``credits.low`` below a grant's or the plan's threshold and ``credits.depleted`` at 0, exactly once
per crossing (a balance that rises again re-arms them), into the outbox. On both databases."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.http.auth import Role
from tests.conftest import FEATURES_URL, PLATFORM, bearer, post_events

pytestmark = pytest.mark.anyio
API = "/api/v1/billing"


async def messages(database_url: str, tenant: uuid.UUID) -> list[tuple[str, int, int]]:
    """(type, threshold, credits_remaining) of the tenant's credit messages in the outbox, oldest first."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            rows = await connection.execute(
                text("SELECT payload FROM webhook_delivery WHERE event_type LIKE 'credits.%' ORDER BY created_at")
            )
            payloads = [json.loads(payload) for (payload,) in rows]
    finally:
        await engine.dispose()
    return [
        (p["type"], p["data"]["threshold"], p["data"]["credits_remaining"])
        for p in payloads
        if p["data"]["tenant_id"] == str(tenant)
    ]


async def test_low_and_depleted_once_per_crossing(outbox_client: AsyncTestClient[Litestar], database_url: str) -> None:
    client, tenant = outbox_client, uuid.uuid4()
    endpoint = {"url": "http://127.0.0.1:9/hook", "events": ["credits.low", "credits.depleted"]}
    assert (await client.post(f"{API}/webhook-endpoints", json=endpoint, headers=PLATFORM)).status_code == 201
    assert (await client.put(f"{FEATURES_URL}/tokens", json={"unit": "tokens"}, headers=PLATFORM)).status_code == 201
    effective = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"grant_id": "g", "feature_key": "tokens", "amount": 100, "notify_below": 50, "effective_at": effective}
    assert (await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=PLATFORM)).status_code == 201

    async def use(key: str, quantity: int) -> None:
        event = {"feature_key": "tokens", "quantity": quantity, "idempotency_key": key}
        r = await post_events(client, tenant, [event], headers=bearer(Role.ADMIN, tenant))
        assert r.status_code == 200, r.text

    async def void(key: str) -> None:
        url = f"{API}/tenants/{tenant}/usage-events/{key}/void"
        assert (await client.post(url, json={"reason": "refund"}, headers=PLATFORM)).status_code == 200

    low, depleted = ("credits.low", 50, 40), ("credits.depleted", 0, 0)
    await use("a", 40)  # 60 left: above the threshold
    assert await messages(database_url, tenant) == []
    await use("b", 20)  # 40 left: crossed 50
    await use("b", 20)  # a re-sent duplicate crosses nothing
    await use("c", 5)  # 35 left: still below, nothing new
    assert await messages(database_url, tenant) == [low]
    await use("d", 35)  # 0 left
    assert await messages(database_url, tenant) == [low, depleted]
    await void("a")  # 40 left: no longer depleted (re-armed), still below 50
    await void("d")  # 75 left: above 50 again (re-armed)
    assert await messages(database_url, tenant) == [low, depleted]
    await use("e", 30)  # 45 left: crosses 50 a second time
    await use("f", 45)  # 0 left: depleted a second time
    assert await messages(database_url, tenant) == [low, depleted, ("credits.low", 50, 45), depleted]


async def test_the_plans_threshold_and_a_voided_grant(
    outbox_client: AsyncTestClient[Litestar], database_url: str
) -> None:
    client, tenant = outbox_client, uuid.uuid4()
    endpoint = {"url": "http://127.0.0.1:9/hook", "events": ["credits.low"], "tenant_id": str(tenant)}
    assert (await client.post(f"{API}/webhook-endpoints", json=endpoint, headers=PLATFORM)).status_code == 201
    assert (await client.put(f"{FEATURES_URL}/tokens", json={"unit": "tokens"}, headers=PLATFORM)).status_code == 201
    limit = {"feature_key": "tokens", "limit": 10, "notify_credits_below": 100}
    plan_key = f"p{uuid.uuid4().hex}"
    r = await client.put(f"{API}/plans/{plan_key}", json={"name": "P", "limits": [limit]}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    assert (
        await client.put(f"{API}/tenants/{tenant}/plan", json={"plan_key": plan_key}, headers=PLATFORM)
    ).status_code == 200
    effective = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    for grant_id, amount in (("big", 150), ("small", 60)):
        body = {"grant_id": grant_id, "feature_key": "tokens", "amount": amount, "effective_at": effective}
        assert (await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=PLATFORM)).status_code == 201
    assert await messages(database_url, tenant) == []  # 210 left
    r = await client.post(f"{API}/tenants/{tenant}/grants/big/void", json={"reason": "refund"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    assert await messages(database_url, tenant) == [("credits.low", 100, 60)]  # voiding a grant crosses it too


async def test_concurrent_batches_send_each_crossing_once(
    outbox_client: AsyncTestClient[Litestar], database_url: str
) -> None:
    client, tenant = outbox_client, uuid.uuid4()
    endpoint = {"url": "http://127.0.0.1:9/hook", "events": ["credits.low", "credits.depleted"]}
    assert (await client.post(f"{API}/webhook-endpoints", json=endpoint, headers=PLATFORM)).status_code == 201
    assert (await client.put(f"{FEATURES_URL}/tokens", json={"unit": "tokens"}, headers=PLATFORM)).status_code == 201
    effective = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    body = {"grant_id": "g", "feature_key": "tokens", "amount": 20, "notify_below": 10, "effective_at": effective}
    assert (await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=PLATFORM)).status_code == 201
    # 20 batches of 1 at once: any of them could be the one that crosses 10, and the one that reaches 0.
    batches = [[{"feature_key": "tokens", "quantity": 1, "idempotency_key": f"k{i}"}] for i in range(20)]
    responses = await asyncio.gather(*(post_events(client, tenant, batch) for batch in batches))
    assert [r.status_code for r in responses] == [200] * 20
    assert sorted(kind for kind, _, _ in await messages(database_url, tenant)) == ["credits.depleted", "credits.low"]
