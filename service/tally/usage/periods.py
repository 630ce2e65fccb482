"""Half-open UTC periods and their calendar-month defaults (pure functions, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tally.domain.errors import InvalidInput


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive value is read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(value: datetime) -> datetime:
    start = month_start(value)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def resolve_period(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The effective ``[start, end)``: omitted bounds come from the UTC calendar month of the given one
    (of ``now`` when both are omitted; for an ``end``, the month holding the last instant before it)."""
    start = as_utc(start) if start is not None else None
    end = as_utc(end) if end is not None else None
    if start is None and end is None:
        start = month_start(as_utc(now))
    if start is None:
        assert end is not None
        start = month_start(end - timedelta(microseconds=1))
    if end is None:
        end = next_month_start(start)
    if start >= end:
        raise InvalidInput.field(
            "period_start", f"must be before period_end ({start.isoformat()} >= {end.isoformat()})"
        )
    return start, end
