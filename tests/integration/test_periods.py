"""Final numbers: grace periods, closing billing periods, 409 period-closed, final totals, the period listing.

Periods are calendar months counted from the real clock: last month with a 90-day grace is always in its grace,
a month three months ago with a one-hour grace always past it.
"""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker

from tally.db.engine import create_engine
from tally.domain.usage import UsageBatch, UsageEventIn
from tally.http.cursors import encode_cursor
from tally.metering.periods import month_start, rfc3339
from tally.periods.closer import PeriodCloser
from tally.periods.service import PeriodService
from tally.usage.recording import UsageRecorder
from tests.conftest import (
    PLATFORM,
    assert_problem,
    bearer,
    events_url,
    post_events,
    put_features,
    quantities,
    record,
    totals_url,
)
from tests.integration.conftest import app_client
from tests.integration.test_webhooks import DELIVERIES_URL, ENDPOINTS_URL

pytestmark = pytest.mark.anyio

NOW = datetime.now(UTC)
THIS_MONTH = month_start(NOW)
LAST_MONTH = month_start(THIS_MONTH - timedelta(days=1))
BEFORE_LAST = month_start(LAST_MONTH - timedelta(days=1))


def at(instant: datetime, hours: int = 10) -> str:
    return rfc3339(instant + timedelta(hours=hours))


def event(key: str, quantity: int, timestamp: str) -> dict[str, object]:
    return {"feature_key": "api_calls", "quantity": quantity, "idempotency_key": key, "timestamp": timestamp}


def periods_url(tenant: uuid.UUID) -> str:
    return f"/api/v1/billing/tenants/{tenant}/periods"


async def on_plan(client, tenant: uuid.UUID, plan_grace: str | None, own_grace: str | None = None) -> None:
    r = await client.put(
        "/api/v1/billing/plans/pro", json={"name": "Pro", "grace_period": plan_grace}, headers=PLATFORM
    )
    assert r.status_code in (200, 201), r.text
    assignment = {"plan_key": "pro", "grace_period": own_grace}
    r = await client.put(f"/api/v1/billing/tenants/{tenant}/plan", json=assignment, headers=PLATFORM)
    assert r.status_code == 200, r.text


async def close(client, tenant: uuid.UUID, period_end: datetime, headers=PLATFORM):
    return await client.post(f"{periods_url(tenant)}/close", json={"period_end": rfc3339(period_end)}, headers=headers)


async def periods(client, tenant: uuid.UUID) -> list[dict]:
    r = await client.get(periods_url(tenant), headers=bearer("viewer", tenant))
    assert r.status_code == 200, r.text
    return r.json()["items"]


def last_month() -> dict[str, str]:
    return {"period_start": rfc3339(LAST_MONTH), "period_end": rfc3339(THIS_MONTH)}


async def test_a_late_event_in_grace_counts_then_the_close_refuses_it(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await on_plan(client, tenant, "P90D")
    assert await record(client, tenant, event("late", 5, at(LAST_MONTH))) == {"accepted": 1, "duplicates": 0}
    assert (await quantities(client, tenant, **last_month()))["api_calls"] == 5
    listed = await periods(client, tenant)
    assert [(p["period_start"], p["state"]) for p in listed] == [
        (rfc3339(THIS_MONTH), "open"),
        (rfc3339(LAST_MONTH), "grace"),
    ]
    assert listed[1]["grace_ends_at"] == rfc3339(THIS_MONTH + timedelta(days=90))
    assert listed[1]["totals"] is None

    r = await close(client, tenant, THIS_MONTH)
    assert r.status_code == 200, r.text
    (closed,) = r.json()
    assert (closed["period_start"], closed["state"]) == (rfc3339(LAST_MONTH), "closed")
    assert [(t["feature_key"], t["quantity"], t["final"]) for t in closed["totals"]] == [("api_calls", 5, True)]

    # The whole batch is refused: the event of this month is not stored either.
    r = await post_events(client, tenant, [event("now", 1, at(THIS_MONTH, 0)), event("later", 7, at(LAST_MONTH, 20))])
    body = assert_problem(r, 409, "events[1]", rfc3339(LAST_MONTH), rfc3339(THIS_MONTH))
    assert body["type"] == "urn:tally:problem:period-closed"
    assert (await quantities(client, tenant, **last_month()))["api_calls"] == 5
    assert (await quantities(client, tenant))["api_calls"] == 0
    # Re-sending the event recorded before the close is a duplicate, never an error.
    assert await record(client, tenant, event("late", 5, at(LAST_MONTH))) == {"accepted": 0, "duplicates": 1}
    r = await client.post(f"{events_url(tenant)}/late/void", json={"reason": "wrong"}, headers=PLATFORM)
    assert_problem(r, 409, "idempotency_key", rfc3339(LAST_MONTH))
    assert (await quantities(client, tenant, **last_month()))["api_calls"] == 5


async def test_final_totals_equal_what_was_recorded(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await record(client, tenant, event("a", 3, at(BEFORE_LAST)), event("b", 4, at(LAST_MONTH)))
    await record(client, tenant, event("c", 9, at(THIS_MONTH, 0)))
    assert [p["period_start"] for p in (await close(client, tenant, THIS_MONTH)).json()] == [
        rfc3339(BEFORE_LAST),
        rfc3339(LAST_MONTH),
    ]
    r = await client.get(
        f"/api/v1/billing/tenants/{tenant}/usage-totals",
        params={
            "period_start": rfc3339(BEFORE_LAST),
            "period_end": rfc3339(month_start(NOW + timedelta(days=32))),
            "window_size": "month",
        },
        headers=PLATFORM,
    )
    assert r.status_code == 200, r.text
    read = [(t["window_start"], t["quantity"], t["final"]) for t in r.json()]
    assert read == [(rfc3339(BEFORE_LAST), 3, True), (rfc3339(LAST_MONTH), 4, True), (rfc3339(THIS_MONTH), 9, False)]
    recorded = {p["period_start"]: p["totals"] for p in await periods(client, tenant) if p["state"] == "closed"}
    assert {start: [t["quantity"] for t in totals] for start, totals in recorded.items()} == {
        rfc3339(BEFORE_LAST): [3],
        rfc3339(LAST_MONTH): [4],
    }
    # Closing again changes nothing.
    assert (await close(client, tenant, THIS_MONTH)).json() == []


async def test_the_tenants_grace_wins_and_a_passed_grace_closes_at_once(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await on_plan(client, tenant, "P90D")
    await record(client, tenant, event("old", 2, at(BEFORE_LAST)))
    # One hour after its end, the month before last is past its grace: closed, recorded or not.
    await on_plan(client, tenant, "P90D", own_grace="PT1H")
    r = await post_events(client, tenant, [event("older", 1, at(BEFORE_LAST, 1))])
    assert_problem(r, 409, "events[0]")
    listed = {p["period_start"]: p for p in await periods(client, tenant)}
    assert listed[rfc3339(BEFORE_LAST)]["state"] == "closed"
    assert [t["quantity"] for t in listed[rfc3339(BEFORE_LAST)]["totals"]] == [2]
    assert listed[rfc3339(BEFORE_LAST)]["closed_at"] == rfc3339(LAST_MONTH + timedelta(hours=1))


async def test_without_a_grace_periods_stay_open(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await on_plan(client, tenant, None)
    assert await record(client, tenant, event("old", 2, at(BEFORE_LAST))) == {"accepted": 1, "duplicates": 0}
    assert {p["state"] for p in await periods(client, tenant)} == {"open"}


async def test_close_is_for_the_platform_and_the_past(client) -> None:
    tenant = uuid.uuid4()
    assert (await close(client, tenant, THIS_MONTH, headers=bearer("admin", tenant))).status_code == 403
    assert_problem(await close(client, tenant, NOW + timedelta(days=40)), 400, "period_end")


async def test_a_grace_longer_than_90_days_is_refused(client) -> None:
    r = await client.put("/api/v1/billing/plans/pro", json={"name": "Pro", "grace_period": "P91D"}, headers=PLATFORM)
    assert_problem(r, 400, "grace_period")
    r = await client.put("/api/v1/billing/plans/pro", json={"name": "Pro", "grace_period": "3 days"}, headers=PLATFORM)
    assert r.status_code == 400


@pytest.fixture
async def quiet_client(database_url: str):
    """An app that neither sends webhooks nor closes periods by itself: the test runs the closes."""
    async for client in app_client(database_url, webhook_delivery_enabled=False, period_close_enabled=False):
        yield client


async def test_two_closers_record_a_passed_grace_once_with_one_message(quiet_client, database_url) -> None:
    client, tenant = quiet_client, uuid.uuid4()
    await put_features(client, "api_calls")
    endpoint = {"url": "http://127.0.0.1:9/hook", "events": ["period.closed"], "tenant_id": str(tenant)}
    assert (await client.post(ENDPOINTS_URL, json=endpoint, headers=PLATFORM)).status_code == 201
    await on_plan(client, tenant, "P90D")
    await record(client, tenant, event("a", 3, at(BEFORE_LAST)), event("b", 4, at(LAST_MONTH)))
    await on_plan(client, tenant, "P90D", own_grace="PT1H")  # both months are past their grace now

    engines = [create_engine(database_url), create_engine(database_url)]
    try:
        closers = [PeriodCloser(engine, poll_seconds=60) for engine in engines]
        counts = await asyncio.gather(*(closer.close_due(datetime.now(UTC)) for closer in closers))
        assert sorted(counts) == [0, 2]
        assert [await closer.close_due(datetime.now(UTC)) for closer in closers] == [0, 0]
    finally:
        for engine in engines:
            await engine.dispose()

    listed = {p["period_start"]: p for p in await periods(client, tenant)}
    assert [t["quantity"] for t in listed[rfc3339(BEFORE_LAST)]["totals"]] == [3]
    assert listed[rfc3339(LAST_MONTH)]["closed_at"] == rfc3339(THIS_MONTH + timedelta(hours=1))
    r = await client.get(DELIVERIES_URL, headers=PLATFORM)
    assert r.status_code == 200, r.text
    assert [d["event_type"] for d in r.json()["items"]] == ["period.closed", "period.closed"]


async def test_as_of_before_and_after_a_void_json_and_csv(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    before = datetime.now(UTC) - timedelta(seconds=1)
    await record(client, tenant, event("a", 5, at(LAST_MONTH)), event("b", 2, at(LAST_MONTH, 30)))
    between = datetime.now(UTC)
    r = await client.post(f"{events_url(tenant)}/a/void", json={"reason": "wrong"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    after = datetime.now(UTC)
    for known_at, expected in ((before, 0), (between, 7), (after, 2)):
        params = {**last_month(), "as_of": rfc3339(known_at)}
        assert (await quantities(client, tenant, **params))["api_calls"] == expected
        r = await client.get(
            f"/api/v1/billing/tenants/{tenant}/usage-totals", params=params, headers={**PLATFORM, "Accept": "text/csv"}
        )
        assert r.status_code == 200, r.text
        assert r.text.splitlines()[1].split(",")[2] == str(expected)
    r = await client.get(
        f"/api/v1/billing/tenants/{tenant}/usage-totals", params={"as_of": "2026-12-01T00:00:00"}, headers=PLATFORM
    )
    assert_problem(r, 400, "as_of")


async def test_periods_come_a_page_at_a_time_newest_first(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await record(client, tenant, event("old", 1, at(BEFORE_LAST)))
    starts, cursor = [], None
    while True:
        params = {"limit": 1, **({"cursor": cursor} if cursor else {})}
        r = await client.get(periods_url(tenant), params=params, headers=PLATFORM)
        assert r.status_code == 200, r.text
        page = r.json()
        starts += [p["period_start"] for p in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert starts == [rfc3339(THIS_MONTH), rfc3339(LAST_MONTH), rfc3339(BEFORE_LAST)]
    r = await client.get(periods_url(tenant), params={"cursor": "nonsense"}, headers=PLATFORM)
    assert_problem(r, 400, "cursor")
    r = await client.get(totals_url(tenant), params={"as_of": rfc3339(NOW + timedelta(days=1))}, headers=PLATFORM)
    assert_problem(r, 400, "as_of")
    assert_problem(await close(client, tenant, datetime(1, 1, 1, tzinfo=UTC)), 400, "period_end")


async def test_one_close_records_at_most_ten_years_and_closes_everything_before(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    ancient = datetime(1990, 5, 3, tzinfo=UTC)
    await record(client, tenant, event("ancient", 4, rfc3339(ancient)), event("recent", 1, at(LAST_MONTH)))
    closed = (await close(client, tenant, THIS_MONTH)).json()
    assert len(closed) == 120
    assert closed[-1]["period_start"] == rfc3339(LAST_MONTH)
    r = await post_events(client, tenant, [event("older", 1, rfc3339(ancient))])
    assert_problem(r, 409, "events[0]")
    r = await client.get(
        periods_url(tenant), params={"cursor": encode_cursor(datetime(1990, 6, 1, tzinfo=UTC), "")}, headers=PLATFORM
    )
    (may,) = r.json()["items"][:1]
    assert (may["period_start"], may["state"]) == (rfc3339(datetime(1990, 5, 1, tzinfo=UTC)), "closed")
    assert [t["quantity"] for t in may["totals"]] == [4]
    assert may["closed_at"] == closed[0]["closed_at"]


WAITING = text(
    "SELECT count(*) FROM pg_locks WHERE NOT granted"
    " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
)


@pytest.mark.parametrize("database_url", ["postgres"], indirect=True)
async def test_a_close_waits_for_a_batch_in_flight_and_counts_it(client, database_url) -> None:
    """A batch has passed its closed-period check and not committed; a close of its period starts. The close must
    wait for the batch (the period lock) and record its event; without the lock it would record the period
    without it, and the batch would then commit into a closed period."""
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    engine = create_engine(database_url)
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    try:
        async with sessions() as batch_session, sessions() as close_session, sessions() as watcher:
            recorder = UsageRecorder(batch_session)
            inside, release = asyncio.Event(), asyncio.Event()
            commit = recorder.transaction.commit

            async def held_commit() -> None:
                inside.set()
                await release.wait()
                await commit()

            recorder.transaction.commit = held_commit  # type: ignore[method-assign]
            late = UsageEventIn(feature_key="api_calls", quantity=6, idempotency_key="late", timestamp=LAST_MONTH)
            batch = asyncio.create_task(recorder.record(tenant, UsageBatch(events=[late]), datetime.now(UTC)))
            await inside.wait()
            closing = asyncio.create_task(PeriodService(close_session).close(tenant, THIS_MONTH, datetime.now(UTC)))
            while not closing.done():  # until the close waits for a lock (or, without one, has finished)
                waiting = await watcher.scalar(WAITING)
                await watcher.rollback()
                if waiting:
                    break
                await asyncio.sleep(0.01)
            release.set()
            await batch
            (closed,) = await closing
    finally:
        await engine.dispose()
    assert [t.quantity for t in closed.totals or []] == [6]
    assert (await quantities(client, tenant, **last_month()))["api_calls"] == 6


async def test_after_a_change_of_zone_the_next_period_starts_where_the_closed_ones_end(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await on_plan(client, tenant, None)  # in UTC
    await record(client, tenant, event("a", 1, at(BEFORE_LAST)), event("b", 2, at(LAST_MONTH)))
    assert len((await close(client, tenant, LAST_MONTH)).json()) == 1  # the month before last
    tokyo = {"plan_key": "pro", "timezone": "Asia/Tokyo"}
    r = await client.put(f"/api/v1/billing/tenants/{tenant}/plan", json=tokyo, headers=PLATFORM)
    assert r.status_code == 200, r.text
    (closed,) = (await close(client, tenant, NOW)).json()
    assert closed["period_start"] == rfc3339(LAST_MONTH)  # not Tokyo's month start, 9 hours earlier
    assert closed["period_end"] == rfc3339(THIS_MONTH - timedelta(hours=9))
    assert [t["quantity"] for t in closed["totals"]] == [2]
