"""The totals reads: partial states of bucket ranges and raw-event ranges, grouped or not.

A read is a list of ranges (``tally.metering.buckets.decompose``), each one UNION ALL branch of one statement:
"buckets" and "raw" branches are combined in SQL (they lie inside one window), "bucket rows" come back row
by row with their start, to be sorted into windows. The statements are written as text, once per shape,
and prepared once per connection: building them with select() per request cost as much CPU as the rest of
a request. Only dimension keys that matched DIMENSION_KEY_PATTERN are written into the text.

Two shapes: one window joins the catalog in the same statement (one round trip, features without usage
come out as empty states), several windows read the partial states of their ranges after the catalog.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Literal, NamedTuple
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
    text,
)

from tally.db import dialects
from tally.db.dialects import Dialect, Reads
from tally.db.repositories.grants import LIVE_GRANT
from tally.db.repositories.reservations import live_holds_sql
from tally.domain.catalog import Aggregation
from tally.domain.keys import DIMENSION_KEY_PATTERN
from tally.metering.aggregations import COLUMNS, Combine, State
from tally.metering.buckets import BucketTable, Range

Kind = Literal["raw", "buckets", "bucket rows"]
BRANCHES_PER_STATEMENT = 200  # SQLite allows at most 500 SELECTs in one compound statement
NO_AT = "CAST(NULL AS TIMESTAMP WITH TIME ZONE)"  # PostgreSQL types a bare NULL in a UNION as text
GroupValues = tuple[str | None, ...]
DIMENSION_KEY = re.compile(DIMENSION_KEY_PATTERN)  # the only text of a caller's written into a statement
_AGGREGATIONS = {a.value: a for a in Aggregation}


class Shape(msgspec.Struct, frozen=True):
    """What a statement's text depends on (besides its ranges' kinds): the bucket table, the dimension keys
    grouped by and filtered on, and whether only some features are read."""

    table: str
    group_by: tuple[str, ...] = ()
    filter_keys: tuple[str, ...] = ()
    some_features: bool = False
    as_of: bool = False  # raw events as known at ``:as_of``: recorded by then, not voided by then
    credits: bool = False  # with each feature's live holds at ``:now`` and whether it has live grants

    @property
    def grouped_rows(self) -> bool:
        """A "bucket rows" branch must be grouped: usage_dimension_bucket has several rows per bucket."""
        return self.table != "usage_bucket"


class CatalogRow(NamedTuple):
    """A row of a one-window read: a feature, its grouped values, and their state (None: no events)."""

    feature_key: str
    unit: str
    aggregation: Aggregation
    unique_by: str | None
    approximate: bool
    dimensions: list[str] | None  # the feature's declared keys, read only for grouped reads
    group: GroupValues
    state: State | None
    held: int = 0  # the sum of the feature's live holds, read only with ``credits_at``
    granted: bool = False  # whether the feature has live grants, read only with ``credits_at``


_FEATURE_KEY = itemgetter(0)  # a CatalogRow's feature_key: str order is code point order, as COLLATE "C"


class PartialRow(NamedTuple):
    """A partial state of a several-window read: the range it came from (its index), its bucket's start for
    a "bucket rows" range, the feature and grouped values."""

    part: int
    at: datetime | None
    feature_key: str
    group: GroupValues
    state: State


def kind(r: Range, window: int | None) -> Kind:
    """A range's branch: raw events, buckets inside one window, or bucket rows spread over several."""
    if r.grain_seconds == 0:
        return "raw"
    return "buckets" if window is not None else "bucket rows"


class TotalsRepository:
    """Every read of the totals: hand-written statements over both bucket tables and the raw events.

    Not an advanced-alchemy ``SQLAlchemyAsyncRepository`` like the others: it reads no model and uses none of
    that class's operations, and constructing one (a ``select`` of the model, loader options, primary-key
    info) was about 3% of a totals read's CPU in a py-spy profile, for a repository made per request.
    """

    def __init__(self, *, session: Reads) -> None:
        self.session = session
        self.dialect = dialects.of(session)

    async def one_window(
        self,
        tenant_id: UUID,
        wanted: list[str] | None,
        ranges: Sequence[Range],
        table: BucketTable,
        group_by: tuple[str, ...] = (),
        filters: tuple[tuple[str, tuple[str, ...]], ...] = (),
        as_of: datetime | None = None,
        credits_at: datetime | None = None,
    ) -> list[CatalogRow]:
        """The catalog's features (``wanted``, or all) left-joined to the states of ``ranges`` (one window),
        per combination of ``group_by`` values among the events passing ``filters``, in answer order: by
        feature, then the grouped values by code point, nulls first.

        ``credits_at`` (ungrouped reads only): each row also holds its feature's live holds at that instant and
        whether it has live grants, read in the same statement: the entitlement check's one round trip."""
        filter_keys, credits = tuple(key for key, _ in filters), credits_at is not None
        shape = Shape(table.name, group_by, filter_keys, wanted is not None, as_of is not None, credits)
        kinds = tuple(kind(r, 0) for r in ranges)
        statement = _catalog_statement(self.dialect, shape, kinds, tuple(r.grain_seconds for r in ranges))
        grouped = bool(group_by or filters)
        first = 5 + grouped + len(group_by)  # key, unit, aggregation, unique_by, approximate, [declared], values, state
        last = first + len(COLUMNS)  # then, with credits_at: held, granted
        params = statement_params(tenant_id, ranges, wanted, filters, as_of)
        if credits:
            params["now"] = credits_at
        rows = await self.dialect.fetch_rows(self.session, statement, params)
        of_row = State.of_row
        found = [
            CatalogRow(
                row[0],
                row[1],
                _AGGREGATIONS[row[2]],  # a dictionary's lookup: the enum's call was a tenth of building the rows
                row[3],
                bool(row[4]),
                msgspec.json.decode(row[5]) if grouped else None,
                tuple(row[5 + grouped : first]),
                None if row[first] is None else of_row(row[first:last]),
                *((int(row[last] or 0), bool(row[last + 1])) if credits else ()),
            )
            for row in rows
        ]
        if not grouped:  # the statement leaves their order to this (see _catalog_statement)
            found.sort(key=_FEATURE_KEY)
        return found

    async def partials(
        self,
        tenant_id: UUID,
        feature_keys: list[str] | None,
        ranges: Sequence[tuple[Range, int | None]],
        table: BucketTable,
        group_by: tuple[str, ...] = (),
        filters: tuple[tuple[str, tuple[str, ...]], ...] = (),
        as_of: datetime | None = None,
    ) -> list[PartialRow]:
        """The partial states of ``ranges`` (each with its window, None for a range across several windows) per
        feature (``feature_keys``, or all) and grouped values."""
        shape = Shape(
            table.name, group_by, tuple(key for key, _ in filters), feature_keys is not None, as_of is not None
        )
        width = len(group_by)
        found: list[PartialRow] = []
        for first in range(0, len(ranges), BRANCHES_PER_STATEMENT):
            chunk = ranges[first : first + BRANCHES_PER_STATEMENT]
            kinds = tuple(kind(r, window) for r, window in chunk)
            params = statement_params(tenant_id, [r for r, _ in chunk], feature_keys, filters, as_of)
            for row in await self.session.execute(_partials_statement(self.dialect, shape, kinds), params):
                found.append(
                    PartialRow(
                        first + row[0], row[1], row[2], tuple(row[3 : 3 + width]), State.of_row(row[3 + width :])
                    )
                )
        return found


def statement_params(
    tenant_id: UUID,
    ranges: Sequence[Range],
    wanted: list[str] | None,
    filters: tuple[tuple[str, tuple[str, ...]], ...],
    as_of: datetime | None = None,
) -> dict[str, Any]:
    params: dict[str, Any] = {"tenant_id": tenant_id}
    if as_of is not None:
        params["as_of"] = as_of
    for k, r in enumerate(ranges):
        params[f"s{k}"], params[f"e{k}"] = r.start, r.end
        if r.grain_seconds:
            params[f"g{k}"] = r.grain_seconds
    if wanted is not None:
        params["features"] = wanted
    for j, (_, values) in enumerate(filters):
        params[f"v{j}"] = list(values)
    return params


def dimension_parts(dialect: Dialect, shape: Shape, raw: bool) -> tuple[str, str, str]:
    """The grouped values as selected columns (``, v AS d0``), the filters as conditions (``AND v IN :v0``),
    and the grouped values as GROUP BY terms, over raw events' or bucket rows' dimension sets."""
    column_name = "dimensions" if raw else "dimension_set"
    assert all(DIMENSION_KEY.fullmatch(key) for key in (*shape.group_by, *shape.filter_keys))
    values = [dialect.json_value(column_name, key) for key in shape.group_by]
    selected = "".join(f", {v} AS d{i}" for i, v in enumerate(values))
    keys = enumerate(shape.filter_keys)
    where = "".join(f" AND {dialect.json_value(column_name, key)} {dialect.in_list(f'v{j}')}" for j, key in keys)
    return selected, where, "".join(f", {v}" for v in values)


def bucket_source(dialect: Dialect, shape: Shape, k: int, raw: bool, grain: int | None = None) -> str:
    """The FROM and WHERE of range ``k``: raw events or one grain's bucket rows of the tenant (``grain`` written
    into the text when given, else the parameter ``g{k}``)."""
    only = f" AND feature_key {dialect.in_list('features')}" if shape.some_features else ""
    if raw:
        known = (
            " AND recorded_at <= :as_of AND (voided_at IS NULL OR voided_at > :as_of)"
            if shape.as_of
            else " AND voided_at IS NULL"
        )
        return (
            f" FROM usage_event WHERE tenant_id = :tenant_id AND timestamp >= :s{k} AND timestamp < :e{k}{known}{only}"
        )
    grain_value = f":g{k}" if grain is None else int(grain)
    return (
        f" FROM {shape.table} WHERE tenant_id = :tenant_id AND grain_seconds = {grain_value}"
        f" AND bucket_start >= :s{k} AND bucket_start < :e{k}{only}"
    )


def _branches(dialect: Dialect, shape: Shape, kinds: tuple[Kind, ...], grains: tuple[int, ...] = ()) -> str:
    """One UNION ALL branch per range, each yielding (part, at, feature_key, d0..., state columns); ``grains``, when
    given, the ranges' grains written into the text."""
    parts = []
    for k, branch in enumerate(kinds):
        grain = grains[k] if grains else None
        raw = branch == "raw"
        selected, where, grouped = dimension_parts(dialect, shape, raw)
        if raw:
            state = ", ".join(f"{c.sql_aggregate}({c.per_event}) AS {c.name}" for c in COLUMNS)
            parts.append(
                f"SELECT {k} AS part, {NO_AT} AS at, feature_key{selected}, {state}"
                f"{bucket_source(dialect, shape, k, raw, grain)}{where} GROUP BY feature_key{grouped}"
            )
            continue
        rows = branch == "bucket rows"
        combined = not rows or shape.grouped_rows
        state = ", ".join(f"{c.sql_aggregate}({c.name}) AS {c.name}" if combined else c.name for c in COLUMNS)
        group = f" GROUP BY feature_key{', bucket_start' if rows else ''}{grouped}" if combined else ""
        parts.append(
            f"SELECT {k} AS part, {'bucket_start' if rows else NO_AT} AS at, feature_key{selected}, {state}"
            f"{bucket_source(dialect, shape, k, raw, grain)}{where}{group}"
        )
    return " UNION ALL ".join(parts)


def bind_statement(dialect: Dialect, sql: str, shape: Shape, kinds: tuple[Kind, ...]) -> TextClause:
    expanding = dialect.expands_lists
    stmt = text(sql).bindparams(
        bindparam("tenant_id", type_=Uuid()),
        *(bindparam(f"{edge}{k}", type_=DateTimeUTC()) for k in range(len(kinds)) for edge in "se"),
        *(bindparam(f"v{j}", expanding=expanding) for j in range(len(shape.filter_keys))),
        *([bindparam("as_of", type_=DateTimeUTC())] if shape.as_of else []),
    )
    return stmt.bindparams(bindparam("features", expanding=expanding)) if shape.some_features else stmt


@lru_cache(maxsize=256)
def _partials_statement(dialect: Dialect, shape: Shape, kinds: tuple[Kind, ...]) -> TextualSelect:
    # Typed columns: SQLite hands instants back as text, DateTimeUTC turns them into datetimes.
    columns: list[ColumnClause[Any]] = [
        column("part", Integer()),
        column("at", DateTimeUTC()),
        column("feature_key", String()),
        *(column(f"d{i}", String()) for i in range(len(shape.group_by))),
        *(column(c.name, BigInteger() if c.sql_type == "bigint" else String()) for c in COLUMNS),
    ]
    return bind_statement(dialect, _branches(dialect, shape, kinds), shape, kinds).columns(*columns)


@lru_cache(maxsize=256)
def _catalog_statement(dialect: Dialect, shape: Shape, kinds: tuple[Kind, ...], grains: tuple[int, ...]) -> TextClause:
    """The catalog left-joined to one window's combined states, in answer order: a feature without matching
    events comes out once, its values and state null.

    The ranges' grains are written into the text, not bound: the statement is prepared once per connection, and
    PostgreSQL keeps its generic plan only when that plan's estimate is close to a planned-per-call one's. With the
    grain a parameter, the generic plan expected a tenant's rows of an average grain (the 15-minute grain has 96
    rows a day for the day grain's one), so it looked 40 times dearer and every read was planned anew: 0.2 ms of
    the database's CPU per totals read, 0.5 ms per entitlement check, on a database of a million events. With the
    day grain in the text, its statistics give the estimate, and the reads only bind. Only here: a one-window read
    has a few ranges, while a several-window read's statement has up to BRANCHES_PER_STATEMENT, whose grains written
    in would make a text (prepared on every connection) per combination."""
    grouped = bool(shape.group_by or shape.filter_keys)
    values = "".join(f", d{i}" for i in range(len(shape.group_by)))
    joined = "".join(f", agg.d{i}" for i in range(len(shape.group_by)))
    order = "".join(f", agg.d{i}{dialect.byte_order} NULLS FIRST" for i in range(len(shape.group_by)))
    declared = ", CAST(feature.dimensions AS TEXT)" if grouped else ""
    # A sum comes back as text: on PostgreSQL a SUM of bigints is a numeric, which asyncpg hands back as a Decimal,
    # and decoding those took a totals read 10 µs more than text (State.of_row makes ints of either, exactly).
    state = ", ".join(f"CAST(agg.{c.name} AS TEXT)" if c.combine is Combine.ADD else f"agg.{c.name}" for c in COLUMNS)
    combined = ", ".join(f"{c.sql_aggregate}({c.name}) AS {c.name}" for c in COLUMNS)
    where = f"WHERE feature.feature_key {dialect.in_list('features')}" if shape.some_features else ""
    assert not (shape.credits and grouped), "a grouped read has several rows per feature"
    # The credits joined as the tenant's holds and grants grouped by feature, not as subqueries correlated with
    # each feature: with those, PostgreSQL's generic plan (it cannot know how many features :features names)
    # cost five times the custom one, so every check was planned anew, 0.4 ms of the server's CPU per check.
    # Joined, the generic plan is chosen after the fifth check and each later one only binds.
    credits, joined_credits = (
        (
            ", CAST(holds.held AS TEXT), grants.feature_key IS NOT NULL",
            f"""
        LEFT OUTER JOIN (SELECT feature_key, SUM(quantity) AS held {live_holds_sql(dialect, some_features=False)}
        ) AS holds ON holds.feature_key = feature.feature_key
        LEFT OUTER JOIN (SELECT DISTINCT feature_key FROM credit_grant WHERE tenant_id = :tenant_id AND {LIVE_GRANT}
        ) AS grants ON grants.feature_key = feature.feature_key""",  # noqa: S608 - no input in the text
        )
        if shape.credits
        else ("", "")
    )
    # Ungrouped, the rows are sorted by one_window: ORDER BY in code point order (COLLATE "C") is a sort step of
    # its own on PostgreSQL, 20-50 µs of the 300 a totals read's statement took.
    ordered = f"ORDER BY feature.feature_key{dialect.byte_order}{order}" if grouped else ""
    branches = _branches(dialect, shape, kinds, grains)
    # One range's branch that aggregates is already one row per feature and grouped values: combining it again
    # was about a twentieth of a one-window read's time on PostgreSQL.
    aggregated = branches
    if not (len(kinds) == 1 and kinds[0] != "bucket rows"):
        aggregated = f"SELECT feature_key{values}, {combined} FROM ({branches}) AS part GROUP BY feature_key{values}"  # noqa: S608
    sql = f"""
        SELECT feature.feature_key, feature.unit, feature.aggregation, feature.unique_by, feature.approximate
            {declared}{joined}, {state}{credits}
        FROM feature LEFT OUTER JOIN ({aggregated}) AS agg ON agg.feature_key = feature.feature_key{joined_credits}
        {where}
        {ordered}
    """  # noqa: S608 - no input in the text: keys matched DIMENSION_KEY_PATTERN
    statement = bind_statement(dialect, sql, shape, kinds)
    return statement.bindparams(bindparam("now", type_=DateTimeUTC())) if shape.credits else statement
