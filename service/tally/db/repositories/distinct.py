"""Distinct values of a ``unique_count`` feature's counted dimension: exact counts per window, counted by the
database over ``usage_dimension_bucket`` and raw events, and the raw events' values at the ragged edges of an
approximate count's windows.

Each range (``tally.metering.buckets.decompose``) lies inside one window, whose index is a parameter of the range's
UNION ALL branch; the statement counts per window, so the values never come into the service and its memory does
not grow with their number. The branches reuse the totals' sources (``tally.db.repositories.totals``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, NamedTuple
from uuid import UUID

from sqlalchemy import ColumnClause, Integer, String, TextClause, TextualSelect, column

from tally.db import dialects
from tally.db.dialects import Dialect, Reads
from tally.db.repositories.totals import (
    BRANCHES_PER_STATEMENT,
    DIMENSION_KEY,
    GroupValues,
    Kind,
    Shape,
    bind_statement,
    bucket_source,
    dimension_parts,
    kind,
    statement_params,
)
from tally.metering.buckets import Range


class DistinctRow(NamedTuple):
    """A distinct value of a counted dimension in one window (its index), per grouped values."""

    window: int
    feature_key: str
    group: GroupValues
    value: str


class DistinctRepository:
    """The distinct-count reads: hand-written statements, like ``TotalsRepository``'s, on the request's session."""

    def __init__(self, *, session: Reads) -> None:
        self.session = session
        self.dialect = dialects.of(session)

    async def counts(
        self,
        tenant_id: UUID,
        features: Sequence[tuple[str, str]],
        ranges: Sequence[tuple[Range, int]],
        group_by: tuple[str, ...] = (),
        filters: tuple[tuple[str, tuple[str, ...]], ...] = (),
        as_of: datetime | None = None,
    ) -> dict[tuple[str, int, GroupValues], int]:
        """The number of distinct values of each feature's counted dimension (``features``: (feature key,
        unique_by)) per (feature, window, grouped values), counted by the database over ``ranges`` of
        ``usage_dimension_bucket`` or raw events, each inside the window of its index: the values never come into
        the service, so its memory does not grow with their number. A statement counts whole windows."""
        counts: dict[tuple[str, int, GroupValues], int] = {}
        width = len(group_by)
        for statement, params in self._windowed(
            tenant_id, features, ranges, group_by, filters, _distinct_count_statement, as_of
        ):
            for row in await self.session.execute(statement, params):
                counts[(row[1], row[0], tuple(row[2 : 2 + width]))] = int(row[2 + width])
        return counts

    async def values(
        self,
        tenant_id: UUID,
        features: Sequence[tuple[str, str]],
        ranges: Sequence[tuple[Range, int]],
        group_by: tuple[str, ...] = (),
        filters: tuple[tuple[str, tuple[str, ...]], ...] = (),
        as_of: datetime | None = None,
    ) -> list[DistinctRow]:
        """The distinct values of each feature's counted dimension in ``ranges`` (each inside the window of its
        index), per window and grouped values: for the ragged edges of an approximate count, which add the raw
        events' values to the window's sketches (at most the events of two quarter hours per window)."""
        width = len(group_by)
        return [
            DistinctRow(row[0], row[1], tuple(row[2 : 2 + width]), row[2 + width])
            for statement, params in self._windowed(
                tenant_id, features, ranges, group_by, filters, _distinct_values_statement, as_of
            )
            for row in await self.session.execute(statement, params)
        ]

    def _windowed(
        self,
        tenant_id: UUID,
        features: Sequence[tuple[str, str]],
        ranges: Sequence[tuple[Range, int]],
        group_by: tuple[str, ...],
        filters: tuple[tuple[str, tuple[str, ...]], ...],
        statement_of: Callable[[Dialect, Shape, str, tuple[Kind, ...]], TextClause | TextualSelect],
        as_of: datetime | None = None,
    ) -> Iterator[tuple[TextClause | TextualSelect, dict[str, Any]]]:
        """Per counted dimension and chunk of whole windows: the statement over the chunk's ranges and its
        parameters (``w{k}``: the window of range ``k``)."""
        shape = Shape("usage_dimension_bucket", group_by, tuple(key for key, _ in filters), True, as_of is not None)
        for unique_by, keys in _by_unique_key(features).items():
            for chunk in _whole_windows(ranges):
                kinds = tuple(kind(r, 0) for r, _ in chunk)
                params = statement_params(tenant_id, [r for r, _ in chunk], keys, filters, as_of)
                params.update({f"w{k}": window for k, (_, window) in enumerate(chunk)})
                yield statement_of(self.dialect, shape, unique_by, kinds), params


def _whole_windows(ranges: Sequence[tuple[Range, int]]) -> Iterator[Sequence[tuple[Range, int]]]:
    """``ranges`` (in window order) in chunks of at most BRANCHES_PER_STATEMENT that never split a window (a
    window has a handful of ranges): a distinct count needs all of its window's ranges in one statement."""
    first = 0
    while first < len(ranges):
        end = min(first + BRANCHES_PER_STATEMENT, len(ranges))
        while end < len(ranges) and end > first + 1 and ranges[end][1] == ranges[end - 1][1]:
            end -= 1
        yield ranges[first:end]
        first = end


def _by_unique_key(features: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """Feature keys by the dimension they count: one statement per counted dimension (its key is in the text)."""
    by_key: dict[str, list[str]] = {}
    for feature_key, unique_by in features:
        by_key.setdefault(unique_by, []).append(feature_key)
    return by_key


def _distinct_branches(dialect: Dialect, shape: Shape, unique_by: str, kinds: tuple[Kind, ...]) -> str:
    """One UNION ALL branch per range, each yielding the distinct (w, feature_key, d..., u) of its rows: ``w`` the
    range's window (parameter ``w{k}``), ``u`` the value of ``unique_by`` (rows without it left out)."""
    parts = []
    for k, branch in enumerate(kinds):
        raw = branch == "raw"
        selected, where, _ = dimension_parts(dialect, shape, raw)
        assert DIMENSION_KEY.fullmatch(unique_by)
        counted = dialect.json_value("dimensions" if raw else "dimension_set", unique_by)
        parts.append(
            f"SELECT DISTINCT CAST(:w{k} AS INTEGER) AS w, feature_key{selected}, {counted} AS u"
            f"{bucket_source(dialect, shape, k, raw)}{where} AND {counted} IS NOT NULL"
        )
    return " UNION ALL ".join(parts)


@lru_cache(maxsize=256)
def _distinct_count_statement(dialect: Dialect, shape: Shape, unique_by: str, kinds: tuple[Kind, ...]) -> TextClause:
    """The number of distinct ``unique_by`` values per window, feature and grouped values over the ranges."""
    values = "".join(f", d{i}" for i in range(len(shape.group_by)))
    branches = _distinct_branches(dialect, shape, unique_by, kinds)
    sql = f"SELECT w, feature_key{values}, COUNT(DISTINCT u) FROM ({branches}) AS part GROUP BY w, feature_key{values}"  # noqa: S608 - no input in the text
    return bind_statement(dialect, sql, shape, kinds)


@lru_cache(maxsize=256)
def _distinct_values_statement(
    dialect: Dialect, shape: Shape, unique_by: str, kinds: tuple[Kind, ...]
) -> TextualSelect:
    columns: list[ColumnClause[Any]] = [
        column("w", Integer()),
        column("feature_key", String()),
        *(column(f"d{i}", String()) for i in range(len(shape.group_by))),
        column("u", String()),
    ]
    return bind_statement(dialect, _distinct_branches(dialect, shape, unique_by, kinds), shape, kinds).columns(*columns)
