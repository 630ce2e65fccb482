"""Half-open UTC periods and their calendar-month defaults."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from tally.domain.errors import InvalidInput
from tally.metering.periods import as_utc, resolve_period

PLUS_2 = timezone(timedelta(hours=2))
MINUS_5 = timezone(timedelta(hours=-5))


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(datetime(2026, 3, 4, 5, 6, 7, 8), utc(2026, 3, 4, 5, 6, 7, 8), id="naive-is-utc"),
        pytest.param(utc(2026, 3, 4, 5), utc(2026, 3, 4, 5), id="utc-unchanged"),
        pytest.param(datetime(2026, 3, 4, 1, tzinfo=PLUS_2), utc(2026, 3, 3, 23), id="plus-2-crosses-midnight"),
        pytest.param(datetime(2026, 12, 31, 20, tzinfo=MINUS_5), utc(2027, 1, 1, 1), id="minus-5-crosses-year"),
    ],
)
def test_as_utc(value: datetime, expected: datetime) -> None:
    result = as_utc(value)
    assert result == expected
    assert result.tzinfo is UTC
    assert (result.year, result.month, result.day, result.hour) == (
        expected.year,
        expected.month,
        expected.day,
        expected.hour,
    )


@pytest.mark.parametrize(
    ("now", "expected"),
    [
        pytest.param(utc(2026, 11, 25, 15, 30), (utc(2026, 11, 1), utc(2026, 12, 1)), id="mid-month"),
        pytest.param(utc(2026, 12, 31, 23, 59, 59, 999_999), (utc(2026, 12, 1), utc(2027, 1, 1)), id="december"),
        pytest.param(utc(2026, 1, 1), (utc(2026, 1, 1), utc(2026, 2, 1)), id="month-start"),
        pytest.param(utc(2028, 2, 29, 12), (utc(2028, 2, 1), utc(2028, 3, 1)), id="leap-day"),
        pytest.param(datetime(2026, 12, 1, 1, tzinfo=PLUS_2), (utc(2026, 11, 1), utc(2026, 12, 1)), id="now-offset"),
    ],
)
def test_both_omitted_is_the_utc_month_of_now(now: datetime, expected: tuple[datetime, datetime]) -> None:
    assert resolve_period(None, None, now=now) == expected


@pytest.mark.parametrize(
    ("start", "expected_end"),
    [
        pytest.param(utc(2026, 10, 15, 12), utc(2026, 11, 1), id="mid-month"),
        pytest.param(utc(2026, 12, 1), utc(2027, 1, 1), id="december-to-january"),
        pytest.param(utc(2026, 12, 31, 23, 59, 59, 999_999), utc(2027, 1, 1), id="last-instant-of-year"),
        pytest.param(datetime(2026, 11, 1, 1, tzinfo=PLUS_2), utc(2026, 11, 1), id="offset-in-previous-utc-month"),
    ],
)
def test_only_start_runs_to_the_next_month(start: datetime, expected_end: datetime) -> None:
    assert resolve_period(start, None, now=utc(2000, 1, 1)) == (as_utc(start), expected_end)


@pytest.mark.parametrize(
    ("end", "expected_start"),
    [
        pytest.param(utc(2026, 11, 15), utc(2026, 11, 1), id="mid-month"),
        pytest.param(utc(2026, 11, 1), utc(2026, 10, 1), id="month-start-is-the-previous-month"),
        pytest.param(utc(2027, 1, 1), utc(2026, 12, 1), id="january-first-is-december"),
        pytest.param(utc(2026, 11, 1, 0, 0, 0, 1), utc(2026, 11, 1), id="just-after-month-start"),
        pytest.param(datetime(2026, 3, 1, 2, tzinfo=PLUS_2), utc(2026, 2, 1), id="offset-at-utc-month-start"),
    ],
)
def test_only_end_runs_from_the_month_of_its_last_instant(end: datetime, expected_start: datetime) -> None:
    assert resolve_period(None, end, now=utc(2000, 1, 1)) == (expected_start, as_utc(end))


def test_both_given_are_kept_and_made_utc() -> None:
    start, end = datetime(2026, 5, 1, 2, tzinfo=PLUS_2), datetime(2026, 5, 3, tzinfo=UTC)
    assert resolve_period(start, end, now=utc(2000, 1, 1)) == (utc(2026, 5, 1), utc(2026, 5, 3))
    assert all(bound.tzinfo is UTC for bound in resolve_period(start, end, now=utc(2000, 1, 1)))


@pytest.mark.parametrize(
    ("start", "end"),
    [
        pytest.param(utc(2026, 5, 2), utc(2026, 5, 2), id="equal"),
        pytest.param(utc(2026, 5, 2), utc(2026, 5, 1), id="reversed"),
        pytest.param(datetime(2026, 5, 2, 2, tzinfo=PLUS_2), utc(2026, 5, 2), id="same-instant-other-offset"),
        pytest.param(utc(2026, 5, 2), datetime(2026, 5, 2, 1, tzinfo=PLUS_2), id="end-before-in-another-offset"),
    ],
)
def test_start_not_before_end_is_invalid(start: datetime, end: datetime) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_period(start, end, now=utc(2000, 1, 1))
    assert [e.field for e in raised.value.errors] == ["period_start"]
    assert "period_start" in raised.value.detail


@pytest.mark.parametrize(
    ("start", "end", "field"),
    [
        pytest.param(utc(9999, 12, 1), None, "period_start", id="no-month-after-december-9999"),
        pytest.param(None, datetime.min.replace(tzinfo=UTC), "period_end", id="no-month-before-year-1"),
        pytest.param(datetime(1, 1, 1, tzinfo=PLUS_2), utc(2020, 1, 1), "period_start", id="start-below-utc-range"),
        pytest.param(utc(2020, 1, 1), datetime(9999, 12, 31, 23, tzinfo=MINUS_5), "period_end", id="end-above-range"),
    ],
)
def test_out_of_range_bounds_are_invalid(start: datetime | None, end: datetime | None, field: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        resolve_period(start, end, now=utc(2000, 1, 1))
    assert [e.field for e in raised.value.errors] == [field]


@pytest.mark.parametrize("field", ["period_start", "period_end"])
def test_a_bound_without_an_offset_is_refused_not_guessed(field: str) -> None:
    bounds = {"start": utc(2026, 5, 1), "end": utc(2026, 6, 1)}
    bounds[field.removeprefix("period_")] = datetime(2026, 5, 15)
    with pytest.raises(InvalidInput) as raised:
        resolve_period(bounds["start"], bounds["end"], now=utc(2000, 1, 1))
    assert [e.field for e in raised.value.errors] == [field]
    assert "append Z for UTC" in raised.value.detail


def test_extreme_months_that_exist_are_resolved() -> None:
    assert resolve_period(utc(9999, 11, 30), None, now=utc(2000, 1, 1)) == (utc(9999, 11, 30), utc(9999, 12, 1))
    assert resolve_period(None, utc(1, 1, 1, 0, 0, 0, 1), now=utc(2000, 1, 1)) == (
        utc(1, 1, 1),
        utc(1, 1, 1, 0, 0, 0, 1),
    )
