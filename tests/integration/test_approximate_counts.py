"""Approximate distinct counts (``unique_count`` with ``approximate: true``) through the API, on both databases:
the catalog's rules, totals marked approximate (JSON and CSV) over windows, zones, ragged periods, group-by,
filters and voids, and thousands of users within the documented bound."""

from __future__ import annotations

import csv
import io
import uuid

import pytest

from tally.metering.sketches import BOUND
from tests.conftest import FEATURES_URL, PLATFORM, assert_problem, events_url, quantities, record, totals_url

pytestmark = pytest.mark.anyio
NOV = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
ACTIVE = {
    "unit": "users",
    "aggregation": "unique_count",
    "unique_by": "user_id",
    "dimensions": ["user_id", "region"],
    "approximate": True,
}


def event(key: str, at: str, **dimensions: str) -> dict[str, object]:
    return {"feature_key": "active", "quantity": 1, "idempotency_key": key, "timestamp": at, "dimensions": dimensions}


async def test_approximate_goes_only_with_a_distinct_count_and_cannot_switch_once_usage_exists(client) -> None:
    sums = {"unit": "requests", "aggregation": "sum", "approximate": True}
    assert_problem(await client.put(f"{FEATURES_URL}/calls", json=sums, headers=PLATFORM), 400, "approximate")
    exact = {**ACTIVE, "approximate": False}
    assert (await client.put(f"{FEATURES_URL}/active", json=exact, headers=PLATFORM)).status_code == 201
    r = await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)  # no usage yet: it may switch
    assert (r.status_code, r.json()["approximate"]) == (200, True)
    await record(client, uuid.uuid4(), event("a", "2026-11-02T10:00:00Z", user_id="u1"))
    assert_problem(await client.put(f"{FEATURES_URL}/active", json=exact, headers=PLATFORM), 409, "approximate")
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 200


async def test_approximate_counts_answer_like_exact_ones_and_say_so(client) -> None:
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 201
    assert (await client.put(f"{FEATURES_URL}/calls", json={"unit": "requests"}, headers=PLATFORM)).status_code == 201
    tenant = uuid.uuid4()
    await record(
        client,
        tenant,
        event("a1", "2026-11-02T10:00:00Z", user_id="ann", region="eu"),
        event("a2", "2026-11-03T10:00:00Z", user_id="ann", region="us"),
        event("b1", "2026-11-03T11:15:00Z", user_id="bob", region="eu"),
        event("b2", "2026-11-03T23:50:00Z", user_id="bob", region="eu"),  # Berlin's 4 November
        event("x1", "2026-11-04T12:00:00Z", region="ap"),  # no user: counts nobody, its group exists
        {"feature_key": "calls", "quantity": 5, "idempotency_key": "c1", "timestamp": "2026-11-03T10:00:00Z"},
    )
    r = await client.get(totals_url(tenant), params=NOV, headers=PLATFORM)
    assert [(row["feature_key"], row["quantity"], row["approximate"]) for row in r.json()] == [
        ("active", 2, True),
        ("calls", 5, False),
    ]
    # A ragged period: its edges' raw events join the sketches of the whole buckets.
    ragged = {"period_start": "2026-11-02T09:59:00Z", "period_end": "2026-11-03T11:16:00Z"}
    assert (await quantities(client, tenant, **ragged))["active"] == 2
    days = await client.get(totals_url(tenant), params={**NOV, "window_size": "day"}, headers=PLATFORM)
    assert [row["quantity"] for row in days.json() if row["feature_key"] == "active"][1:5] == [1, 2, 0, 0]
    berlin = {**NOV, "window_size": "day", "timezone": "Europe/Berlin"}
    berlin["period_start"], berlin["period_end"] = "2026-11-01T00:00:00+01:00", "2026-12-01T00:00:00+01:00"
    days = await client.get(totals_url(tenant), params=berlin, headers=PLATFORM)
    assert [row["quantity"] for row in days.json() if row["feature_key"] == "active"][1:5] == [1, 2, 1, 0]
    params = {**NOV, "feature_keys": "active", "group_by": "region"}
    by_region = await client.get(totals_url(tenant), params=params, headers=PLATFORM)
    assert [(row["dimensions"], row["quantity"], row["approximate"]) for row in by_region.json()] == [
        ({"region": "ap"}, 0, True),
        ({"region": "eu"}, 2, True),
        ({"region": "us"}, 1, True),
    ]
    by_day = await client.get(totals_url(tenant), params={**params, "window_size": "day"}, headers=PLATFORM)
    got = [(row["window_start"][:10], row["dimensions"]["region"], row["quantity"]) for row in by_day.json()]
    assert got[1:6] == [
        ("2026-11-02", "eu", 1),
        ("2026-11-03", "eu", 1),
        ("2026-11-03", "us", 1),
        ("2026-11-04", "ap", 0),
        ("2026-11-05", None, 0),
    ]
    only_us = await client.get(
        totals_url(tenant), params={**NOV, "feature_keys": "active", "filter": "region=us"}, headers=PLATFORM
    )
    assert [row["quantity"] for row in only_us.json()] == [1]
    as_csv = await client.get(totals_url(tenant), params=NOV, headers={**PLATFORM, "Accept": "text/csv"})
    rows = list(csv.DictReader(io.StringIO(as_csv.text)))
    assert [(row["feature_key"], row["quantity"], row["approximate"]) for row in rows] == [
        ("active", "2", "true"),
        ("calls", "5", "false"),
    ]
    # The counted dimension itself: an approximate count keeps no values one by one.
    for name, value in (("group_by", "user_id"), ("filter", "user_id=ann")):
        r = await client.get(
            totals_url(tenant), params={**NOV, "feature_keys": "active", name: value}, headers=PLATFORM
        )
        assert_problem(r, 400, name, "user_id")

    for key in ("b1", "b2"):  # bob's every event: bob leaves the count
        r = await client.post(f"{events_url(tenant)}/{key}/void", json={"reason": "t"}, headers=PLATFORM)
        assert r.status_code == 200, r.text
    assert (await quantities(client, tenant, **NOV))["active"] == 1
    by_region = await client.get(totals_url(tenant), params=params, headers=PLATFORM)
    assert [(row["dimensions"], row["quantity"]) for row in by_region.json()] == [
        ({"region": "ap"}, 0),
        ({"region": "eu"}, 1),
        ({"region": "us"}, 1),
    ]


async def test_thousands_of_users_are_counted_within_the_bound(client) -> None:
    assert (await client.put(f"{FEATURES_URL}/active", json=ACTIVE, headers=PLATFORM)).status_code == 201
    tenant, users = uuid.uuid4(), 6000
    for first in range(0, users, 1000):
        batch = [
            event(f"e{i}", f"2026-11-{1 + i % 30:02d}T{i % 24:02d}:{i % 60:02d}:00Z", user_id=f"user-{i}")
            for i in range(first, first + 1000)
        ]
        r = await client.post(events_url(tenant), json={"events": batch}, headers=PLATFORM)
        assert r.status_code == 200, r.text
    month = (await quantities(client, tenant, **NOV))["active"]
    assert abs(month - users) <= BOUND * users, month
    days = await client.get(totals_url(tenant), params={**NOV, "window_size": "day"}, headers=PLATFORM)
    assert all(abs(row["quantity"] - users / 30) <= BOUND * users / 30 for row in days.json()), days.json()
