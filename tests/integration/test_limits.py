"""``enforcement: "reject"``: a batch that would take a period's usage over the limit is refused whole (409),
on both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tally.http.auth import Role
from tests.conftest import FEATURES_URL, PLATFORM, assert_problem, bearer, events_url, post_events, put_features, record
from tests.integration.test_entitlements import assign, entitlements, iso
from tests.integration.test_plans import limit, put_plan

pytestmark = pytest.mark.anyio


def event(key: str, quantity: int, feature_key: str = "api_calls", **more: object) -> dict[str, object]:
    return {"feature_key": feature_key, "quantity": quantity, "idempotency_key": key, **more}


async def limited(client, value: int = 10, *, aggregation: str = "sum", **more: object) -> uuid.UUID:  # type: ignore[no-untyped-def]
    """A tenant on a plan with a rejecting limit of ``value`` on api_calls (``more``: the limit's other fields)."""
    body = {"unit": "requests", "aggregation": aggregation}
    assert (await client.put(f"{FEATURES_URL}/api_calls", json=body, headers=PLATFORM)).status_code in (200, 201)
    await put_features(client, "other")
    assert (await put_plan(client, "hard", limit("api_calls", value, enforcement="reject", **more))).status_code in (
        200,
        201,
    )
    tenant = uuid.uuid4()
    await assign(client, tenant, plan_key="hard")
    return tenant


async def stored_keys(client, tenant: uuid.UUID) -> list[str]:  # type: ignore[no-untyped-def]
    response = await client.get(events_url(tenant), headers=PLATFORM)
    return [e["idempotency_key"] for e in response.json()["items"]]


async def used(client, tenant: uuid.UUID, feature_key: str = "api_calls") -> int:  # type: ignore[no-untyped-def]
    return int((await entitlements(client, tenant))[feature_key]["used"])


async def test_a_batch_that_would_go_over_is_refused_whole_naming_the_event(client) -> None:
    tenant = await limited(client, 10)
    assert await record(client, tenant, event("a", 4)) == {"accepted": 1, "duplicates": 0}
    response = await post_events(
        client, tenant, [event("o", 100, "other"), event("b", 3), event("c", 3), event("d", 1)]
    )
    body = assert_problem(response, 409, "events[3]", "api_calls", "10", "used 4")
    assert body["type"] == "urn:tally:problem:limit-exceeded"
    assert body["errors"] == [{"field": "events[3]", "message": body["detail"].split(": ", 1)[1]}]
    assert await stored_keys(client, tenant) == ["a"]  # nothing of the batch, not even the other feature's event
    assert await used(client, tenant) == 4
    assert await used(client, tenant, "other") == 0
    # up to the limit exactly is fine
    assert await record(client, tenant, event("b", 3), event("c", 3)) == {"accepted": 2, "duplicates": 0}
    assert await used(client, tenant) == 10
    assert await record(client, tenant, event("zero", 0)) == {"accepted": 1, "duplicates": 0}  # not above it
    assert_problem(await post_events(client, tenant, [event("e", 1)]), 409, "events[0]")
    assert await record(client, tenant, event("o", 100, "other")) == {"accepted": 1, "duplicates": 0}


async def test_duplicates_never_count_against_the_limit(client) -> None:
    tenant = await limited(client, 10)
    batch = [event("a", 6), event("b", 4)]
    assert await record(client, tenant, *batch) == {"accepted": 2, "duplicates": 0}
    assert await record(client, tenant, *batch) == {"accepted": 0, "duplicates": 2}  # at the limit, re-sent
    assert await record(client, tenant, event("a", 6), event("a", 6)) == {"accepted": 0, "duplicates": 2}
    assert_problem(await post_events(client, tenant, [event("a", 6), event("c", 1)]), 409, "events[1]")
    assert await used(client, tenant) == 10


async def test_a_void_makes_room(client) -> None:
    tenant = await limited(client, 10)
    await record(client, tenant, event("a", 10))
    assert_problem(await post_events(client, tenant, [event("b", 1)]), 409)
    void = await client.post(f"{events_url(tenant)}/a/void", json={"reason": "test"}, headers=PLATFORM)
    assert void.status_code == 200
    assert await record(client, tenant, event("b", 10)) == {"accepted": 1, "duplicates": 0}


async def test_events_outside_the_current_period_are_judged_against_their_own(client) -> None:
    tenant = await limited(client, 10, period="day")
    now = datetime.now(UTC)
    yesterday, last_week = iso(now - timedelta(days=1)), iso(now - timedelta(days=7))
    await record(client, tenant, event("today", 10))
    assert await record(client, tenant, event("y1", 6, timestamp=yesterday), event("w", 10, timestamp=last_week)) == {
        "accepted": 2,
        "duplicates": 0,
    }
    body = assert_problem(await post_events(client, tenant, [event("y2", 5, timestamp=yesterday)]), 409, "used 6")
    assert "events[0]" in str(body["detail"])
    assert await used(client, tenant) == 10


@pytest.mark.parametrize(
    ("aggregation", "fits", "goes_over"),
    [
        ("count", [event("a", 500), event("b", 500)], event("c", 0)),
        ("max", [event("a", 2), event("b", 2)], event("c", 3)),
        (
            "latest",
            [event("a", 1, timestamp=iso(datetime.now(UTC) - timedelta(minutes=1))), event("b", 2)],
            event("c", 3),
        ),
    ],
)
async def test_every_aggregation_is_limited_by_its_own_value(client, aggregation: str, fits, goes_over) -> None:
    tenant = await limited(client, 2, aggregation=aggregation)
    assert (await record(client, tenant, *fits))["accepted"] == len(fits)
    assert_problem(await post_events(client, tenant, [goes_over]), 409, "events[0]", "used 2")
    assert await used(client, tenant) == 2


async def test_a_late_event_under_latest_does_not_change_the_value(client) -> None:
    tenant = await limited(client, 5, aggregation="latest")
    await record(client, tenant, event("now", 5))
    old = iso(datetime.now(UTC) - timedelta(minutes=1))  # earlier than the latest event: latest stays 5
    assert await record(client, tenant, event("late", 99, timestamp=old)) == {"accepted": 1, "duplicates": 0}


async def test_a_reporting_limit_and_other_tenants_are_not_refused(client) -> None:
    tenant = await limited(client, 1)
    other = uuid.uuid4()
    assert await record(client, other, event("a", 1000)) == {"accepted": 1, "duplicates": 0}
    assert await record(client, tenant, event("a", 1)) == {"accepted": 1, "duplicates": 0}
    await put_plan(client, "soft", limit("api_calls", 1))
    await assign(client, other, plan_key="soft")
    assert await record(client, other, event("b", 1000)) == {"accepted": 1, "duplicates": 0}
    entitlement = (await entitlements(client, other))["api_calls"]
    assert entitlement["over_limit"] is True


async def test_an_override_can_reject_where_the_plan_only_reports(client) -> None:
    await put_features(client, "api_calls")
    await put_plan(client, "soft", limit("api_calls", 100))
    tenant = uuid.uuid4()
    await assign(client, tenant, plan_key="soft", overrides=[limit("api_calls", 5, enforcement="reject")])
    headers = bearer(Role.ADMIN, tenant)
    refused = await post_events(client, tenant, [event("a", 6)], headers=headers)
    assert_problem(refused, 409, "events[0]", "limit of 5")
