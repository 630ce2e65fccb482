"""Pre-aggregation arithmetic (pure, no I/O): which bucket rows an event adds to, and which bucket rows
and raw-event ranges add up to a window.

Buckets of ``usage_bucket`` exist at three grains, all aligned to UTC midnight: 15 minutes, one hour and
one day (``usage_dimension_bucket`` has other grains, see DIMENSION_GRAINS). Every UTC
offset in use today is a multiple of 15 minutes, so any hour, day or month window of any time zone is a
whole number of quarter buckets; hour and day buckets cover the whole UTC hours and days inside it, so a
month costs about 30 rows per feature however many events it holds.

Each bucket keeps what every aggregation needs: the sum and count of quantities, the largest quantity,
and the latest key (see ``latest_key``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import msgspec

QUARTER = 15 * 60
HOUR = 60 * 60
DAY = 24 * 60 * 60
MONTH = 31 * DAY
"""A UTC calendar month: the one grain whose length varies; its number is that of the longest month."""
GRAINS = (DAY, HOUR, QUARTER)
"""Grains of ``usage_bucket`` in seconds, coarsest first; each divides the next coarser one."""
DIMENSION_GRAINS = (MONTH, DAY, HOUR)
"""Grains of ``usage_dimension_bucket``. Its rows are per set of dimension values, so a fine grain holds
about one event per row and summarises little while costing a row write per event: it has no quarter
hours (ragged edges are read from raw events), and a month of usage by model is one row per set."""
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # a UTC midnight: every grain boundary is a whole multiple from it
_KEY_PREFIX = 44  # two 20-digit instants and a 4-digit batch index


def _digits(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}{at.month:02d}{at.day:02d}{at.hour:02d}{at.minute:02d}{at.second:02d}{at.microsecond:06d}"


def latest_key(timestamp: datetime, recorded_at: datetime, batch_index: int, quantity: int) -> str:
    """A string that sorts like (timestamp, recorded_at, batch_index) and ends in the quantity, so the
    greatest key of any set of events is the latest one's (ties go to the later-recorded event)."""
    return f"{_digits(timestamp)}{_digits(recorded_at)}{batch_index:04d}{quantity}"


def quantity_of(key: str) -> int:
    return int(key[_KEY_PREFIX:])


class Event(Protocol):
    @property
    def feature_key(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def latest_key(self) -> str: ...


class StoredEvent(msgspec.Struct, frozen=True):
    """The fields of an event that buckets are made of."""

    feature_key: str
    quantity: int
    timestamp: datetime
    latest_key: str


class DimensionedEvent(Event, Protocol):
    @property
    def dimension_set(self) -> str: ...


class BucketCell(msgspec.Struct, frozen=True, order=True):
    """What a batch adds to one bucket row; fields in the table's key order, so cells sort like rows."""

    grain_seconds: int
    bucket_start: datetime
    feature_key: str
    quantity: int
    event_count: int
    max_quantity: int
    latest_key: str

    def row(self) -> dict[str, Any]:
        return msgspec.structs.asdict(self)


class DimensionCell(msgspec.Struct, frozen=True, order=True):
    """What a batch adds to one row of ``usage_dimension_bucket``, fields in that table's key order;
    ``dimension_set`` is the canonical JSON text of the values."""

    feature_key: str
    grain_seconds: int
    bucket_start: datetime
    dimension_set: str
    quantity: int
    event_count: int
    max_quantity: int
    latest_key: str


class Range(msgspec.Struct, frozen=True):
    """``[start, end)`` read from bucket rows of ``grain_seconds``, or from raw events when it is 0."""

    grain_seconds: int
    start: datetime
    end: datetime


def floor_to(value: datetime, grain_seconds: int) -> datetime:
    if grain_seconds == MONTH:
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    return value - ((value - _EPOCH) % timedelta(seconds=grain_seconds))


def bucket_end(start: datetime, grain_seconds: int) -> datetime:
    """The end of the bucket starting at ``start`` (OverflowError past the end of year 9999)."""
    if grain_seconds == MONTH:
        if start.month == 12:
            return start.replace(year=start.year + 1, month=1)  # ValueError past 9999, raised as OverflowError
        return start.replace(month=start.month + 1)
    return start + timedelta(seconds=grain_seconds)


def ceil_to(value: datetime, grain_seconds: int) -> datetime | None:
    """The first boundary at or after ``value``; None when it lies past the end of year 9999."""
    floor = floor_to(value, grain_seconds)
    if floor == value:
        return floor
    try:
        return bucket_end(floor, grain_seconds)
    except (OverflowError, ValueError):
        return None


Cells = dict[Any, list[Any]]
"""Partial sums by key, each ``[sum, count, max, latest key]``; here the key is (grain, bucket start, *key)."""


def bucket_cells(events: Iterable[Event]) -> list[BucketCell]:
    """Events pre-aggregated per (grain, bucket, feature), sorted: the rows one upsert adds to."""
    cells = _aggregate((((e.feature_key,), e) for e in events), GRAINS)
    return [BucketCell(g, b, f, *values) for (g, b, f), values in sorted(cells.items())]


def dimension_cells(events: Iterable[DimensionedEvent]) -> list[DimensionCell]:
    """Events pre-aggregated per (feature, grain, bucket, set of dimension values), sorted like the table."""
    cells = _aggregate((((e.feature_key, e.dimension_set), e) for e in events), DIMENSION_GRAINS)
    return sorted(DimensionCell(f, g, b, d, *values) for (g, b, f, d), values in cells.items())


def _aggregate(keyed: Iterable[tuple[tuple[str, ...], Event]], grains: tuple[int, ...]) -> Cells:
    """The cells of every event for each of ``grains``."""
    finest, *coarser = sorted(grains)
    cells: Cells = {}
    for key, e in keyed:
        fold(cells, (finest, floor_to(e.timestamp, finest), *key), e.quantity, 1, e.quantity, e.latest_key)
    # Coarser buckets from the finest ones (every grain divides the next): far fewer floor computations.
    for (_, start, *rest), (quantity, count, largest, latest) in list(cells.items()):
        for grain in coarser:
            fold(cells, (grain, floor_to(start, grain), *rest), quantity, count, largest, latest)
    return cells


def fold(cells: Cells, key: Any, quantity: int, count: int, largest: int, latest: str) -> None:
    """Add partial sums to the cell of ``key``: sums and counts add up, the largest quantity and the latest
    key keep the greater."""
    cell = cells.get(key)
    if cell is None:
        cells[key] = [quantity, count, largest, latest]
    else:
        cell[0] += quantity
        cell[1] += count
        cell[2] = max(cell[2], largest)
        cell[3] = max(cell[3], latest)


def decompose(start: datetime, end: datetime, grains: tuple[int, ...] = GRAINS) -> list[Range]:
    """Split ``[start, end)`` into the fewest bucket ranges, coarsest grain in the middle, and raw-event
    ranges (grain 0) for the ragged parts no bucket covers whole. Empty ranges are left out; the result is
    in time order."""
    if start >= end:
        return []
    if not grains:
        return [Range(0, start, end)]
    grain, finer = grains[0], grains[1:]
    inner_start, inner_end = ceil_to(start, grain), floor_to(end, grain)
    if inner_start is None or inner_start >= inner_end:
        return decompose(start, end, finer)
    return [
        *decompose(start, inner_start, finer),
        Range(grain, inner_start, inner_end),
        *decompose(inner_end, end, finer),
    ]
