"""The aggregations, as a registry (pure, no I/O): what each one keeps per bucket, how partial states
combine, and how a window's value is read from its combined state.

A bucket row (and every partial result of a totals read) holds one ``State``: a column per piece of state
that some aggregation needs. Each column says how two partial states combine (``Combine``) and what one raw
event contributes to it, which is all the SQL and the Python folding need:

- in SQL, a GROUP BY over bucket rows applies the column's aggregate function (``SUM``, ``MAX``, ``MIN``), a
  GROUP BY over raw events applies it to the event's contribution, and an upsert combines the stored row with
  the new cell (``tally.db.dialects`` writes the pairwise form: ``GREATEST`` or SQLite's ``max``);
- in Python, ``State.merge`` folds two states column by column.

Adding an aggregation whose state exists already (an average from sum and count) is one ``AGGREGATIONS``
entry. One that needs new state adds its column here too (a ``State`` field and its ``StateColumn``) and a
migration that adds and fills the column in both bucket tables; nothing else in the code changes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

import msgspec

from tally.domain.catalog import Aggregation


class Combine(StrEnum):
    """How two partial values of a state column combine."""

    ADD = "add"
    GREATEST = "greatest"
    LEAST = "least"


SQL_AGGREGATE = {Combine.ADD: "SUM", Combine.GREATEST: "MAX", Combine.LEAST: "MIN"}
"""The SQL aggregate function that combines a column over many rows (the same on every database)."""


class StateColumn(msgspec.Struct, frozen=True):
    """One piece of bucket state: a column of both bucket tables and a field of ``State``."""

    name: str
    combine: Combine
    per_event: str
    """What one raw event contributes: a column of ``usage_event`` (``quantity``, ``latest_key``) or ``1``."""
    sql_type: str
    """Its type in SQL casts (``bigint``, ``text``)."""
    empty: int | str
    """Its value where no event contributed (SQL's COALESCE default)."""

    @property
    def sql_aggregate(self) -> str:
        return SQL_AGGREGATE[self.combine]


class State(NamedTuple):
    """The partial state of a bucket or window: one field per column of ``COLUMNS``, in that order.

    A NamedTuple rather than a Struct: the Python fold (``merge``) zips it with ``COLUMNS``, and ingestion folds
    one per event per grain."""

    quantity: int
    event_count: int
    max_quantity: int
    min_quantity: int
    latest_key: str

    @classmethod
    def of_event(cls, quantity: int, latest_key: str) -> State:
        """The state of a single event."""
        return cls._make(_EVENT_PARTS[column.per_event](quantity, latest_key) for column in COLUMNS)

    @classmethod
    def of_events(cls, quantities: list[int], latest_keys: list[str]) -> State:
        """The state of several events (the same as folding ``of_event`` of each, column by column in C)."""
        sources = (quantities, latest_keys)
        # tuple.__new__ over a list, as in merge: ingestion makes about one per event and grain.
        return tuple.__new__(
            State, [len(quantities) if source is None else fold(sources[source]) for fold, source in _EVENT_FOLDS]
        )

    @classmethod
    def combined(cls, states: list[State]) -> State:
        """Several states folded into one, column by column."""
        if len(states) == 1:
            return states[0]
        columns = zip(*states, strict=True)
        return tuple.__new__(State, [fold(values) for fold, values in zip(_FOLDS, columns, strict=True)])

    @classmethod
    def of_row(cls, values: Sequence[Any]) -> State:
        """A state read from SQL: whole numbers as int (PostgreSQL's SUM of bigints is a numeric)."""
        # A list and tuple.__new__, as in merge: a totals read makes one per feature, and the generator into
        # _make was a twentieth of its CPU.
        return tuple.__new__(State, [convert(v) for convert, v in zip(_FROM_SQL, values, strict=True)])

    def merge(self, other: State) -> State:
        # tuple.__new__ over a list: the fastest generic form measured (a State(*...) call over a generator
        # took half as long again), and ingestion merges about one state per event and grain.
        return tuple.__new__(State, [merge(a, b) for merge, a, b in zip(_MERGES, self, other, strict=True)])


_MERGE: dict[Combine, Callable[[object, object], object]] = {
    Combine.ADD: lambda a, b: a + b,  # type: ignore[operator]
    Combine.GREATEST: max,  # type: ignore[dict-item]
    Combine.LEAST: min,  # type: ignore[dict-item]
}


def _same(value: Any) -> Any:
    return value


_FOLD: dict[Combine, Callable[[Iterable[Any]], Any]] = {Combine.ADD: sum, Combine.GREATEST: max, Combine.LEAST: min}
_EVENT_PARTS: dict[str, Callable[[int, str], int | str]] = {
    "quantity": lambda quantity, _: quantity,
    "1": lambda _, __: 1,
    "latest_key": lambda _, latest_key: latest_key,
}

COLUMNS = (
    StateColumn("quantity", Combine.ADD, per_event="quantity", sql_type="bigint", empty=0),
    StateColumn("event_count", Combine.ADD, per_event="1", sql_type="bigint", empty=0),
    StateColumn("max_quantity", Combine.GREATEST, per_event="quantity", sql_type="bigint", empty=0),
    StateColumn("min_quantity", Combine.LEAST, per_event="quantity", sql_type="bigint", empty=0),
    StateColumn("latest_key", Combine.GREATEST, per_event="latest_key", sql_type="text", empty=""),
)
"""Every column of bucket state, in ``State``'s field order. ``event_count`` also tells an empty window."""
COLUMN_NAMES = tuple(c.name for c in COLUMNS)
_MERGES = tuple(_MERGE[c.combine] for c in COLUMNS)
_FOLDS = tuple(_FOLD[c.combine] for c in COLUMNS)
_FROM_SQL: tuple[Callable[[Any], Any], ...] = tuple(int if c.sql_type == "bigint" else _same for c in COLUMNS)
# Per column of an events' state: its fold, over the quantities (0) or the latest keys (1); None: a count.
_EVENT_FOLDS = tuple((_FOLD[c.combine], {"quantity": 0, "latest_key": 1, "1": None}[c.per_event]) for c in COLUMNS)
assert all(c.combine is Combine.ADD for c in COLUMNS if c.per_event == "1"), "a column of 1s adds up to a count"
EMPTY = State._make(c.empty for c in COLUMNS)

_KEY_PREFIX = 44  # see latest_key: two 20-digit instants and a 4-digit batch index, then the quantity


def _digits(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}{at.month:02d}{at.day:02d}{at.hour:02d}{at.minute:02d}{at.second:02d}{at.microsecond:06d}"


def latest_key(timestamp: datetime, recorded_at: datetime, batch_index: int, quantity: int) -> str:
    """What the ``latest`` aggregation keeps: a string that sorts like (timestamp, recorded_at, batch_index) and
    ends in the quantity, so the greatest key of any set of events is the latest one's (ties go to the
    later-recorded event). PostgreSQL's ingestion makes the same text in SQL (``tally.db.dialects.postgresql``)."""
    return f"{_digits(timestamp)}{recorded_digits(recorded_at)}{batch_index:04d}{quantity}"


@lru_cache(maxsize=16)
def recorded_digits(at: datetime) -> str:
    """``_digits`` of a receipt time, which every event of a batch shares."""
    return _digits(at)


class AggregationRule(msgspec.Struct, frozen=True):
    """An aggregation: the state it reads and how the window's value comes out of it. One that is not
    ``summable`` cannot be combined from per-bucket state (a user active on two days is one user in the
    month): its value is counted over the window's distinct values instead (``distinct``)."""

    state: str
    """The ``State`` field (bucket column) it needs."""
    value: Callable[[State], int]
    summable: bool = True


AGGREGATIONS: dict[Aggregation, AggregationRule] = {
    Aggregation.SUM: AggregationRule("quantity", lambda s: int(s.quantity)),
    Aggregation.COUNT: AggregationRule("event_count", lambda s: int(s.event_count)),
    Aggregation.MAX: AggregationRule("max_quantity", lambda s: int(s.max_quantity)),
    Aggregation.MIN: AggregationRule("min_quantity", lambda s: int(s.min_quantity)),
    Aggregation.LATEST: AggregationRule("latest_key", lambda s: int(s.latest_key[_KEY_PREFIX:])),
    # Distinct values of the feature's ``unique_by`` dimension among the window's events; read from the
    # dimension buckets, which keep one row per distinct set of values per bucket.
    Aggregation.UNIQUE_COUNT: AggregationRule("event_count", lambda s: 0, summable=False),
}


def value(aggregation: Aggregation, state: State | None, distinct: int | None = None) -> int:
    """A window's total for ``aggregation``: 0 for a window without events, whatever the aggregation. For one
    that is not summable, ``distinct`` is the count of distinct values (None: none)."""
    rule = AGGREGATIONS[aggregation]
    if not rule.summable:
        return distinct or 0
    if state is None or state.event_count == 0:
        return 0
    return rule.value(state)
