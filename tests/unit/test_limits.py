"""The pure rules of limits and of a card's limit: periods in a time zone, which period judges an event, the
first event over a limit, and what the usage page says about a limit and its estimate."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tally.domain.catalog import Aggregation
from tally.domain.plans import Enforcement, Entitlement, Limit, LimitPeriod
from tally.metering.aggregations import State
from tally.metering.events import NewEvent
from tally.metering.limits import WatchedPeriod, effective, first_over, period_bounds, reached, watched_periods
from tally.ui.limits import limit_view

BERLIN = ZoneInfo("Europe/Berlin")


def test_periods_follow_the_local_calendar() -> None:
    at = datetime(2026, 3, 29, 12, tzinfo=UTC)  # Berlin's spring-forward day: 23 hours long
    start, end = period_bounds(at, LimitPeriod.DAY, BERLIN)
    assert (start, end - start) == (datetime(2026, 3, 28, 23, tzinfo=UTC), timedelta(hours=23))
    start, end = period_bounds(datetime(2026, 11, 30, 23, 30, tzinfo=UTC), LimitPeriod.MONTH, BERLIN)
    assert (start, end) == (datetime(2026, 11, 30, 23, tzinfo=UTC), datetime(2026, 12, 31, 23, tzinfo=UTC))


def event(index: int, quantity: int, at: datetime, feature_key: str = "api_calls") -> NewEvent:
    return NewEvent(index, f"k{index}", feature_key, quantity, at, True, at, {}, "{}")


def test_each_event_is_judged_in_its_own_period_and_only_rejecting_or_notifying_limits_watch() -> None:
    today, yesterday = datetime(2026, 12, 2, 10, tzinfo=UTC), datetime(2026, 12, 1, 10, tzinfo=UTC)
    limits = effective(
        [Limit(feature_key="api_calls", limit=5, period=LimitPeriod.DAY, enforcement=Enforcement.REJECT)],
        [Limit(feature_key="tokens", limit=5)],
    )
    groups = watched_periods([event(0, 1, today), event(1, 1, yesterday), event(2, 1, today, "tokens")], limits, UTC)
    assert sorted((p.start.day, [e.index for e in events]) for p, events in groups.items()) == [(1, [1]), (2, [0])]
    notifying = effective([Limit(feature_key="tokens", limit=5, notify_at_percent=[90, 50])], [])
    (period,) = watched_periods([event(0, 1, today, "tokens")], notifying, UTC)
    assert (period.rejects, period.thresholds) == (False, (50, 90))


def test_a_threshold_is_reached_at_its_exact_share_of_the_limit() -> None:
    at = datetime(2026, 12, 2, tzinfo=UTC)
    period = WatchedPeriod("a", at, at, 10, LimitPeriod.DAY, False, (50, 80, 100))
    assert [reached(period, used) for used in (4, 5, 8, 9, 10, 11)] == [
        [],
        [50],
        [50, 80],
        [50, 80],
        [50, 80, 100],
        [50, 80, 100],
    ]


def test_an_override_replaces_the_plans_limit() -> None:
    plan = [Limit(feature_key="a", limit=1), Limit(feature_key="b", limit=2)]
    assert {k: v.limit for k, v in effective(plan, [Limit(feature_key="a", limit=9)]).items()} == {"a": 9, "b": 2}


@pytest.mark.parametrize(
    ("aggregation", "used", "quantities", "first"),
    [
        (Aggregation.SUM, State(4, 1, 4, 4, ""), [3, 3, 1], 2),
        (Aggregation.SUM, None, [10], None),
        (Aggregation.COUNT, State(9, 9, 1, 1, ""), [0, 0], 1),
        (Aggregation.MAX, None, [10, 11], 1),
        (Aggregation.MIN, None, [20, 5], 0),  # judged event by event: alone, 20 is over
    ],
)
def test_the_first_event_over_the_limit(aggregation: Aggregation, used, quantities: list[int], first) -> None:  # type: ignore[no-untyped-def]
    at = datetime(2026, 12, 2, tzinfo=UTC)
    events = [event(i, q, at + timedelta(seconds=i)) for i, q in enumerate(quantities)]
    found = first_over(10, aggregation, used, events)
    assert (found.index if found else None) == first


def entitlement(used: int, limit: int | None, start: datetime, period: LimitPeriod = LimitPeriod.MONTH) -> Entitlement:
    end = start + (timedelta(days=30) if period is LimitPeriod.MONTH else timedelta(days=1))
    return Entitlement(
        feature_key="api_calls",
        unit="requests",
        limit=limit,
        used=used,
        remaining=None if limit is None else max(limit - used, 0),
        over_limit=limit is not None and used > limit,
        enforcement=Enforcement.NONE,
        period=period,
        period_start=start,
        period_end=end,
    )


START = datetime(2026, 11, 1, tzinfo=UTC)


def test_no_limit_no_view() -> None:
    assert limit_view(entitlement(5, None, START), Aggregation.SUM, START + timedelta(days=5), UTC) is None


def test_the_estimate_is_a_straight_line_shown_after_the_first_tenth_of_the_period() -> None:
    early = limit_view(entitlement(100, 1000, START), Aggregation.SUM, START + timedelta(days=2), UTC)
    assert early is not None
    assert early.projection_text is None
    half = limit_view(entitlement(600, 1000, START), Aggregation.SUM, START + timedelta(days=15), UTC)
    assert half is not None
    assert half.projection_text == "Estimate: about 1,200 requests by the end of the period, over the limit"
    assert (half.percent, half.detail_text, half.over, half.projection_over) == (
        60.0,
        "400 requests left · resets Tue 1 Dec 2026, 00:00 (UTC)",
        False,
        True,
    )
    day = limit_view(entitlement(30, 100, START, LimitPeriod.DAY), Aggregation.COUNT, START + timedelta(hours=12), UTC)
    assert day is not None
    assert day.heading == "Limit today"
    assert day.projection_text == "Estimate: about 60 requests by the end of the period, within the limit"


def test_no_estimate_for_a_value_that_does_not_grow_with_time_and_the_bar_stops_at_full() -> None:
    view = limit_view(entitlement(1500, 1000, START), Aggregation.MAX, START + timedelta(days=15), UTC)
    assert view is not None
    assert (view.projection_text, view.percent, view.over, view.detail_text.split(" · ")[0]) == (
        None,
        100.0,
        True,
        "0 requests left",
    )
