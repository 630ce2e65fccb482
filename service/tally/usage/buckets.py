"""Pre-aggregation arithmetic (pure, no I/O): which bucket rows an event adds to, and which bucket rows
and raw-event ranges add up to a window.

Buckets exist at two grains, both aligned to UTC midnight: 15 minutes and one day. Every UTC offset in
use today is a multiple of 15 minutes, so any hour, day or month window of any time zone is a whole
number of quarter buckets; day buckets cover the whole UTC days inside a window, so a month costs about
30 rows per feature however many events it holds.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Protocol

import msgspec

QUARTER = 15 * 60
DAY = 24 * 60 * 60
GRAINS = (DAY, QUARTER)
"""Bucket grains in seconds, coarsest first."""
_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)  # a UTC midnight: every grain boundary is a whole multiple from it


class Event(Protocol):
    @property
    def feature_key(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def timestamp(self) -> datetime: ...


class BucketCell(msgspec.Struct, frozen=True, order=True):
    """What a batch adds to one bucket row; fields in the table's key order, so cells sort like rows."""

    grain_seconds: int
    bucket_start: datetime
    feature_key: str
    quantity: int
    event_count: int


class Range(msgspec.Struct, frozen=True):
    """``[start, end)`` read from bucket rows of ``grain_seconds``, or from raw events when it is 0."""

    grain_seconds: int
    start: datetime
    end: datetime


def floor_to(value: datetime, grain_seconds: int) -> datetime:
    return value - ((value - _EPOCH) % timedelta(seconds=grain_seconds))


def ceil_to(value: datetime, grain_seconds: int) -> datetime | None:
    """The first boundary at or after ``value``; None when it lies past the end of year 9999."""
    floor = floor_to(value, grain_seconds)
    if floor == value:
        return floor
    try:
        return floor + timedelta(seconds=grain_seconds)
    except OverflowError:
        return None


def bucket_cells(events: Iterable[Event]) -> list[BucketCell]:
    """Events pre-aggregated per (feature, grain, bucket), sorted: the rows one upsert adds to."""
    finest, *coarser = sorted(GRAINS)
    sums: dict[tuple[int, datetime, str], list[int]] = defaultdict(lambda: [0, 0])
    for e in events:
        cell = sums[(finest, floor_to(e.timestamp, finest), e.feature_key)]
        cell[0] += e.quantity
        cell[1] += 1
    # Coarser buckets from the finest ones (every grain divides the next): far fewer floor computations.
    for (_, start, feature), (quantity, count) in list(sums.items()):
        for grain in coarser:
            cell = sums[(grain, floor_to(start, grain), feature)]
            cell[0] += quantity
            cell[1] += count
    return [BucketCell(g, b, f, q, n) for (g, b, f), (q, n) in sorted(sums.items())]


def decompose(start: datetime, end: datetime, grains: tuple[int, ...] = GRAINS) -> list[Range]:
    """Split ``[start, end)`` into the fewest bucket ranges, coarsest grain in the middle, and raw-event
    ranges (grain 0) for the ragged parts no bucket covers whole. Empty ranges are left out."""
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
