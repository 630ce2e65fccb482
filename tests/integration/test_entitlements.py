"""Entitlements: ``used`` is what usage-totals answers for the limit's current period, on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tally.http.auth import Role
from tests.conftest import FEATURES_URL, PLATFORM, assert_problem, bearer, post_events, put_features, record, totals_url
from tests.factories import month_bounds
from tests.integration.test_plans import limit, plan_url, put_plan

pytestmark = pytest.mark.anyio


def entitlements_url(tenant_id: uuid.UUID, feature_key: str | None = None) -> str:
    url = f"/api/v1/billing/tenants/{tenant_id}/entitlements"
    return url if feature_key is None else f"{url}/{feature_key}"


async def entitlements(client, tenant: uuid.UUID, **params: object) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    response = await client.get(entitlements_url(tenant), params=params, headers=bearer(Role.VIEWER, tenant))
    assert response.status_code == 200, response.text
    rows = response.json()
    assert [r["feature_key"] for r in rows] == sorted(r["feature_key"] for r in rows)
    return {r["feature_key"]: r for r in rows}


async def totals_over(client, tenant: uuid.UUID, row: dict[str, object]) -> int:  # type: ignore[no-untyped-def]
    """What usage-totals answers for the entitlement's feature and period."""
    params = {"feature_keys": row["feature_key"], "period_start": row["period_start"], "period_end": row["period_end"]}
    response = await client.get(totals_url(tenant), params=params, headers=PLATFORM)
    assert response.status_code == 200, response.text
    (total,) = response.json()
    assert (total["window_start"], total["window_end"]) == (row["period_start"], row["period_end"])
    return int(total["quantity"])


def iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def assign(client, tenant: uuid.UUID, plan_key: str = "pro", **body: object) -> None:  # type: ignore[no-untyped-def]
    response = await client.put(plan_url(tenant), json={"plan_key": plan_key, **body}, headers=PLATFORM)
    assert response.status_code == 200, response.text


async def test_a_tenant_without_a_plan_gets_unlimited_rows_for_the_month(client) -> None:
    await put_features(client, "b_feature", "a_feature")
    tenant = uuid.uuid4()
    start, end = month_bounds(datetime.now(UTC))
    await record(client, tenant, {"feature_key": "a_feature", "quantity": 5, "idempotency_key": "k1"})
    rows = await entitlements(client, tenant)
    assert list(rows) == ["a_feature", "b_feature"]
    assert rows["a_feature"] == {
        "feature_key": "a_feature",
        "unit": "requests",
        "limit": None,
        "used": 5,
        "remaining": None,
        "over_limit": False,
        "enforcement": "none",
        "period": "month",
        "period_start": iso(start),
        "period_end": iso(end),
        "reserved": 0,
        "granted": 0,
        "credits_remaining": 0,
        "using": "allowance",
        "using_grant": None,
    }
    assert rows["b_feature"]["used"] == 0


@pytest.mark.parametrize("aggregation", ["sum", "count", "max", "min", "latest"])
@pytest.mark.parametrize(("period", "zone"), [("month", "UTC"), ("month", "Asia/Kolkata"), ("day", "America/New_York")])
async def test_used_is_the_totals_of_the_current_period(client, aggregation: str, period: str, zone: str) -> None:
    put = await client.put(f"{FEATURES_URL}/f", json={"unit": "u", "aggregation": aggregation}, headers=PLATFORM)
    assert put.status_code == 201
    await put_plan(client, "pro", limit("f", 10_000, period=period))
    tenant = uuid.uuid4()
    await assign(client, tenant, timezone=zone)
    before = (await entitlements(client, tenant))["f"]
    start = datetime.fromisoformat(str(before["period_start"]))
    end = datetime.fromisoformat(str(before["period_end"]))
    tz = ZoneInfo(zone)
    assert start <= datetime.now(UTC) < end
    assert start.astimezone(tz).time().isoformat() == "00:00:00"
    assert start.astimezone(tz).day == 1 or period == "day"
    quantities = [7, 3, 9, 2]
    events = [
        {
            "feature_key": "f",
            "quantity": q,
            "idempotency_key": f"in-{i}",
            "timestamp": iso(start + timedelta(seconds=i)),
        }
        for i, q in enumerate(quantities)
    ]
    events.append(
        {
            "feature_key": "f",
            "quantity": 500,
            "idempotency_key": "before",
            "timestamp": iso(start - timedelta(seconds=1)),
        }
    )
    await record(client, tenant, *events)
    void = await client.post(
        f"/api/v1/billing/tenants/{tenant}/usage-events/in-2/void", json={"reason": "test"}, headers=PLATFORM
    )
    assert void.status_code == 200
    row = (await entitlements(client, tenant))["f"]
    kept = [7, 3, 2]
    expected = {"sum": sum(kept), "count": len(kept), "max": max(kept), "min": min(kept), "latest": 2}[aggregation]
    assert row["used"] == expected == await totals_over(client, tenant, row)
    assert (row["limit"], row["remaining"], row["over_limit"], row["period"]) == (
        10_000,
        10_000 - expected,
        False,
        period,
    )
    single = await client.get(entitlements_url(tenant, "f"), headers=bearer(Role.MEMBER, tenant))
    assert single.status_code == 200
    assert single.json() == row


async def test_an_override_replaces_the_plans_limit(client) -> None:
    await put_features(client, "api_calls", "tokens")
    await put_plan(client, "pro", limit("api_calls", 100), limit("tokens", 50))
    tenant = uuid.uuid4()
    await assign(client, tenant, overrides=[limit("api_calls", 3, period="day", enforcement="reject")])
    rows = await entitlements(client, tenant)
    assert (rows["api_calls"]["limit"], rows["api_calls"]["period"], rows["api_calls"]["enforcement"]) == (
        3,
        "day",
        "reject",
    )
    assert (rows["tokens"]["limit"], rows["tokens"]["period"], rows["tokens"]["enforcement"]) == (50, "month", "none")
    other = await entitlements(client, uuid.uuid4())
    assert other["api_calls"]["limit"] is None


async def test_over_a_reporting_limit_remaining_is_zero_and_over_limit_true(client) -> None:
    await put_features(client, "api_calls")
    await put_plan(client, "pro", limit("api_calls", 10))
    tenant = uuid.uuid4()
    await assign(client, tenant)
    await record(client, tenant, {"feature_key": "api_calls", "quantity": 10, "idempotency_key": "a"})
    at_limit = (await entitlements(client, tenant))["api_calls"]
    assert (at_limit["used"], at_limit["remaining"], at_limit["over_limit"]) == (10, 0, False)
    await record(client, tenant, {"feature_key": "api_calls", "quantity": 5, "idempotency_key": "b"})  # not refused
    over = (await entitlements(client, tenant))["api_calls"]
    assert (over["used"], over["remaining"], over["over_limit"]) == (15, 0, True)


async def test_feature_keys_select_and_unknown_ones_are_400(client) -> None:
    await put_features(client, "a", "b", "c")
    await put_plan(client, "pro", limit("b", 5, period="day"))
    tenant = uuid.uuid4()
    await assign(client, tenant)
    rows = await entitlements(client, tenant, feature_keys=["c", "b"])
    assert list(rows) == ["b", "c"]
    assert (rows["b"]["period"], rows["c"]["period"]) == ("day", "month")
    headers = bearer(Role.VIEWER, tenant)
    problem = assert_problem(
        await client.get(entitlements_url(tenant), params={"feature_keys": ["a", "zz"]}, headers=headers), 400, "zz"
    )
    assert problem["type"] == "urn:tally:problem:unknown-feature"
    assert_problem(await client.get(entitlements_url(tenant, "zz"), headers=headers), 400, "feature_key", "zz")
    assert_problem(await client.get(entitlements_url(tenant, "Bad%00Key"), headers=headers), 400, "feature_key")


async def test_a_deleted_assignment_leaves_no_limits(client) -> None:
    await put_features(client, "api_calls")
    await put_plan(client, "pro", limit("api_calls", 1, enforcement="reject"))
    tenant = uuid.uuid4()
    await assign(client, tenant)
    assert (await entitlements(client, tenant))["api_calls"]["limit"] == 1
    assert (await client.delete(plan_url(tenant), headers=PLATFORM)).status_code == 204
    assert (await entitlements(client, tenant))["api_calls"]["limit"] is None
    big = await post_events(client, tenant, [{"feature_key": "api_calls", "quantity": 99, "idempotency_key": "x"}])
    assert big.status_code == 200, big.text
