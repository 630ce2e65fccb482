"""The usage page's periods, worked out without I/O: the period people chose, and instants and spans as people
read them."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

import msgspec

from tally.domain.errors import InvalidInput
from tally.domain.periods import PeriodState
from tally.metering.billing import PeriodTerms
from tally.metering.periods import day_start, month_start, next_month_start

MAX_CUSTOM_DAYS = 366


class PeriodChoice(StrEnum):
    THIS_MONTH = "this_month"
    LAST_MONTH = "last_month"
    CUSTOM = "custom"


class Period(msgspec.Struct, frozen=True):
    """``[start, end)`` in UTC, and the local days it covers (``last_day`` inclusive)."""

    choice: PeriodChoice
    start: datetime
    end: datetime
    first_day: date
    last_day: date


def choose_period(choice: str, start: str | None, end: str | None, tz: tzinfo, now: datetime) -> Period:
    """The period picked in the form: this or last calendar month in ``tz``, or whole local days
    ``start``..``end`` (ISO dates, both included). A bad choice is an ``InvalidInput`` naming the field."""
    try:
        picked = PeriodChoice(choice)
    except ValueError:
        raise InvalidInput.field("period", f"'{choice}' is not one of this month, last month, custom") from None
    try:
        if picked is PeriodChoice.CUSTOM:
            first, last = _day("from", start), _day("to", end)
            if last < first:
                raise InvalidInput.field("to", "must not be before 'from'")
            if (last - first).days >= MAX_CUSTOM_DAYS:
                raise InvalidInput.field("to", f"a custom range is at most {MAX_CUSTOM_DAYS} days")
            begin, finish = day_start(first, tz), day_start(last + timedelta(days=1), tz)
        else:
            this_month = month_start(now, tz)
            if picked is PeriodChoice.THIS_MONTH:
                begin, finish = this_month, next_month_start(now, tz)
            else:
                begin, finish = month_start(this_month - timedelta(microseconds=1), tz), this_month
    except (OverflowError, ValueError) as exc:
        if isinstance(exc, InvalidInput):
            raise
        raise InvalidInput.field("to", "the range lies outside years 1 to 9999") from None
    last_day = (finish - timedelta(microseconds=1)).astimezone(tz).date()
    return Period(picked, begin, finish, begin.astimezone(tz).date(), last_day)


def _day(field: str, raw: str | None) -> date:
    if not raw:
        raise InvalidInput.field(field, "pick both dates of a custom range")
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput.field(field, f"'{raw}' is not a date (YYYY-MM-DD)") from None


def amount(quantity: int, unit: str, approximate: bool = False) -> str:
    """A quantity as people read it: thousands separators and the unit (``1,234,567 requests``), ``about`` first
    when it is an estimate (an approximate distinct count)."""
    return f"{'about ' if approximate else ''}{quantity:,} {unit}"


def day_label(day: date) -> str:
    return f"{day:%a} {day.day} {day:%b %Y}"


def period_label(period: Period) -> str:
    first, last = period.first_day, period.last_day
    return f"{first.day} {first:%b %Y} to {last.day} {last:%b %Y}"


def whole_month(first: date, last: date) -> bool:
    """``first``..``last`` (both included) is one calendar month."""
    return first.day == 1 and (first.year, first.month) == (last.year, last.month) and (last + timedelta(1)).day == 1


def span_label(start: datetime, end: datetime, tz: tzinfo) -> str:
    """``[start, end)`` as people read it in ``tz``: "November 2026" for a whole local month, a day or "A to B" for
    whole local days, else both instants with their local times (a UTC month seen from New York is not a month
    there, and must not read as one)."""
    first, finish = start.astimezone(tz), end.astimezone(tz)
    if first.time() == time(0) and finish.time() == time(0):
        last = finish.date() - timedelta(days=1)
        if whole_month(first.date(), last):
            return f"{first:%B %Y}"
        return day_label(last) if first.date() == last else f"{day_label(first.date())} to {day_label(last)}"
    return f"{day_label(first.date())}, {first:%H:%M} to {day_label(finish.date())}, {finish:%H:%M}"


def grace_note(terms: PeriodTerms, now: datetime, tz: tzinfo) -> str | None:
    """The billing periods' deadlines as the page says them in ``tz`` (None without a grace period): when the
    current period's late usage stops being accepted, and the previous period's if it is still in its grace."""
    current_start, current_end = month_start(now, terms.tz), next_month_start(now, terms.tz)
    grace_end = terms.grace_ends_at(current_end)
    if grace_end is None:
        return None
    note = (
        f"Billing period {span_label(current_start, current_end, terms.tz)}: late usage is accepted until "
        f"{_instant(grace_end, tz)}, then its figures are final."
    )
    previous_start = month_start(current_start - timedelta(microseconds=1), terms.tz)
    if terms.state(previous_start, current_start, now) is PeriodState.GRACE:
        previous_end = terms.grace_ends_at(current_start)
        assert previous_end is not None
        note += (
            f" {span_label(previous_start, current_start, terms.tz)} is in its grace period until "
            f"{_instant(previous_end, tz)}."
        )
    return note


def _instant(instant: datetime, tz: tzinfo) -> str:
    local = instant.astimezone(tz)
    return f"{day_label(local.date())}, {local:%H:%M}"
