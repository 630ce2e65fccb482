"""Recording usage: exactly-once counting, atomic batches, input limits, roles and tenants."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import anyio
import pytest

from tally.domain.keys import MAX_QUANTITY
from tally.domain.usage import MAX_BATCH
from tally.http.auth import Role
from tests.conftest import (
    ONE_DATABASE,
    assert_problem,
    bearer,
    events_url,
    post_events,
    put_features,
    quantities,
    record,
    totals_url,
)
from tests.factories import BASE_TIME, event_body, month_bounds

pytestmark = pytest.mark.anyio

# A window holding every timestamp UsageEventFactory makes (BASE_TIME plus up to 30 days).
FACTORY_WINDOW = {"period_start": BASE_TIME.isoformat(), "period_end": (BASE_TIME + timedelta(days=31)).isoformat()}


@pytest.fixture
async def tenant(client) -> uuid.UUID:
    """A fresh tenant, with the features the tests record usage in."""
    await put_features(client, "api_calls", "storage")
    return uuid.uuid4()


async def stored(client, tenant: uuid.UUID, **window: str) -> dict[str, int]:
    return await quantities(client, tenant, **(window or FACTORY_WINDOW))


def total(*events: dict[str, object]) -> int:
    return sum(int(str(e["quantity"])) for e in events)


def current_month() -> dict[str, str]:
    start, end = month_bounds(datetime.now(UTC))
    return {"period_start": start.isoformat(), "period_end": end.isoformat()}


async def assert_nothing_stored(client, tenant: uuid.UUID, *events: dict[str, object]) -> None:
    """Neither the totals nor the keys know ``events``: re-sending them stores them anew."""
    assert await stored(client, tenant) == {"api_calls": 0, "storage": 0}
    if events:
        assert await record(client, tenant, *events) == {"accepted": len(events), "duplicates": 0}


# --- exactly once ----------------------------------------------------------------------------------


async def test_counts_accepted_and_duplicates(client, tenant) -> None:
    first = [event_body() for _ in range(3)]
    assert await record(client, tenant, *first) == {"accepted": 3, "duplicates": 0}

    fresh = event_body()
    assert await record(client, tenant, first[0], fresh, first[2]) == {"accepted": 1, "duplicates": 2}
    assert await record(client, tenant, *first) == {"accepted": 0, "duplicates": 3}
    assert (await stored(client, tenant))["api_calls"] == total(*first, fresh)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"feature_key": "storage"}, id="feature_key"),
        pytest.param({"quantity": 10_001}, id="quantity"),
        pytest.param({"timestamp": (BASE_TIME + timedelta(seconds=1)).isoformat()}, id="timestamp"),
    ],
)
async def test_same_key_different_content_is_409_and_stores_nothing_of_the_batch(
    client, tenant, change: dict[str, object]
) -> None:
    original = event_body(quantity=5, timestamp=BASE_TIME)
    await record(client, tenant, original)
    before = await stored(client, tenant)

    fresh = event_body(feature_key="storage")
    response = await post_events(client, tenant, [fresh, {**original, **change}])

    assert_problem(response, 409, "events[1].idempotency_key")
    assert await stored(client, tenant) == before
    assert await record(client, tenant, fresh) == {"accepted": 1, "duplicates": 0}


async def test_same_key_twice_in_a_batch_identical_counts_once(client, tenant) -> None:
    event, other = event_body(), event_body()
    assert await record(client, tenant, event, other, event) == {"accepted": 2, "duplicates": 1}
    assert (await stored(client, tenant))["api_calls"] == total(event, other)
    assert await record(client, tenant, event) == {"accepted": 0, "duplicates": 1}


async def test_concurrent_identical_batches_count_each_event_once(client, tenant) -> None:
    events = [event_body() for _ in range(20)]
    async with anyio.create_task_group() as group:
        results: list[dict[str, int]] = []

        async def send() -> None:
            results.append(await record(client, tenant, *events))

        for _ in range(5):
            group.start_soon(send)
    assert sum(r["accepted"] for r in results) == len(events)
    assert sum(r["duplicates"] for r in results) == 4 * len(events)
    assert (await stored(client, tenant))["api_calls"] == total(*events)


async def test_same_key_twice_in_a_batch_different_is_400(client, tenant) -> None:
    event = event_body(quantity=1)
    other = event_body()
    response = await post_events(client, tenant, [event, other, {**event, "quantity": 2}])
    assert_problem(response, 400, "events[2].idempotency_key")
    await assert_nothing_stored(client, tenant, event, other)


async def test_resent_event_without_timestamp_is_a_duplicate(client, tenant) -> None:
    event = event_body(timestamp=None)
    assert await record(client, tenant, event) == {"accepted": 1, "duplicates": 0}
    assert await record(client, tenant, event) == {"accepted": 0, "duplicates": 1}
    assert (await stored(client, tenant, **current_month()))["api_calls"] == event["quantity"]


# --- timestamps ------------------------------------------------------------------------------------


async def test_omitted_timestamp_is_the_receipt_time(client, tenant) -> None:
    before = datetime.now(UTC)
    event = event_body(timestamp=None, quantity=7)
    await record(client, tenant, event)
    after = datetime.now(UTC)

    around = {"period_start": before.isoformat(), "period_end": (after + timedelta(microseconds=1)).isoformat()}
    assert (await stored(client, tenant, **around))["api_calls"] == 7
    response = await client.get(totals_url(tenant), headers=bearer(Role.VIEWER, tenant))
    row = next(r for r in response.json() if r["feature_key"] == "api_calls")
    assert datetime.fromisoformat(row["window_start"]) <= after < datetime.fromisoformat(row["window_end"])
    assert row["quantity"] == 7


@pytest.mark.parametrize(
    ("sent", "instant"),
    [
        pytest.param("2025-10-01T01:30:00+02:00", datetime(2025, 9, 30, 23, 30, tzinfo=UTC), id="plus-two-hours"),
        pytest.param("2025-09-30T20:30:00-03:00", datetime(2025, 9, 30, 23, 30, tzinfo=UTC), id="minus-three-hours"),
        pytest.param("2025-10-01T00:30:00.000001Z", datetime(2025, 10, 1, 0, 30, 0, 1, tzinfo=UTC), id="micros-z"),
    ],
)
async def test_timestamp_counts_at_its_utc_instant(client, tenant, sent: str, instant: datetime) -> None:
    await record(client, tenant, {**event_body(quantity=4), "timestamp": sent})

    exact = {"period_start": instant.isoformat(), "period_end": (instant + timedelta(microseconds=1)).isoformat()}
    before = {"period_start": (instant - timedelta(hours=3)).isoformat(), "period_end": instant.isoformat()}
    after = {
        "period_start": (instant + timedelta(microseconds=1)).isoformat(),
        "period_end": (instant + timedelta(hours=3)).isoformat(),
    }
    assert (await stored(client, tenant, **exact))["api_calls"] == 4
    assert (await stored(client, tenant, **before))["api_calls"] == 0
    assert (await stored(client, tenant, **after))["api_calls"] == 0


async def test_timestamp_four_minutes_ahead_is_accepted(client, tenant) -> None:
    ahead = datetime.now(UTC) + timedelta(minutes=4)
    event = event_body(timestamp=ahead, quantity=9)
    assert await record(client, tenant, event) == {"accepted": 1, "duplicates": 0}
    around = {"period_start": ahead.isoformat(), "period_end": (ahead + timedelta(seconds=1)).isoformat()}
    assert (await stored(client, tenant, **around))["api_calls"] == 9


# --- input limits: the whole batch is refused and the detail names the field -----------------------


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        pytest.param({"quantity": -1}, "events[1].quantity", id="quantity-negative"),
        pytest.param({"quantity": MAX_QUANTITY + 1}, "events[1].quantity", id="quantity-2**53"),
        pytest.param({"quantity": 1.5}, "events[1].quantity", id="quantity-fraction"),
        pytest.param({"quantity": True}, "events[1].quantity", id="quantity-bool"),
        pytest.param({"quantity": "3"}, "events[1].quantity", id="quantity-string"),
        pytest.param({"idempotency_key": ""}, "events[1].idempotency_key", id="key-empty"),
        pytest.param({"idempotency_key": "k" * 256}, "events[1].idempotency_key", id="key-256-chars"),
        pytest.param({"timestamp": "yesterday"}, "events[1].timestamp", id="timestamp-not-a-datetime"),
        pytest.param({"timestamp": 1790000000}, "events[1].timestamp", id="timestamp-number"),
        pytest.param({"timestamp": "0001-01-01T00:00:00+01:00"}, "events[1].timestamp", id="timestamp-before-year-1"),
        pytest.param({"feature_key": "unknown_feature"}, "events[1].feature_key", id="feature-unknown"),
        pytest.param({"feature_key": "Api Calls"}, "events[1].feature_key", id="feature-bad-pattern"),
    ],
)
async def test_bad_event_refuses_the_whole_batch(client, tenant, bad: dict[str, object], field: str) -> None:
    good = event_body(quantity=3)
    response = await post_events(client, tenant, [good, {**event_body(), **bad}])
    assert_problem(response, 400, field)
    await assert_nothing_stored(client, tenant, good)


@ONE_DATABASE
async def test_timestamp_beyond_five_minutes_ahead_refuses_the_batch(client, tenant) -> None:
    good = event_body(quantity=3)
    too_late = datetime.now(UTC) + timedelta(minutes=6)
    response = await post_events(client, tenant, [good, event_body(timestamp=too_late)])
    assert_problem(response, 400, "events[1].timestamp")
    await assert_nothing_stored(client, tenant, good)


@pytest.mark.parametrize("missing", ["feature_key", "quantity", "idempotency_key"], ids=lambda name: f"missing-{name}")
@ONE_DATABASE
async def test_missing_required_field_is_400_naming_it(client, tenant, missing: str) -> None:
    event = event_body()
    del event[missing]
    assert_problem(await post_events(client, tenant, [event]), 400, missing)
    await assert_nothing_stored(client, tenant)


@pytest.mark.parametrize(
    "field",
    [
        pytest.param({"quantity": 0}, id="quantity-0"),
        pytest.param({"quantity": MAX_QUANTITY}, id="quantity-2**53-1"),
        pytest.param({"idempotency_key": "k" * 255}, id="key-255-chars"),
        pytest.param({"idempotency_key": "ü-ключ-🔑"}, id="key-unicode"),
    ],
)
async def test_values_at_the_limits_are_accepted(client, tenant, field: dict[str, object]) -> None:
    event = {**event_body(), **field}
    assert await record(client, tenant, event) == {"accepted": 1, "duplicates": 0}
    assert await record(client, tenant, event) == {"accepted": 0, "duplicates": 1}
    assert (await stored(client, tenant))["api_calls"] == event["quantity"]


@pytest.mark.parametrize("size", [0, MAX_BATCH + 1], ids=["empty", "1001-events"])
@ONE_DATABASE
async def test_batch_size_out_of_range_is_400(client, tenant, size: int) -> None:
    events = [event_body() for _ in range(size)]
    assert_problem(await post_events(client, tenant, events), 400, "events")
    await assert_nothing_stored(client, tenant)


async def test_largest_batch_is_accepted(client, tenant) -> None:
    events = [event_body() for _ in range(MAX_BATCH)]
    assert await record(client, tenant, *events) == {"accepted": MAX_BATCH, "duplicates": 0}
    assert (await stored(client, tenant))["api_calls"] == total(*events)


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"{not json", id="not-json"),
        pytest.param(b"[]", id="not-an-object"),
        pytest.param(b'{"events": {}}', id="events-not-a-list"),
    ],
)
@ONE_DATABASE
async def test_malformed_body_is_400(client, tenant, body: bytes) -> None:
    response = await client.post(
        events_url(tenant), content=body, headers={**bearer(Role.PLATFORM), "content-type": "application/json"}
    )
    assert_problem(response, 400)


@ONE_DATABASE
async def test_body_over_one_mebibyte_is_413(client, tenant) -> None:
    padding = "x" * (1024 * 1024)
    event = event_body() | {"idempotency_key": "k", "padding": padding}
    response = await post_events(client, tenant, [event])
    assert_problem(response, 413)
    await assert_nothing_stored(client, tenant)


# --- roles and tenants -----------------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER])
@ONE_DATABASE
async def test_read_only_roles_may_not_record(client, tenant, role: Role) -> None:
    response = await post_events(client, tenant, [event_body()], headers=bearer(role, tenant))
    assert_problem(response, 403)
    await assert_nothing_stored(client, tenant)


@pytest.mark.parametrize("role", [Role.ADMIN, Role.OWNER, Role.PLATFORM])
async def test_recording_roles_may_record(client, tenant, role: Role) -> None:
    event = event_body()
    token_tenant = None if role is Role.PLATFORM else tenant
    response = await post_events(client, tenant, [event], headers=bearer(role, token_tenant))
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": 1, "duplicates": 0}
    assert (await stored(client, tenant))["api_calls"] == event["quantity"]


@ONE_DATABASE
async def test_admin_of_another_tenant_is_403_and_stores_nothing(client, tenant) -> None:
    other = uuid.uuid4()
    response = await post_events(client, tenant, [event_body()], headers=bearer(Role.ADMIN, other))
    assert_problem(response, 403)
    assert str(tenant) not in response.text
    await assert_nothing_stored(client, tenant)
    assert await stored(client, other) == {"api_calls": 0, "storage": 0}


@pytest.mark.parametrize("path_tenant", ["not-a-uuid", "12345", "0" * 33])
@ONE_DATABASE
async def test_non_uuid_tenant_in_path_is_400(client, tenant, path_tenant: str) -> None:
    response = await post_events(client, path_tenant, [event_body()])
    assert_problem(response, 400, "tenant_id")
