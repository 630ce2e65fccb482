"""Half-open UTC periods and their calendar-month defaults (pure functions, no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tally.domain.errors import InvalidInput


def as_utc(value: datetime) -> datetime:
    """An aware UTC datetime; a naive value is read as UTC."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _utc_bound(value: datetime | None, field: str) -> datetime | None:
    """``as_utc`` for a query bound: an instant outside the representable UTC range is a 400 naming ``field``."""
    if value is None:
        return None
    try:
        return as_utc(value)
    except OverflowError:
        raise InvalidInput.field(field, f"{value.isoformat()} is out of range") from None


def month_start(value: datetime) -> datetime:
    return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)


def next_month_start(value: datetime) -> datetime:
    start = month_start(value)
    return start.replace(year=start.year + 1, month=1) if start.month == 12 else start.replace(month=start.month + 1)


def resolve_period(start: datetime | None, end: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    """The effective ``[start, end)``: omitted bounds come from the UTC calendar month of the given one
    (of ``now`` when both are omitted; for an ``end``, the month holding the last instant before it)."""
    start = _utc_bound(start, "period_start")
    end = _utc_bound(end, "period_end")
    if start is None and end is None:
        start = month_start(as_utc(now))
    if start is None:
        assert end is not None
        if end == datetime.min.replace(tzinfo=UTC):
            raise InvalidInput.field("period_end", f"no calendar month ends at {end.isoformat()}")
        start = month_start(end - timedelta(microseconds=1))
    if end is None:
        if start.year == datetime.max.year and start.month == 12:
            raise InvalidInput.field("period_start", f"no calendar month follows {start.isoformat()}")
        end = next_month_start(start)
    if start >= end:
        raise InvalidInput.field(
            "period_start", f"must be before period_end ({start.isoformat()} >= {end.isoformat()})"
        )
    return start, end
