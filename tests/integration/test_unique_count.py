"""Distinct counts (``aggregation: unique_count``): the catalog's rules and the answers' meaning, on both
databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import FEATURES_URL, ONE_DATABASE, PLATFORM, assert_problem, quantities, record, totals_url

pytestmark = pytest.mark.anyio
NOV = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
ACTIVE = {"unit": "users", "aggregation": "unique_count", "unique_by": "user_id", "dimensions": ["user_id", "region"]}


def event(key: str, at: str, **dimensions: str) -> dict[str, object]:
    return {"feature_key": "active", "quantity": 1, "idempotency_key": key, "timestamp": at, "dimensions": dimensions}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"unit": "users", "aggregation": "unique_count", "dimensions": ["user_id"]}, "unique_by"),
        ({"unit": "users", "aggregation": "unique_count", "unique_by": "user_id"}, "unique_by"),
        ({"unit": "users", "aggregation": "unique_count", "unique_by": "device", "dimensions": ["user_id"]}, "device"),
        ({"unit": "users", "aggregation": "sum", "unique_by": "user_id", "dimensions": ["user_id"]}, "unique_by"),
    ],
    ids=["missing", "no-dimensions", "not-declared", "not-a-distinct-count"],
)
@ONE_DATABASE
async def test_unique_by_must_name_a_declared_dimension_of_a_distinct_count(client, body, field) -> None:
    r = await client.put(f"{FEATURES_URL}/active", json=body, headers=PLATFORM)
    assert_problem(r, 400, field)


async def test_counted_dimension_cannot_change_once_usage_exists(client) -> None:
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 201
    await record(client, uuid.uuid4(), event("a", "2026-11-02T10:00:00Z", user_id="u1"))
    changed = {**ACTIVE, "unique_by": "region"}
    assert_problem(await client.put(f"{FEATURES_URL}/active", json=changed, headers=PLATFORM), 409, "unique_by")
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 200


async def test_a_user_counts_once_per_window_and_a_void_of_their_only_event_removes_them(client) -> None:
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 201
    tenant = uuid.uuid4()
    await record(
        client,
        tenant,
        event("a1", "2026-11-02T10:00:00Z", user_id="ann", region="eu"),
        event("a2", "2026-11-03T10:00:00Z", user_id="ann", region="us"),
        event("b1", "2026-11-03T11:15:00Z", user_id="bob", region="eu"),
        event("x1", "2026-11-03T12:00:00Z", region="eu"),  # no user: does not count
    )
    assert (await quantities(client, tenant, **NOV))["active"] == 2
    # A ragged period (raw edges and buckets) still counts ann once.
    ragged = {"period_start": "2026-11-02T09:30:00Z", "period_end": "2026-11-03T11:20:00Z"}
    assert (await quantities(client, tenant, **ragged))["active"] == 2
    days = await client.get(totals_url(tenant), params={**NOV, "window_size": "day"}, headers=PLATFORM)
    assert [row["quantity"] for row in days.json()][1:4] == [1, 2, 0]
    by_region = await client.get(totals_url(tenant), params={**NOV, "group_by": "region"}, headers=PLATFORM)
    assert [(row["dimensions"], row["quantity"]) for row in by_region.json()] == [
        ({"region": "eu"}, 2),
        ({"region": "us"}, 1),
    ]
    only_us = await client.get(totals_url(tenant), params={**NOV, "filter": "region=us"}, headers=PLATFORM)
    assert [row["quantity"] for row in only_us.json()] == [1]

    r = await client.post(
        f"/api/v1/billing/tenants/{tenant}/usage-events/b1/void", json={"reason": "t"}, headers=PLATFORM
    )
    assert r.status_code == 200, r.text
    assert (await quantities(client, tenant, **NOV))["active"] == 1


async def test_a_distinct_count_limit_reports_but_cannot_reject(client) -> None:
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 201
    rejecting = {"name": "P", "limits": [{"feature_key": "active", "limit": 1, "enforcement": "reject"}]}
    r = await client.put("/api/v1/billing/plans/p", json=rejecting, headers=PLATFORM)
    assert_problem(r, 400, "limits[0].enforcement")
    reporting = {"name": "P", "limits": [{"feature_key": "active", "limit": 1}]}
    assert (await client.put("/api/v1/billing/plans/p", json=reporting, headers=PLATFORM)).status_code == 201
    tenant = uuid.uuid4()
    r = await client.put(f"/api/v1/billing/tenants/{tenant}/plan", json={"plan_key": "p"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    now = datetime.now(UTC) - timedelta(minutes=1)
    await record(client, tenant, *(event(f"k{i}", now.isoformat(), user_id=u) for i, u in enumerate("aab")))
    r = await client.get(f"/api/v1/billing/tenants/{tenant}/entitlements/active", headers=PLATFORM)
    assert r.status_code == 200, r.text
    assert (r.json()["used"], r.json()["over_limit"]) == (2, True)  # the same number usage-totals gives
