"""Windowed totals in any time zone, for every aggregation and with voids, equal a plain Python model:
zoneinfo calendar arithmetic and brute-force sums, counts, maxima, minima and latest values over the raw events.
On SQLite and PostgreSQL, with periods around DST changes."""

from __future__ import annotations

import itertools
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from tests.conftest import FEATURES_URL, PLATFORM, bearer, events_url, totals_url

pytestmark = pytest.mark.anyio

ZONES = ["UTC", "America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe", "Asia/Kathmandu"]
AGGREGATIONS = {"w_sum": "sum", "w_count": "count", "w_max": "max", "w_min": "min", "w_latest": "latest"}
# Local dates near 2026's DST changes: US Mar 8 / Nov 1, EU Mar 29 / Oct 25, Lord Howe Apr 5 / Oct 4.
NOW = datetime.now(UTC)  # events may not lie in the future
ANCHORS = [
    date(2026, 3, 7),
    date(2026, 3, 28),
    date(2026, 4, 4),
    date(2026, 10, 3),
    date(2026, 10, 24),
    date(2026, 10, 31),
]


@dataclass
class Event:
    key: str
    feature: str
    quantity: int
    at: datetime
    order: tuple[int, int]  # (batch number, position): later-recorded wins a tie in `latest`


def local_midnight(day: date, tz: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def model_windows(size: str | None, tz: ZoneInfo, first: date, count: int) -> list[tuple[datetime, datetime]]:
    """Consecutive windows from local midnight of ``first``, computed plainly with zoneinfo."""
    if size is None:
        return [(local_midnight(first, tz), local_midnight(first + timedelta(days=count), tz))]
    if size == "hour":
        start = local_midnight(first, tz)
        return [(start + timedelta(hours=i), start + timedelta(hours=i + 1)) for i in range(count)]
    if size == "day":
        return [
            (local_midnight(first + timedelta(days=i), tz), local_midnight(first + timedelta(days=i + 1), tz))
            for i in range(count)
        ]
    months = [
        date(first.year + (first.month - 1 + i) // 12, (first.month - 1 + i) % 12 + 1, 1) for i in range(count + 1)
    ]
    return [(local_midnight(a, tz), local_midnight(b, tz)) for a, b in itertools.pairwise(months)]


def model_value(aggregation: str, events: list[Event]) -> int:
    if not events:
        return 0
    if aggregation == "sum":
        return sum(e.quantity for e in events)
    if aggregation == "count":
        return len(events)
    if aggregation == "max":
        return max(e.quantity for e in events)
    if aggregation == "min":
        return min(e.quantity for e in events)
    return max(events, key=lambda e: (e.at, e.order)).quantity


@st.composite
def scenarios(draw: st.DrawFn) -> dict[str, object]:
    tz = ZoneInfo(draw(st.sampled_from(ZONES)))
    size = draw(st.sampled_from([None, "hour", "day", "month"]))
    anchor = draw(st.sampled_from(ANCHORS))
    first = anchor.replace(day=1) if size == "month" else anchor
    count = draw(st.integers(1, {"hour": 60, "day": 4, "month": 2, None: 3}[size]))
    windows = model_windows(size, tz, first, count)
    start, end = windows[0][0], windows[-1][1]
    span = (end - start).total_seconds()
    offsets = st.one_of(
        st.floats(-3600, span + 3600),  # anywhere, a little outside the period too
        st.sampled_from([0.0, span, span - 1e-6, 1800.0, 900.0]),  # on and next to edges
    )
    batches = draw(
        st.lists(
            st.lists(
                st.tuples(st.sampled_from(sorted(AGGREGATIONS)), st.integers(0, 50), offsets),
                min_size=1,
                max_size=8,
            ),
            min_size=1,
            max_size=4,
        )
    )
    events: list[Event] = []
    for b, batch in enumerate(batches):
        for i, (feature, quantity, offset) in enumerate(batch):
            # Round to whole seconds so several events share a timestamp: ties for `latest`.
            at = min(start + timedelta(seconds=round(offset / 600) * 600), NOW - timedelta(hours=1))
            events.append(Event(f"k{b}-{i}", feature, quantity, at, (b, i)))
    voided = draw(st.sets(st.sampled_from([e.key for e in events]), max_size=3))
    return {"tz": tz, "size": size, "windows": windows, "batches": len(batches), "events": events, "voided": voided}


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow]
)
@given(scenario=scenarios())
async def test_windowed_totals_equal_the_model(client, scenario) -> None:
    tz, size, windows, events, voided = (scenario[k] for k in ("tz", "size", "windows", "events", "voided"))
    tenant = uuid.uuid4()
    for feature, aggregation in AGGREGATIONS.items():
        r = await client.put(
            f"{FEATURES_URL}/{feature}", json={"unit": "u", "aggregation": aggregation}, headers=PLATFORM
        )
        assert r.status_code in (200, 201), r.text
    for b in range(scenario["batches"]):
        batch = [e for e in events if e.order[0] == b]
        body = [
            {"feature_key": e.feature, "quantity": e.quantity, "timestamp": e.at.isoformat(), "idempotency_key": e.key}
            for e in batch
        ]
        r = await client.post(events_url(tenant), json={"events": body}, headers=PLATFORM)
        assert r.status_code == 200, r.text
    for key in sorted(voided):
        r = await client.post(f"{events_url(tenant)}/{key}/void", json={"reason": "test"}, headers=PLATFORM)
        assert r.status_code == 200, r.text

    params: dict[str, str] = {
        "period_start": windows[0][0].isoformat(),
        "period_end": windows[-1][1].isoformat(),
        "timezone": str(tz),
    }
    if size is not None:
        params["window_size"] = size
    r = await client.get(totals_url(tenant), params=params, headers=bearer("viewer", tenant))
    if size == "hour" and str(tz) == "Australia/Lord_Howe":
        # Lord Howe moves by 30 minutes: an end that is not a local whole hour is refused; skip those.
        assume(r.status_code == 200)
    assert r.status_code == 200, r.text

    live = [e for e in events if e.key not in voided]
    expected = [
        (
            feature,
            start,
            end,
            model_value(aggregation, [e for e in live if e.feature == feature and start <= e.at < end]),
        )
        for feature, aggregation in sorted(AGGREGATIONS.items())
        for start, end in windows
    ]
    got = [
        (
            row["feature_key"],
            datetime.fromisoformat(row["window_start"]),
            datetime.fromisoformat(row["window_end"]),
            row["quantity"],
        )
        for row in r.json()
    ]
    assert got == expected
