"""Voids: an event leaves every total, idempotently, with an audit record; its key stays used."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import FEATURES_URL, PLATFORM, assert_problem, bearer, events_url, put_features, quantities, record

pytestmark = pytest.mark.anyio

NOV = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-11-08T00:00:00Z"}


def event(key: str, quantity: int, at: str = "2026-11-02T10:00:00Z", feature: str = "api_calls") -> dict[str, object]:
    return {"feature_key": feature, "quantity": quantity, "idempotency_key": key, "timestamp": at}


async def void(client, tenant, key, headers=PLATFORM, reason="sent twice by a proxy"):
    return await client.post(f"{events_url(tenant)}/{key}/void", json={"reason": reason}, headers=headers)


async def test_void_resend_void_again(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await record(client, tenant, event("a", 5), event("b", 7))
    assert (await quantities(client, tenant, **NOV))["api_calls"] == 12

    r = await void(client, tenant, "a", headers=bearer("admin", tenant))
    assert r.status_code == 200, r.text
    voided = r.json()
    assert voided["voided"] is True
    assert voided["void_reason"] == "sent twice by a proxy"
    assert voided["voided_by"] == "test"
    assert (await quantities(client, tenant, **NOV))["api_calls"] == 7

    assert await record(client, tenant, event("a", 5)) == {"accepted": 0, "duplicates": 1}
    assert (await quantities(client, tenant, **NOV))["api_calls"] == 7
    r = await client.post(events_url(tenant), json={"events": [event("a", 6)]}, headers=PLATFORM)
    assert_problem(r, 409, "events[0].idempotency_key")

    again = await void(client, tenant, "a", reason="another reason")
    assert again.status_code == 200
    assert again.json() == voided  # the first void's record stands
    assert (await quantities(client, tenant, **NOV))["api_calls"] == 7


@pytest.mark.parametrize(
    ("aggregation", "after"),
    [("sum", 3 + 4), ("count", 2), ("max", 4), ("min", 3), ("latest", 4)],
)
async def test_void_of_the_max_and_latest_event_recomputes(client, aggregation, after) -> None:
    tenant = uuid.uuid4()
    r = await client.put(f"{FEATURES_URL}/f", json={"unit": "u", "aggregation": aggregation}, headers=PLATFORM)
    assert r.status_code == 201
    await record(
        client,
        tenant,
        event("small", 3, "2026-11-02T10:00:00Z", "f"),
        event("mid", 4, "2026-11-02T10:05:00Z", "f"),
        event("big-and-late", 9, "2026-11-02T10:10:00Z", "f"),
    )
    assert (await void(client, tenant, "big-and-late")).status_code == 200
    assert (await quantities(client, tenant, **NOV))["f"] == after


async def test_void_of_the_smallest_event_recomputes_min(client) -> None:
    tenant = uuid.uuid4()
    r = await client.put(f"{FEATURES_URL}/f", json={"unit": "u", "aggregation": "min"}, headers=PLATFORM)
    assert r.status_code == 201
    await record(
        client,
        tenant,
        event("small", 3, "2026-11-02T10:00:00Z", "f"),
        event("mid", 4, "2026-11-02T10:05:00Z", "f"),
        event("big", 9, "2026-11-02T10:10:00Z", "f"),
    )
    assert (await quantities(client, tenant, **NOV))["f"] == 3
    assert (await void(client, tenant, "small")).status_code == 200
    assert (await quantities(client, tenant, **NOV))["f"] == 4
    assert (await void(client, tenant, "mid")).status_code == 200
    assert (await void(client, tenant, "big")).status_code == 200
    assert (await quantities(client, tenant, **NOV))["f"] == 0  # no events left: 0, as for every aggregation


async def test_unknown_key_is_404_and_roles_are_checked(client) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await put_features(client, "api_calls")
    await record(client, tenant, event("a", 5))
    assert_problem(await void(client, tenant, "nope"), 404, "idempotency_key")
    for role in ("viewer", "member"):
        assert_problem(await void(client, tenant, "a", headers=bearer(role, tenant)), 403)
    assert_problem(await void(client, tenant, "a", headers=bearer("admin", other)), 403)
    r = await client.post(f"{events_url(tenant)}/a/void", json={"reason": ""}, headers=PLATFORM)
    assert_problem(r, 400, "reason")
    assert (await quantities(client, tenant, **NOV))["api_calls"] == 5


async def test_voids_and_ingestion_running_together_stay_exact(client) -> None:
    """Voids rebuild bucket rows while batches add to the same rows: nothing is lost or counted twice."""
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    first = [event(f"v{i}", i, f"2026-11-02T10:{i % 60:02d}:00Z") for i in range(40)]
    await record(client, tenant, *first)
    later = [[event(f"n{b}-{i}", 1, f"2026-11-02T10:{(b + i) % 60:02d}:30Z") for i in range(25)] for b in range(8)]
    to_void = [f"v{i}" for i in range(0, 40, 3)]

    async def ingest(batch):
        assert (await client.post(events_url(tenant), json={"events": batch}, headers=PLATFORM)).status_code == 200

    async def drop(key):
        assert (await void(client, tenant, key)).status_code == 200

    await asyncio.gather(*(ingest(b) for b in later), *(drop(k) for k in to_void))
    expected = sum(i for i in range(40) if f"v{i}" not in to_void) + 8 * 25
    assert (await quantities(client, tenant, **NOV))["api_calls"] == expected
