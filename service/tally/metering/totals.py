"""What a totals read asks (``TotalsQuery``) and how its answer is put together (pure, no I/O).

The API's query parameters and the usage page both make a ``TotalsQuery`` with ``TotalsQuery.build``. The
read itself (``UsageReader.totals``) asks ``TotalsRepository`` for partial states and hands them to
``one_window_rows`` or ``window_rows`` here:

- one window: the repository joins the catalog and answers rows in order; they become ``UsageTotal``s;
- several windows: each window is split by ``decompose``; ranges of the same grain that touch are merged
  across windows (``Plan``), so a month of hourly windows is one range of hour buckets; each partial state
  is folded into the window holding it, then zero-filled per feature and window.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime, tzinfo
from functools import lru_cache
from itertools import groupby
from operator import attrgetter
from typing import Any, Literal, NoReturn

import msgspec

from tally.domain.catalog import Feature
from tally.domain.errors import InvalidInput, UnknownFeature
from tally.domain.keys import DIMENSION_KEY_PATTERN, MAX_DIMENSION_VALUE, MAX_FEATURE_KEYS
from tally.domain.problems import FieldError
from tally.domain.usage import MAX_GROUP_BY, MAX_TOTAL_ROWS, UsageTotal, WindowSize
from tally.metering.aggregations import AGGREGATIONS, State, value
from tally.metering.buckets import Range, decompose, fold
from tally.metering.periods import resolve_period, utc_bound, windows, zone

TotalsSource = Literal["buckets", "events"]
_DIMENSION_KEY = re.compile(DIMENSION_KEY_PATTERN)
GroupValues = tuple[str | None, ...]


class Grouping(msgspec.Struct, frozen=True):
    """``group_by`` keys in the caller's order, and ``filter`` as key -> accepted values (keys sorted)."""

    group_by: tuple[str, ...] = ()
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @classmethod
    def parse(cls, group_by: Sequence[str] | None, filters: Sequence[str] | None) -> Grouping:
        """The query's ``group_by`` and ``filter`` values, checked: keys follow the dimension key pattern (they
        are also written into SQL), at most MAX_GROUP_BY distinct keys to group by, filters read as
        ``key=value``."""
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
            key, equals, wanted = raw.partition("=")
            if not equals or not _DIMENSION_KEY.fullmatch(key) or not 1 <= len(wanted) <= MAX_DIMENSION_VALUE:
                errors.append(
                    FieldError(
                        field="filter",
                        message=f"'{raw}' is not key=value (a dimension key, then a value of 1 to "
                        f"{MAX_DIMENSION_VALUE} characters)",
                    )
                )
                continue
            values = accepted.setdefault(key, [])
            if wanted not in values:
                values.append(wanted)
        if errors:
            raise InvalidInput.fields(errors)
        return cls(tuple(keys), tuple((key, tuple(values)) for key, values in sorted(accepted.items())))

    def __bool__(self) -> bool:
        return bool(self.group_by or self.filters)

    def check_declared(self, declared: Iterable[tuple[str, Sequence[str]]]) -> None:
        """Every selected feature (key, declared dimension keys) declares every key grouped or filtered by
        (else the answer would mix features grouped and not)."""
        declared = list(declared)
        errors = [
            FieldError(field=name, message=f"feature '{feature}' declares no dimension '{key}'")
            for name, keys in (("group_by", self.group_by), ("filter", [key for key, _ in self.filters]))
            for key in keys
            for feature, dimensions in declared
            if key not in dimensions
        ]
        if errors:
            raise InvalidInput.fields(errors)


class TotalsQuery(msgspec.Struct, frozen=True):
    """One totals read: the features (None: the whole catalog), consecutive windows, and the grouping."""

    feature_keys: tuple[str, ...] | None
    windows: tuple[tuple[datetime, datetime], ...]
    grouping: Grouping = Grouping()
    as_of: datetime | None = None  # the totals as known at this instant (UTC); None: as they are now

    @classmethod
    def build(
        cls,
        *,
        now: datetime,
        feature_keys: Sequence[str] | None = None,
        period_start: datetime | None = None,
        period_end: datetime | None = None,
        window_size: WindowSize | None = None,
        timezone: str | tzinfo = "UTC",
        group_by: Sequence[str] | None = None,
        filters: Sequence[str] | None = None,
        as_of: datetime | None = None,
    ) -> TotalsQuery:
        """The query of these parameters, checked (each rule's 400 names its parameter)."""
        grouping = Grouping.parse(group_by, filters)
        known_at = utc_bound(as_of, "as_of")
        if known_at is not None and known_at > now:
            raise InvalidInput.field("as_of", "lies in the future: Tally can only say what it knew up to now")
        tz = zone(timezone) if isinstance(timezone, str) else timezone
        start, end = resolve_period(period_start, period_end, now=now, tz=tz)
        spans = [(start, end)] if window_size is None else windows(start, end, window_size, tz, MAX_TOTAL_ROWS)
        return cls(wanted_keys(feature_keys), tuple(spans), grouping, known_at)

    def one_window(self, grouping: Grouping | None = None) -> TotalsQuery:
        """The same features over the whole period as one window (``grouping`` instead, when given)."""
        whole = ((self.windows[0][0], self.windows[-1][1]),)
        return TotalsQuery(self.feature_keys, whole, self.grouping if grouping is None else grouping, self.as_of)

    @property
    def wanted(self) -> list[str] | None:
        return None if self.feature_keys is None else list(self.feature_keys)


def wanted_keys(feature_keys: Sequence[str] | None) -> tuple[str, ...] | None:
    """The requested feature keys without repeats (``None``: every feature), at most MAX_FEATURE_KEYS."""
    if feature_keys is None:
        return None
    wanted = tuple(dict.fromkeys(feature_keys))
    if len(wanted) > MAX_FEATURE_KEYS:
        raise InvalidInput.field("feature_keys", f"at most {MAX_FEATURE_KEYS} keys, got {len(wanted)}")
    return wanted


def ranges_of(window: tuple[datetime, datetime], source: TotalsSource, grains: tuple[int, ...]) -> list[Range]:
    start, end = window
    return [Range(0, start, end)] if source == "events" else list(_decomposed(start, end, grains))


@lru_cache(maxsize=1024)
def _decomposed(start: datetime, end: datetime, grains: tuple[int, ...]) -> tuple[Range, ...]:
    # Remembered: the checks users put before every request ask about the same month again and again, and
    # splitting it was a fiftieth of a totals read's CPU.
    return tuple(decompose(start, end, grains))


class Plan:
    """Where each window's total comes from: ``(range, window index)`` pairs, the index None for a bucket
    range merged across several windows (its rows are then sorted into windows one by one)."""

    def __init__(
        self, windows: Sequence[tuple[datetime, datetime]], source: TotalsSource, grains: tuple[int, ...]
    ) -> None:
        self.starts = [start for start, _ in windows]
        self.ranges: list[tuple[Range, int | None]] = []
        for i, window in enumerate(windows):
            for r in ranges_of(window, source, grains):
                last = self.ranges[-1][0] if self.ranges else None
                if r.grain_seconds and last and last.grain_seconds == r.grain_seconds and last.end == r.start:
                    self.ranges[-1] = (Range(r.grain_seconds, last.start, r.end), None)
                else:
                    self.ranges.append((r, i))

    def window_of(self, part: int, at: datetime | None) -> int:
        """The window of a partial state from range ``part`` (at ``at``, for a bucket row)."""
        window = self.ranges[part][1]
        if at is None:
            assert window is not None
            return window
        return bisect_right(self.starts, at) - 1


def check_known(wanted: Sequence[str] | None, found: Iterable[str]) -> None:
    """Every wanted feature exists (a 400 naming the unknown ones)."""
    found = set(found)
    if wanted is not None and len(found) < len(wanted):
        unknown = ", ".join(repr(k) for k in wanted if k not in found)
        raise UnknownFeature.field("feature_keys", f"unknown feature(s): {unknown}")


def check_row_count(features: int, windows: int) -> None:
    if features * windows > MAX_TOTAL_ROWS:
        raise InvalidInput.field(
            "window_size",
            f"{features} features x {windows} windows is more than {MAX_TOTAL_ROWS} rows: "
            "narrow the period, name fewer feature_keys or use a larger window_size",
        )


def too_many_rows(count: int) -> NoReturn:
    raise InvalidInput.field(
        "group_by",
        f"the answer has {count} rows, more than {MAX_TOTAL_ROWS}: narrow the period, filter, group by "
        "fewer keys or use a larger window_size",
    )


def counted_features(features: Iterable[Any]) -> list[tuple[str, str]]:
    """(feature key, counted dimension) of the features whose aggregation is not summable (a distinct count):
    ``Feature``s or catalog rows, anything with ``feature_key``, ``aggregation`` and ``unique_by``."""
    return sorted(
        {(f.feature_key, f.unique_by) for f in features if not AGGREGATIONS[f.aggregation].summable and f.unique_by}
    )


def check_counted_grouping(grouping: Grouping, sketched: Iterable[tuple[str, str]]) -> None:
    """An approximate distinct count (``sketched``: feature key, counted dimension) is neither grouped nor filtered
    by its own counted dimension: its sketches keep no values one by one (an exact count can be)."""
    errors = [
        FieldError(
            field=name,
            message=f"feature '{feature_key}' counts distinct '{key}' approximately: its totals cannot be grouped "
            f"or filtered by '{key}'",
        )
        for feature_key, unique_by in sketched
        for name, keys in (("group_by", grouping.group_by), ("filter", [key for key, _ in grouping.filters]))
        for key in keys
        if key == unique_by
    ]
    if errors:
        raise InvalidInput.fields(errors)


def window_ranges(
    windows: Sequence[tuple[datetime, datetime]], source: TotalsSource, grains: tuple[int, ...]
) -> list[tuple[Range, int]]:
    """Every window's ranges, each with its window's index (never merged across windows: an exact distinct count
    is counted per window by the database)."""
    return [(r, i) for i, window in enumerate(windows) for r in ranges_of(window, source, grains)]


def window_rows(
    query: TotalsQuery,
    features: Sequence[Feature],
    plan: Plan,
    partials: Iterable[Any],
    distinct: dict[tuple[str, int, GroupValues], int],
) -> list[UsageTotal]:
    """``UsageTotal`` rows of several windows from their partial states (``PartialRow``s): one per feature,
    window and combination of grouped values that occurred, sorted by feature, window start, then the values
    (nulls first). A (feature, window) without any matching event is one zero row, its values null."""
    states: dict[tuple[str, int, GroupValues], State] = {}
    for row in partials:
        fold(states, (row.feature_key, plan.window_of(row.part, row.at), row.group), row.state)
    groups: dict[tuple[str, int], set[GroupValues]] = {}
    for feature, window, group in (*states, *distinct):  # a distinct count's groups: also those of its sketches
        groups.setdefault((feature, window), set()).add(group)
    by = query.grouping.group_by
    nothing: GroupValues = (None,) * len(by)
    rows = [
        UsageTotal(
            feature_key=feature.feature_key,
            unit=feature.unit,
            quantity=value(
                feature.aggregation,
                states.get((feature.feature_key, i, group)),
                distinct.get((feature.feature_key, i, group)),
            ),
            window_start=start,
            window_end=end,
            dimensions=dict(zip(by, group, strict=True)),
            approximate=feature.approximate,
        )
        for feature in features
        for i, (start, end) in enumerate(query.windows)
        for group in sorted(groups.get((feature.feature_key, i), {nothing}), key=_nulls_first)
    ]
    if len(rows) > MAX_TOTAL_ROWS:
        too_many_rows(len(rows))
    return rows


def one_window_rows(
    query: TotalsQuery, rows: Sequence[Any], distinct: dict[tuple[str, int, GroupValues], int]
) -> list[UsageTotal]:
    """``UsageTotal`` rows of one window from the repository's catalog rows (``CatalogRow``s, in order), and the
    distinct counts of the features that count distinct values, per (feature, window 0, grouped values). A distinct
    count's groups are those with usage in either (an approximate one has no dimension buckets, only sketches)."""
    check_known(query.feature_keys, {row.feature_key for row in rows})
    if query.grouping:
        query.grouping.check_declared({row.feature_key: row.dimensions or [] for row in rows}.items())
    (start, end), by = query.windows[0], query.grouping.group_by
    if not query.grouping:  # one row per feature: no groups to gather (the read every check makes)
        if len(rows) > MAX_TOTAL_ROWS:
            too_many_rows(len(rows))
        return [
            UsageTotal(
                feature_key=row.feature_key,
                unit=row.unit,
                quantity=value(row.aggregation, row.state, distinct.get((row.feature_key, 0, ()))),
                window_start=start,
                window_end=end,
                dimensions={},
                approximate=row.approximate,
            )
            for row in rows
        ]

    def total(row: Any, group: GroupValues, quantity: int) -> UsageTotal:
        return UsageTotal(
            feature_key=row.feature_key,
            unit=row.unit,
            quantity=quantity,
            window_start=start,
            window_end=end,
            dimensions=dict(zip(by, group, strict=True)),
            approximate=row.approximate,
        )

    answer = []
    for key, same_feature in groupby(rows, key=attrgetter("feature_key")):
        kept = list(same_feature)
        first = kept[0]
        if AGGREGATIONS[first.aggregation].summable:
            answer += [total(row, row.group, value(row.aggregation, row.state)) for row in kept]
            continue
        groups = {row.group for row in kept if row.state is not None}
        groups.update(group for feature, _, group in distinct if feature == key)
        answer += [
            total(first, group, distinct.get((key, 0, group), 0))
            for group in sorted(groups or {(None,) * len(by)}, key=_nulls_first)
        ]
    if len(answer) > MAX_TOTAL_ROWS:
        too_many_rows(len(answer))
    return answer


def _nulls_first(group: GroupValues) -> tuple[tuple[bool, str], ...]:
    return tuple((v is not None, v or "") for v in group)
