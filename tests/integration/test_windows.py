"""window_size and timezone: DST days, alignment rules, limits and bad input."""

from __future__ import annotations

import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import assert_problem, bearer, put_features, record, totals_url

pytestmark = pytest.mark.anyio


async def windows_of(client, tenant, **params):
    r = await client.get(totals_url(tenant), params=params, headers=bearer("viewer", tenant))
    assert r.status_code == 200, r.text
    return [(row["window_start"], row["window_end"], row["quantity"]) for row in r.json()]


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        ("America/New_York", "2026-11-01", 25),  # DST ends
        ("America/New_York", "2026-03-08", 23),  # DST starts
        ("Europe/Berlin", "2026-03-29", 23),
        ("Europe/Berlin", "2026-10-25", 25),
        ("Australia/Lord_Howe", "2026-04-05", 24.5),  # a half-hour change
        ("Asia/Kolkata", "2026-11-01", 24),
    ],
)
async def test_day_windows_follow_local_midnight_through_dst(client, zone, day, hours) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    midnight = datetime.fromisoformat(day).replace(tzinfo=ZoneInfo(zone))
    rows = await windows_of(client, tenant, window_size="day", timezone=zone, period_start=midnight.isoformat())
    # period_end omitted: the rest of the local calendar month, one row per local day
    lengths = {
        start: (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds() / 3600
        for start, end, _ in rows
    }
    assert next(iter(lengths.values())) == hours
    assert all(start.endswith("Z") and end.endswith("Z") for start, end, _ in rows)


@pytest.mark.parametrize(
    ("timestamp", "params", "expected"),
    [
        pytest.param(  # 2026-10-31T23:30-04:00 is Nov 1 in UTC but Oct 31 in New York
            "2026-11-01T03:30:00Z",
            {"window_size": "day", "timezone": "America/New_York"},
            [("2026-10-31T04:00:00Z", "2026-11-01T04:00:00Z", 7), ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z", 0)],
            id="local-day",
        ),
        pytest.param(
            "2026-11-02T10:45:00+05:30",
            {"window_size": "hour", "timezone": "Asia/Kolkata"},
            [("2026-11-02T04:30:00Z", "2026-11-02T05:30:00Z", 7), ("2026-11-02T05:30:00Z", "2026-11-02T06:30:00Z", 0)],
            id="half-hour-zone-hours",
        ),
    ],
)
async def test_an_event_counts_in_its_local_window(client, timestamp, params, expected) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    await record(
        client, tenant, {"feature_key": "api_calls", "quantity": 7, "idempotency_key": "a", "timestamp": timestamp}
    )
    period = {"period_start": expected[0][0], "period_end": expected[-1][1]}
    assert await windows_of(client, tenant, **params, **period) == expected


async def test_month_windows_and_local_month_defaults(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    rows = await windows_of(
        client,
        tenant,
        window_size="month",
        timezone="Asia/Kolkata",
        period_start="2026-08-01T00:00:00+05:30",
        period_end="2026-11-01T00:00:00+05:30",
    )
    assert [start for start, _, _ in rows] == ["2026-07-31T18:30:00Z", "2026-08-31T18:30:00Z", "2026-09-30T18:30:00Z"]
    # Without bounds: the current calendar month in the zone, as one row.
    (only,) = await windows_of(client, tenant, timezone="Asia/Kolkata")
    assert only[0].endswith("18:30:00Z")


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"window_size": "week"}, "window_size"),
        (
            {"window_size": "day", "period_start": "2026-11-01T01:00:00Z", "period_end": "2026-11-03T00:00:00Z"},
            "period_start",
        ),
        (
            {
                "window_size": "day",
                "timezone": "Europe/Berlin",
                "period_start": "2026-11-01T00:00:00Z",
                "period_end": "2026-11-03T00:00:00Z",
            },
            "period_start",
        ),
        (
            {"window_size": "month", "period_start": "2026-10-02T00:00:00Z", "period_end": "2026-11-01T00:00:00Z"},
            "period_start",
        ),
        (
            {"window_size": "hour", "period_start": "2026-11-01T00:00:00Z", "period_end": "2026-11-01T05:30:00Z"},
            "period_end",
        ),
        (
            {"window_size": "hour", "period_start": "2020-01-01T00:00:00Z", "period_end": "2026-01-01T00:00:00Z"},
            "window_size",
        ),
    ],
)
async def test_bad_windows_are_400(client, params, field) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    r = await client.get(totals_url(tenant), params=params, headers=bearer("viewer", tenant))
    assert_problem(r, 400, field)


async def test_more_than_10000_rows_is_400(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, *(f"f{i}" for i in range(15)))
    # 15 features x 744 hours of a 31-day month = 11,160 rows
    r = await client.get(
        totals_url(tenant),
        params={"window_size": "hour", "period_start": "2026-10-01T00:00:00Z", "period_end": "2026-11-01T00:00:00Z"},
        headers=bearer("viewer", tenant),
    )
    body = assert_problem(r, 400, "10000")
    assert "narrow" in str(body["detail"])
