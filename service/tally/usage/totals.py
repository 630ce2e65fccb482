"""The totals query: every aggregation, for any list of consecutive windows, from bucket rows and (at ragged
edges only) raw events.

Each window is split by ``decompose``; ranges of the same grain that touch are merged across windows, so
a month of hourly windows is one range of hour buckets. One statement reads every range (a UNION ALL
branch each, written once per shape and prepared once per connection: building it with select() per
request cost as much CPU as the rest of a request); Python then folds each row into the window holding
it. Raw-event branches are grouped in SQL, and each lies inside one window.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal, NoReturn
from uuid import UUID

import msgspec
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import (
    BigInteger,
    ColumnClause,
    Integer,
    String,
    TextClause,
    TextualSelect,
    Uuid,
    bindparam,
    column,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import FeatureRecord
from tally.domain.errors import InvalidInput, UnknownFeature
from tally.domain.models import (
    DIMENSION_KEY_PATTERN,
    MAX_DIMENSION_VALUE,
    MAX_GROUP_BY,
    MAX_TOTAL_ROWS,
    Aggregation,
    FieldError,
    UsageTotal,
)
from tally.usage.buckets import DIMENSION_GRAINS, GRAINS, Cells, Range, decompose, fold, quantity_of

TotalsSource = Literal["buckets", "events"]
BRANCHES_PER_STATEMENT = 200  # SQLite allows at most 500 SELECTs in one compound statement
NO_AT = "CAST(NULL AS TIMESTAMP WITH TIME ZONE)"  # PostgreSQL types a bare NULL in a UNION as text


class Plan:
    """Where each window's total comes from: ``(range, window index)`` pairs, the index None for a bucket
    range merged across several windows (its rows are then sorted into windows one by one)."""

    def __init__(
        self, windows: Sequence[tuple[datetime, datetime]], source: TotalsSource, grains: tuple[int, ...] = GRAINS
    ) -> None:
        self.starts = [start for start, _ in windows]
        self.ranges: list[tuple[Range, int | None]] = []
        for i, (start, end) in enumerate(windows):
            for r in [Range(0, start, end)] if source == "events" else decompose(start, end, grains):
                last = self.ranges[-1][0] if self.ranges else None
                if r.grain_seconds and last and last.grain_seconds == r.grain_seconds and last.end == r.start:
                    self.ranges[-1] = (Range(r.grain_seconds, last.start, r.end), None)
                else:
                    self.ranges.append((r, i))

    def window_of(self, instant: datetime) -> int:
        return bisect_right(self.starts, instant) - 1


async def compute(
    session: AsyncSession,
    tenant_id: UUID,
    wanted: list[str] | None,
    windows: Sequence[tuple[datetime, datetime]],
    source: TotalsSource,
) -> list[UsageTotal]:
    """``UsageTotal`` rows sorted by (feature_key, window_start), one per selected feature (``wanted``, or
    every feature of the catalog when None) and window, zero-filled."""
    if len(windows) == 1:
        return await _one_window(session, tenant_id, wanted, windows[0], source)
    features = [(key, unit, aggregation) for key, unit, aggregation, _ in await _features(session, wanted)]
    _check_row_count(len(features), len(windows))
    plan = Plan(windows, source)
    acc: Cells = {}  # (feature, window) -> partial sums
    for first in range(0, len(plan.ranges), BRANCHES_PER_STATEMENT):
        chunk = plan.ranges[first : first + BRANCHES_PER_STATEMENT]
        kinds = tuple(_kind(r, window) for r, window in chunk)
        params = _params(tenant_id, [r for r, _ in chunk], wanted)
        for part, at, feature, quantity, count, largest, latest in await session.execute(
            _statement(kinds, wanted is not None), params
        ):
            window = plan.window_of(at) if at is not None else chunk[part][1]
            assert window is not None
            # int(): PostgreSQL's SUM of bigints is a numeric.
            fold(acc, (feature, window), int(quantity), int(count), int(largest), latest)
    return [
        UsageTotal(
            feature_key=key,
            unit=unit,
            quantity=_value(aggregation, acc.get((key, i))),
            window_start=start,
            window_end=end,
            dimensions={},
        )
        for key, unit, aggregation in sorted(features)
        for i, (start, end) in enumerate(windows)
    ]


async def _one_window(
    session: AsyncSession,
    tenant_id: UUID,
    wanted: list[str] | None,
    window: tuple[datetime, datetime],
    source: TotalsSource,
) -> list[UsageTotal]:
    """The hot path (no window_size): catalog and partial sums in one statement, one round trip."""
    start, end = window
    ranges = [Range(0, start, end)] if source == "events" else decompose(start, end)
    kinds = tuple(_kind(r, 0) for r in ranges)
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _catalog_statement(kinds, wanted is not None, postgres)
    rows = (await session.execute(statement, _params(tenant_id, ranges, wanted))).all()
    _check_known(wanted, {row[0] for row in rows})
    return [
        UsageTotal(
            feature_key=key,
            unit=unit,
            quantity=_value(Aggregation(aggregation), [quantity, count, largest, latest]),
            window_start=start,
            window_end=end,
            dimensions={},
        )
        for key, unit, aggregation, quantity, count, largest, latest in rows
    ]


def _params(tenant_id: UUID, ranges: Sequence[Range], wanted: list[str] | None) -> dict[str, Any]:
    params: dict[str, Any] = {"tenant_id": tenant_id}
    for k, r in enumerate(ranges):
        params[f"s{k}"], params[f"e{k}"] = r.start, r.end
        if r.grain_seconds:
            params[f"g{k}"] = r.grain_seconds
    if wanted is not None:
        params["features"] = wanted
    return params


async def _features(session: AsyncSession, wanted: list[str] | None) -> list[tuple[str, str, Aggregation, list[str]]]:
    """(key, unit, aggregation, dimensions) of the selected features (every feature when ``wanted`` is None),
    sorted by key; an unknown wanted key is a 400."""
    catalog = FeatureRecord
    stmt = select(catalog.feature_key, catalog.unit, catalog.aggregation, catalog.dimensions)
    if wanted is not None:
        stmt = stmt.where(catalog.feature_key.in_(wanted))
    features = sorted(
        (key, unit, Aggregation(aggregation), list(dimensions))
        for key, unit, aggregation, dimensions in await session.execute(stmt)
    )
    _check_known(wanted, {key for key, _, _, _ in features})
    return features


def _check_row_count(features: int, windows: int) -> None:
    if features * windows > MAX_TOTAL_ROWS:
        raise InvalidInput.field(
            "window_size",
            f"{features} features x {windows} windows is more than {MAX_TOTAL_ROWS} rows: "
            "narrow the period, name fewer feature_keys or use a larger window_size",
        )


def _check_known(wanted: list[str] | None, found: set[str]) -> None:
    if wanted is not None and len(found) < len(wanted):
        unknown = ", ".join(repr(k) for k in wanted if k not in found)
        raise UnknownFeature.field("feature_keys", f"unknown feature(s): {unknown}")


def _value(aggregation: Aggregation, cell: list[Any] | None) -> int:
    """A window's total for ``aggregation``; 0 for a window without events, whatever the aggregation."""
    if cell is None or cell[1] == 0:
        return 0
    if aggregation is Aggregation.SUM:
        return int(cell[0])
    if aggregation is Aggregation.COUNT:
        return int(cell[1])
    if aggregation is Aggregation.MAX:
        return int(cell[2])
    return quantity_of(cell[3])


def _kind(r: Range, window: int | None) -> str:
    if r.grain_seconds == 0:
        return "raw"
    return "buckets" if window is not None else "bucket rows"


def _branches(kinds: tuple[str, ...], filtered: bool) -> str:
    """One UNION ALL branch per range: "buckets" and "raw" branches are summed in SQL (they lie in one
    window), "bucket rows" come back row by row with their start."""
    only = " AND feature_key IN :features" if filtered else ""
    parts = []
    for k, kind in enumerate(kinds):
        if kind == "buckets":
            parts.append(
                f"SELECT {k} AS part, {NO_AT} AS at, feature_key, SUM(quantity) AS quantity,"  # noqa: S608 - no input in the text
                f" SUM(event_count) AS event_count, MAX(max_quantity) AS max_quantity, MAX(latest_key) AS latest_key"
                f" FROM usage_bucket WHERE tenant_id = :tenant_id AND grain_seconds = :g{k}"
                f" AND bucket_start >= :s{k} AND bucket_start < :e{k}{only} GROUP BY feature_key"
            )
        elif kind == "bucket rows":
            parts.append(
                f"SELECT {k} AS part, bucket_start AS at, feature_key, quantity, event_count, max_quantity, latest_key"  # noqa: S608 - no input in the text
                f" FROM usage_bucket WHERE tenant_id = :tenant_id AND grain_seconds = :g{k}"
                f" AND bucket_start >= :s{k} AND bucket_start < :e{k}{only}"
            )
        else:
            parts.append(
                f"SELECT {k} AS part, {NO_AT} AS at, feature_key, SUM(quantity) AS quantity,"  # noqa: S608 - no input in the text
                f" COUNT(*) AS event_count, MAX(quantity) AS max_quantity, MAX(latest_key) AS latest_key"
                f" FROM usage_event WHERE tenant_id = :tenant_id AND timestamp >= :s{k} AND timestamp < :e{k}"
                f" AND voided_at IS NULL{only} GROUP BY feature_key"
            )
    return " UNION ALL ".join(parts)


def _bind(sql: str, kinds: tuple[str, ...], filtered: bool) -> TextClause:
    stmt = text(sql).bindparams(
        bindparam("tenant_id", type_=Uuid()),
        *(bindparam(f"{edge}{k}", type_=DateTimeUTC()) for k in range(len(kinds)) for edge in "se"),
    )
    return stmt.bindparams(bindparam("features", expanding=True)) if filtered else stmt


@lru_cache(maxsize=256)
def _statement(kinds: tuple[str, ...], filtered: bool) -> TextualSelect:
    """The partial sums of several windows' ranges."""
    return _bind(_branches(kinds, filtered), kinds, filtered).columns(*_partial_columns(0))


def _partial_columns(group_width: int) -> list[ColumnClause[Any]]:
    """The typed columns of partial sums, with ``group_width`` grouped values (``d0``...) after the feature.
    Typed because SQLite hands instants back as text: DateTimeUTC turns them into datetimes."""
    return [
        column("part", Integer()),
        column("at", DateTimeUTC()),
        column("feature_key", String()),
        *(column(f"d{i}", String()) for i in range(group_width)),
        column("quantity", BigInteger()),
        column("event_count", BigInteger()),
        column("max_quantity", BigInteger()),
        column("latest_key", String()),
    ]


@lru_cache(maxsize=64)
def _catalog_statement(kinds: tuple[str, ...], filtered: bool, postgres: bool) -> TextClause:
    """The catalog left-joined to one window's partial sums: features without usage come out as zeros."""
    where = "WHERE feature.feature_key IN :features" if filtered else ""
    sql = f"""
        SELECT feature.feature_key, feature.unit, feature.aggregation,
               COALESCE(SUM(part.quantity), 0), COALESCE(SUM(part.event_count), 0),
               COALESCE(MAX(part.max_quantity), 0), COALESCE(MAX(part.latest_key), '')
        FROM feature LEFT OUTER JOIN ({_branches(kinds, filtered)}) AS part ON part.feature_key = feature.feature_key
        {where}
        GROUP BY feature.feature_key, feature.unit, feature.aggregation
        ORDER BY feature.feature_key{_byte_order(postgres)}
    """  # noqa: S608 - no input in the text
    return _bind(sql, kinds, filtered)


# --- grouped and filtered totals -----------------------------------------------------------------------


class Grouping(msgspec.Struct, frozen=True):
    """``group_by`` keys in the caller's order, and ``filter`` as key -> accepted values (keys sorted)."""

    group_by: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, group_by: Sequence[str] | None, filters: Sequence[str] | None) -> Grouping:
        """The query's ``group_by`` and ``filter`` values, checked: keys follow the dimension key pattern (they
        are also written into SQL, see ``_dimension``), at most MAX_GROUP_BY distinct keys to group by,
        filters read as ``key=value``."""
        keys = list(dict.fromkeys(group_by or ()))
        if len(keys) > MAX_GROUP_BY:
            raise InvalidInput.field("group_by", f"at most {MAX_GROUP_BY} keys, got {len(keys)}")
        errors = [
            FieldError(field="group_by", message=f"'{key}' is not a dimension key ({DIMENSION_KEY_PATTERN})")
            for key in keys
            if not _DIMENSION_KEY.fullmatch(key)
        ]
        accepted: dict[str, list[str]] = {}
        for raw in filters or ():
            key, equals, value = raw.partition("=")
            if not equals or not _DIMENSION_KEY.fullmatch(key) or not 1 <= len(value) <= MAX_DIMENSION_VALUE:
                errors.append(
                    FieldError(
                        field="filter",
                        message=f"'{raw}' is not key=value (a dimension key, then a value of 1 to "
                        f"{MAX_DIMENSION_VALUE} characters)",
                    )
                )
                continue
            values = accepted.setdefault(key, [])
            if value not in values:
                values.append(value)
        if errors:
            raise InvalidInput.fields(errors)
        return cls(tuple(keys), tuple((key, tuple(values)) for key, values in sorted(accepted.items())))

    def __bool__(self) -> bool:
        return bool(self.group_by or self.filters)

    @property
    def filter_keys(self) -> tuple[str, ...]:
        return tuple(key for key, _ in self.filters)

    def params(self) -> dict[str, list[str]]:
        """The accepted values of each filter, as the statements' ``:v0``, ``:v1``... parameters."""
        return {f"v{j}": list(values) for j, (_, values) in enumerate(self.filters)}

    def check_declared(self, features: Sequence[tuple[str, str, Aggregation, list[str]]]) -> None:
        """Every selected feature declares every key grouped or filtered by (else the answer would mix
        features grouped and not)."""
        errors = [
            FieldError(field=name, message=f"feature '{feature}' declares no dimension '{key}'")
            for name, keys in (("group_by", self.group_by), ("filter", [key for key, _ in self.filters]))
            for key in keys
            for feature, _, _, dimensions in features
            if key not in dimensions
        ]
        if errors:
            raise InvalidInput.fields(errors)


_DIMENSION_KEY = re.compile(DIMENSION_KEY_PATTERN)
GroupKey = tuple[str | None, ...]


async def compute_grouped(
    session: AsyncSession,
    tenant_id: UUID,
    wanted: list[str] | None,
    windows: Sequence[tuple[datetime, datetime]],
    source: TotalsSource,
    grouping: Grouping,
) -> list[UsageTotal]:
    """Totals of the events matching ``grouping.filters``, one row per (feature, window, combination of
    ``grouping.group_by`` values that occurred), sorted by feature, window start, then the values (nulls
    first). A (feature, window) without any matching event is one zero row, its values null. Read from
    ``usage_dimension_bucket`` and, at ragged edges, raw events."""
    if len(windows) == 1:
        return await _one_window_grouped(session, tenant_id, wanted, windows[0], source, grouping)
    features = await _features(session, wanted)
    grouping.check_declared(features)
    if not features:
        return []
    _check_row_count(len(features), len(windows))
    plan = Plan(windows, source, DIMENSION_GRAINS)
    postgres = session.get_bind().dialect.name == "postgresql"
    width = len(grouping.group_by)
    acc: Cells = {}  # (feature, window, group) -> partial sums
    for first in range(0, len(plan.ranges), BRANCHES_PER_STATEMENT):
        chunk = plan.ranges[first : first + BRANCHES_PER_STATEMENT]
        kinds = tuple(_kind(r, window) for r, window in chunk)
        params = _params(tenant_id, [r for r, _ in chunk], [key for key, _, _, _ in features])
        params |= grouping.params()
        statement = _grouped_statement(kinds, postgres, grouping.group_by, grouping.filter_keys, True)
        for row in await session.execute(statement, params):
            part, at, feature = row[0], row[1], row[2]
            group: GroupKey = tuple(row[3 : 3 + width])
            quantity, count, largest, latest = row[3 + width :]
            window = plan.window_of(at) if at is not None else chunk[part][1]
            assert window is not None
            fold(acc, (feature, window, group), int(quantity), int(count), int(largest), latest)
    groups: dict[tuple[str, int], list[GroupKey]] = {}
    for feature, window, group in acc:
        groups.setdefault((feature, window), []).append(group)
    nothing: GroupKey = (None,) * width
    rows = [
        UsageTotal(
            feature_key=key,
            unit=unit,
            quantity=_value(aggregation, acc.get((key, i, group))),
            window_start=start,
            window_end=end,
            dimensions=dict(zip(grouping.group_by, group, strict=True)),
        )
        for key, unit, aggregation, _ in features
        for i, (start, end) in enumerate(windows)
        for group in sorted(groups.get((key, i), [nothing]), key=_nulls_first)
    ]
    if len(rows) > MAX_TOTAL_ROWS:
        _too_many_rows(len(rows))
    return rows


def _nulls_first(group: GroupKey) -> tuple[tuple[bool, str], ...]:
    return tuple((value is not None, value or "") for value in group)


def _dimension(column_name: str, key: str, postgres: bool) -> str:
    """SQL for the value of dimension ``key`` in a column of dimension sets (NULL where it is missing).
    ``key`` is written into the text: it matched DIMENSION_KEY_PATTERN (letters, digits, underscores)."""
    assert _DIMENSION_KEY.fullmatch(key)
    return f"({column_name} ->> '{key}')" if postgres else f"json_extract({column_name}, '$.{key}')"


@lru_cache(maxsize=256)
def _grouped_statement(
    kinds: tuple[str, ...], postgres: bool, group_by: tuple[str, ...], filter_keys: tuple[str, ...], filtered: bool
) -> TextualSelect:
    """Like ``_statement``, over sets of dimension values: each branch also yields the ``group_by`` values
    (``d0``, ``d1``...) and keeps the rows whose values pass the filters (``:v0``, ``:v1``... one list of
    accepted values per key of ``filter_keys``)."""
    branches = _grouped_branches(kinds, postgres, group_by, filter_keys, filtered)
    return _bind_grouped(branches, kinds, filter_keys, filtered).columns(*_partial_columns(len(group_by)))


def _grouped_branches(
    kinds: tuple[str, ...], postgres: bool, group_by: tuple[str, ...], filter_keys: tuple[str, ...], filtered: bool
) -> str:
    """One UNION ALL branch per range, as ``_branches``, over ``usage_dimension_bucket``; with ``filtered``
    only the features of ``:features`` are read."""
    only = " AND feature_key IN :features" if filtered else ""
    parts = []
    for k, kind in enumerate(kinds):
        column_name = "dimensions" if kind == "raw" else "dimension_set"
        values = [_dimension(column_name, key, postgres) for key in group_by]
        selected = "".join(f", {v} AS d{i}" for i, v in enumerate(values))
        where = "".join(f" AND {_dimension(column_name, key, postgres)} IN :v{j}" for j, key in enumerate(filter_keys))
        grouped = "".join(f", {v}" for v in values)
        if kind == "raw":
            parts.append(
                f"SELECT {k} AS part, {NO_AT} AS at, feature_key{selected}, SUM(quantity) AS quantity,"  # noqa: S608 - no input in the text
                f" COUNT(*) AS event_count, MAX(quantity) AS max_quantity, MAX(latest_key) AS latest_key"
                f" FROM usage_event WHERE tenant_id = :tenant_id AND timestamp >= :s{k} AND timestamp < :e{k}"
                f" AND voided_at IS NULL{only}{where} GROUP BY feature_key{grouped}"
            )
        else:
            at = "bucket_start" if kind == "bucket rows" else NO_AT
            by_start = ", bucket_start" if kind == "bucket rows" else ""
            parts.append(
                f"SELECT {k} AS part, {at} AS at, feature_key{selected}, SUM(quantity) AS quantity,"  # noqa: S608 - no input in the text
                f" SUM(event_count) AS event_count, MAX(max_quantity) AS max_quantity, MAX(latest_key) AS latest_key"
                f" FROM usage_dimension_bucket WHERE tenant_id = :tenant_id{only}"
                f" AND grain_seconds = :g{k} AND bucket_start >= :s{k} AND bucket_start < :e{k}{where}"
                f" GROUP BY feature_key{by_start}{grouped}"
            )
    return " UNION ALL ".join(parts)


def _bind_grouped(sql: str, kinds: tuple[str, ...], filter_keys: tuple[str, ...], filtered: bool) -> TextClause:
    return _bind(sql, kinds, filtered).bindparams(
        *(bindparam(f"v{j}", expanding=True) for j in range(len(filter_keys)))
    )


def _byte_order(postgres: bool) -> str:
    """Strings sorted by code point, as Python sorts them (the database's locale may sort otherwise)."""
    return ' COLLATE "C"' if postgres else ""


async def _one_window_grouped(
    session: AsyncSession,
    tenant_id: UUID,
    wanted: list[str] | None,
    window: tuple[datetime, datetime],
    source: TotalsSource,
    grouping: Grouping,
) -> list[UsageTotal]:
    """The hot path of grouped totals (no window_size): the catalog, the grouped sums and their order in one
    statement; the keys are checked against the catalog it returns (an undeclared key only finds nulls)."""
    start, end = window
    ranges = [Range(0, start, end)] if source == "events" else decompose(start, end, DIMENSION_GRAINS)
    kinds = tuple(_kind(r, 0) for r in ranges)
    postgres = session.get_bind().dialect.name == "postgresql"
    statement = _catalog_grouped_statement(kinds, postgres, grouping.group_by, grouping.filter_keys, wanted is not None)
    rows = (await session.execute(statement, _params(tenant_id, ranges, wanted) | grouping.params())).all()
    features = {row[0]: (row[1], Aggregation(row[2]), row[3]) for row in rows}
    _check_known(wanted, set(features))
    grouping.check_declared(
        [
            (key, unit, aggregation, msgspec.json.decode(declared))
            for key, (unit, aggregation, declared) in features.items()
        ]
    )
    width = len(grouping.group_by)
    if len(rows) > MAX_TOTAL_ROWS:
        _too_many_rows(len(rows))
    return [
        UsageTotal(
            feature_key=row[0],
            unit=row[1],
            quantity=_value(features[row[0]][1], None if row[5 + width] is None else list(row[4 + width :])),
            window_start=start,
            window_end=end,
            dimensions=dict(zip(grouping.group_by, row[4 : 4 + width], strict=True)),
        )
        for row in rows
    ]


def _too_many_rows(count: int) -> NoReturn:
    raise InvalidInput.field(
        "group_by",
        f"the answer has {count} rows, more than {MAX_TOTAL_ROWS}: narrow the period, filter, group by "
        "fewer keys or use a larger window_size",
    )


@lru_cache(maxsize=256)
def _catalog_grouped_statement(
    kinds: tuple[str, ...], postgres: bool, group_by: tuple[str, ...], filter_keys: tuple[str, ...], filtered: bool
) -> TextClause:
    """The catalog left-joined to one window's grouped sums, in answer order: a feature without matching
    events comes out once, its values and sums null."""
    values = "".join(f", d{i}" for i in range(len(group_by)))
    joined = "".join(f", agg.d{i}" for i in range(len(group_by)))
    order = "".join(f", agg.d{i}{_byte_order(postgres)} NULLS FIRST" for i in range(len(group_by)))
    where = "WHERE feature.feature_key IN :features" if filtered else ""
    sql = f"""
        SELECT feature.feature_key, feature.unit, feature.aggregation, CAST(feature.dimensions AS TEXT){joined},
               agg.quantity, agg.event_count, agg.max_quantity, agg.latest_key
        FROM feature LEFT OUTER JOIN (
            SELECT feature_key{values}, SUM(quantity) AS quantity, SUM(event_count) AS event_count,
                   MAX(max_quantity) AS max_quantity, MAX(latest_key) AS latest_key
            FROM ({_grouped_branches(kinds, postgres, group_by, filter_keys, filtered)}) AS part
            GROUP BY feature_key{values}
        ) AS agg ON agg.feature_key = feature.feature_key
        {where}
        ORDER BY feature.feature_key{_byte_order(postgres)}{order}
    """  # noqa: S608 - no input in the text: keys matched DIMENSION_KEY_PATTERN
    return _bind_grouped(sql, kinds, filter_keys, filtered)
