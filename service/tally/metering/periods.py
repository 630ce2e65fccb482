"""Half-open periods, their calendar-month defaults and their windows, in any IANA time zone (pure
functions, no I/O). Every instant handed out is UTC; local calendar arithmetic goes through zoneinfo, so
days of 23 or 25 hours come out right.

A local day starts at local midnight; where midnight falls into a DST gap, at the first instant of that
date. Hour windows are consecutive 60-minute spans from the period's start, which must be a whole local
hour (in a zone whose offset moves by 30 minutes, Lord Howe, they keep their length across the change).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from tally.domain.errors import InvalidInput
from tally.domain.usage import WindowSize

HOUR = timedelta(hours=1)


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive value is read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def rfc3339(instant: datetime) -> str:
    """An aware instant as RFC 3339, ``Z`` for UTC: how every answer and message shows one."""
    return instant.isoformat().replace("+00:00", "Z")


def zone(name: str) -> tzinfo:
    """The IANA zone called ``name``; an unknown one is a 400 naming ``timezone``."""
    if name == "UTC":
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidInput.field("timezone", f"'{name}' is not an IANA time zone (e.g. Europe/Berlin, UTC)") from None


def day_start(day: date, tz: tzinfo) -> datetime:
    """The first instant of ``day`` in ``tz``, in UTC. Where midnight falls into a DST gap, zoneinfo reads
    00:00 with the offset before the change (fold=0): that instant is the change itself, the day's first."""
    return datetime.combine(day, time(0), tzinfo=tz).astimezone(UTC)


def month_start(value: datetime, tz: tzinfo = UTC) -> datetime:
    """Start of the local calendar month holding ``value``, in UTC."""
    local = value.astimezone(tz)
    return day_start(local.date().replace(day=1), tz)


def next_month_start(value: datetime, tz: tzinfo = UTC) -> datetime:
    """Start of the local calendar month after the one holding ``value``, in UTC."""
    first = value.astimezone(tz).date().replace(day=1)
    following = (
        first.replace(year=first.year + 1, month=1) if first.month == 12 else first.replace(month=first.month + 1)
    )
    return day_start(following, tz)


NAIVE = "has no UTC offset, so it names no instant: append Z for UTC (2026-12-05T10:00:00Z) or the offset it is in"


def utc_bound(value: datetime | None, field: str) -> datetime | None:
    """A query bound as an aware UTC datetime: one without an offset (it names no instant: refused, not guessed)
    or outside the representable UTC range is a 400 naming ``field``."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise InvalidInput.field(field, f"'{value.isoformat()}' {NAIVE} (in a query, send + as %2B)")
    try:
        return as_utc(value)
    except OverflowError:
        raise InvalidInput.field(field, f"{value.isoformat()} is out of range") from None


def resolve_period(
    start: datetime | None, end: datetime | None, now: datetime, tz: tzinfo = UTC
) -> tuple[datetime, datetime]:
    """The effective ``[start, end)``: omitted bounds come from the calendar month (in ``tz``) of the given
    one (of ``now`` when both are omitted; for an ``end``, the month holding the last instant before it)."""
    start = utc_bound(start, "period_start")
    end = utc_bound(end, "period_end")
    try:
        if start is None and end is None:
            start = month_start(as_utc(now), tz)
        if start is None:
            assert end is not None
            start = month_start(end - timedelta(microseconds=1), tz)
        if end is None:
            end = next_month_start(start, tz)
    except (OverflowError, ValueError):
        field = "period_end" if end is not None else "period_start"
        raise InvalidInput.field(field, "no calendar month lies around it within years 1 to 9999") from None
    if start >= end:
        raise InvalidInput.field("period_start", f"must be before period_end ({rfc3339(start)} >= {rfc3339(end)})")
    return start, end


def open_period(start: datetime | None, end: datetime | None) -> tuple[datetime | None, datetime | None]:
    """Bounds of the event listing: either may be omitted (no bound, no calendar default); given ones are
    UTC instants, and ``start`` lies before ``end``."""
    start = utc_bound(start, "period_start")
    end = utc_bound(end, "period_end")
    if start is not None and end is not None and start >= end:
        raise InvalidInput.field("period_start", "must be before period_end")
    return start, end


def is_boundary(instant: datetime, size: WindowSize, tz: tzinfo) -> bool:
    """Whether ``instant`` starts an hour, day or month window in ``tz``."""
    local = instant.astimezone(tz)
    if size is WindowSize.HOUR:
        return local.minute == local.second == local.microsecond == 0
    if instant != day_start(local.date(), tz):
        return False
    return size is WindowSize.DAY or local.day == 1


def windows(
    start: datetime, end: datetime, size: WindowSize, tz: tzinfo, limit: int
) -> list[tuple[datetime, datetime]]:
    """Consecutive windows covering ``[start, end)``; both bounds must be window boundaries (else a 400
    explaining the alignment) and there may be at most ``limit`` windows (else a 400 asking to narrow)."""
    for field, instant in (("period_start", start), ("period_end", end)):
        if not is_boundary(instant, size, tz):
            raise InvalidInput.field(field, _alignment(size, tz, instant))
    out: list[tuple[datetime, datetime]] = []
    cursor = start
    while cursor < end:
        if len(out) >= limit:
            raise InvalidInput.field(
                "window_size", f"more than {limit} windows: narrow the period or use a larger window_size"
            )
        following = _next_boundary(cursor, size, tz)
        out.append((cursor, following))
        cursor = following
    if cursor != end:  # Lord Howe's half-hour shift can leave the end off the hourly grid from the start
        raise InvalidInput.field("period_end", f"is not a whole number of {size.value}s after period_start")
    return out


def _next_boundary(instant: datetime, size: WindowSize, tz: tzinfo) -> datetime:
    if size is WindowSize.HOUR:
        return instant + HOUR
    local_day = instant.astimezone(tz).date()
    if size is WindowSize.DAY:
        return day_start(local_day + timedelta(days=1), tz)
    return next_month_start(instant, tz)


def _alignment(size: WindowSize, tz: tzinfo, instant: datetime) -> str:
    where = f"in {tz}" if tz is not UTC else "in UTC"
    shown = rfc3339(instant.astimezone(tz))
    need = {
        WindowSize.HOUR: "a whole hour",
        WindowSize.DAY: "local midnight",
        WindowSize.MONTH: "local midnight on the first day of a month",
    }[size]
    return f"{shown} is not {need} {where}; with window_size={size.value} both bounds must be window boundaries"


def in_words(span: timedelta) -> str:
    """``span`` in words: "5 minutes", "90 seconds"."""
    seconds = int(span.total_seconds())
    minutes, rest = divmod(seconds, 60)
    if rest or not minutes:
        return f"{seconds} second{'' if seconds == 1 else 's'}"
    return f"{minutes} minute{'' if minutes == 1 else 's'}"
