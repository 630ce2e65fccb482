"""Billing periods (pure, no I/O): calendar months in the tenant's time zone, the grace period after each, and
which instants lie in a closed period.

A tenant's periods close in order, so what is closed is always everything before one instant: the end of the
last period closed by hand or recorded by the background close, or of the last period whose grace has passed,
whichever is later (a period whose grace has passed is closed from that instant, recorded or not).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo

import msgspec

from tally.domain.errors import InvalidInput
from tally.domain.periods import GRACE_PATTERN, MAX_GRACE_DAYS, PeriodState
from tally.metering.periods import month_start, next_month_start, rfc3339

_GRACE = re.compile(GRACE_PATTERN)


def grace_period(text: str | None, field: str = "grace_period") -> timedelta | None:
    """The duration of ``P3D``, ``PT12H``, ``P1DT6H`` (None stays None); over MAX_GRACE_DAYS is a 400 naming
    ``field``."""
    if text is None:
        return None
    match = _GRACE.fullmatch(text)
    if match is None:
        raise InvalidInput.field(field, f"'{text}' is not an ISO 8601 duration of days and hours (P3D, PT12H)")
    days, hours = (int(part[:-1]) if part else 0 for part in (match[1], (match[2] or "")[1:]))
    span = timedelta(days=days, hours=hours)
    if span > timedelta(days=MAX_GRACE_DAYS):
        raise InvalidInput.field(field, f"'{text}' is longer than {MAX_GRACE_DAYS} days")
    return span


class PeriodTerms(msgspec.Struct, frozen=True):
    """What decides a tenant's closed periods: its zone, its grace (None: periods never close by themselves) and
    the end of the last period recorded closed (None: none yet)."""

    tz: tzinfo
    grace: timedelta | None
    recorded_through: datetime | None

    def closed_through(self, now: datetime) -> datetime | None:
        """Every instant before this one lies in a closed period at ``now`` (None: no period is closed)."""
        graced = self.graced_through(now)
        found = [t for t in (self.recorded_through, graced) if t is not None]
        return max(found) if found else None

    def graced_through(self, now: datetime) -> datetime | None:
        """The end of the last period whose grace has passed at ``now`` (None without a grace)."""
        if self.grace is None:
            return None
        return month_start(now - self.grace, self.tz)

    def closed(self, instant: datetime, now: datetime) -> bool:
        through = self.closed_through(now)
        return through is not None and instant < through

    def grace_ends_at(self, period_end: datetime) -> datetime | None:
        return None if self.grace is None else period_end + self.grace

    def state(self, period_start: datetime, period_end: datetime, now: datetime) -> PeriodState:
        if self.closed(period_start, now):
            return PeriodState.CLOSED
        ends = self.grace_ends_at(period_end)
        if ends is not None and period_end <= now < ends:
            return PeriodState.GRACE
        return PeriodState.OPEN

    def closing_instant(self, period_end: datetime, now: datetime) -> datetime:
        """When a period closed by ``now`` was closed: its grace's end if that came first, else ``now``."""
        ends = self.grace_ends_at(period_end)
        return min(ends, now) if ends is not None else now


def months(start: datetime, end: datetime, tz: tzinfo) -> Iterator[tuple[datetime, datetime]]:
    """Consecutive periods from ``start`` up to those ending at or before ``end``, each ending at the start of a
    calendar month of ``tz`` (the first is shorter when ``start`` is not one: the end of the periods closed in
    another zone, before the tenant's zone changed)."""
    cursor = start
    while True:
        following = next_month_start(cursor, tz)
        if following > end:
            return
        yield cursor, following
        cursor = following


def months_back(before: datetime, tz: tzinfo, count: int, earliest: datetime) -> list[tuple[datetime, datetime]]:
    """Up to ``count`` calendar months of ``tz``, newest first, the first one ending at ``before``, none starting
    before ``earliest``."""
    found: list[tuple[datetime, datetime]] = []
    end = before
    while len(found) < count and end > earliest:
        start = month_start(end - timedelta(microseconds=1), tz)
        found.append((start, end))
        end = start
    return found


def period_label(start: datetime, end: datetime) -> str:
    return f"[{rfc3339(start)}, {rfc3339(end)})"
