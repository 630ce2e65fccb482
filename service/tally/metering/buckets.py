"""Pre-aggregation arithmetic (pure, no I/O): which bucket rows an event adds to, and which bucket rows
and raw-event ranges add up to a window.

Buckets of ``usage_bucket`` exist at three grains, all aligned to UTC midnight: 15 minutes, one hour and
one day (``usage_dimension_bucket`` has other grains, see DIMENSION_GRAINS). Every UTC
offset in use today is a multiple of 15 minutes, so any hour, day or month window of any time zone is a
whole number of quarter buckets; hour and day buckets cover the whole UTC hours and days inside it, so a
month costs about 30 rows per feature however many events it holds.

Each bucket keeps what every aggregation needs: one ``State`` (see ``tally.metering.aggregations``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any, Protocol

import msgspec

from tally.metering.aggregations import State

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
_STEPS = {grain: timedelta(seconds=grain) for grain in (*GRAINS, *DIMENSION_GRAINS) if grain != MONTH}


class Event(Protocol):
    @property
    def feature_key(self) -> str: ...
    @property
    def quantity(self) -> int: ...
    @property
    def timestamp(self) -> datetime: ...
    @property
    def latest_key(self) -> str: ...


class DimensionedEvent(Event, Protocol):
    @property
    def dimension_set(self) -> str: ...


class BucketTable(msgspec.Struct, frozen=True):
    """A table of pre-aggregated state: its key columns after ``tenant_id`` (in key order; ``grain_seconds``,
    ``bucket_start`` and ``feature_key`` among them) and its grains. Its other columns are ``State``'s."""

    name: str
    keys: tuple[str, ...]
    grains: tuple[int, ...]


USAGE_BUCKETS = BucketTable("usage_bucket", ("grain_seconds", "bucket_start", "feature_key"), GRAINS)
DIMENSION_BUCKETS = BucketTable(
    "usage_dimension_bucket", ("feature_key", "grain_seconds", "bucket_start", "dimension_set"), DIMENSION_GRAINS
)

Cell = tuple[tuple[Any, ...], State]
"""What a batch adds to one bucket row: the row's key (``BucketTable.keys`` values) and the state to add."""


class Range(msgspec.Struct, frozen=True):
    """``[start, end)`` read from bucket rows of ``grain_seconds``, or from raw events when it is 0."""

    grain_seconds: int
    start: datetime
    end: datetime


def floor_to(value: datetime, grain_seconds: int) -> datetime:
    if grain_seconds == MONTH:
        return value.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    step = _STEPS.get(grain_seconds) or timedelta(seconds=grain_seconds)
    return value - ((value - _EPOCH) % step)


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


def bucket_cells(events: Iterable[Event]) -> list[Cell]:
    """Events pre-aggregated per row of ``usage_bucket``, sorted by key: the rows one upsert adds to."""
    return _cells(USAGE_BUCKETS, (((e.feature_key,), e) for e in events))


def dimension_cells(events: Iterable[DimensionedEvent]) -> list[Cell]:
    """Events pre-aggregated per row of ``usage_dimension_bucket`` (per set of dimension values), sorted by key."""
    return _cells(DIMENSION_BUCKETS, (((e.feature_key, e.dimension_set), e) for e in events))


def _cells(table: BucketTable, keyed: Iterable[tuple[tuple[str, ...], Event]]) -> list[Cell]:
    """The cells of every event for each of the table's grains, in the table's key order."""
    finest, *coarser = sorted(table.grains)
    # Events grouped per finest bucket first, then each group's state folded at once: a state per event merged
    # into its bucket's cost most of a batch's CPU, most of all when a batch is spread over a month (a backfill).
    events: dict[tuple[Any, ...], tuple[list[int], list[str]]] = {}  # (grain, bucket start, *key) -> parts
    for key, e in keyed:
        cell = (finest, floor_to(e.timestamp, finest), *key)
        parts = events.get(cell)
        if parts is None:
            parts = events[cell] = ([], [])
        parts[0].append(e.quantity)
        parts[1].append(e.latest_key)
    states = {cell: State.of_events(*parts) for cell, parts in events.items()}
    # Coarser buckets from the finest ones (every grain divides the next): far fewer floor computations.
    for grain in coarser:
        within: dict[tuple[Any, ...], list[State]] = {}
        for (g, start, *rest), state in states.items():
            if g == finest:
                within.setdefault((grain, floor_to(start, grain), *rest), []).append(state)
        states.update((cell, State.combined(parts)) for cell, parts in within.items())
    in_key_order = itemgetter(
        *(("grain_seconds", "bucket_start", "feature_key", "dimension_set").index(k) for k in table.keys)
    )
    return sorted((in_key_order(key), state) for key, state in states.items())


def fold(states: dict[Any, State], key: Any, state: State) -> None:
    """Add ``state`` to the state kept under ``key``."""
    kept = states.get(key)
    states[key] = state if kept is None else kept.merge(state)


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
