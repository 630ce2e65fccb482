"""The rules of limits (pure, no I/O): a tenant's effective limits, the period an instant falls in, which of
a batch's events a hard limit judges, the first event that would go over, and an entitlement's numbers."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from uuid import UUID

import msgspec

from tally.domain.catalog import Aggregation
from tally.domain.errors import InvalidInput, UnknownFeature
from tally.domain.plans import Enforcement, Entitlement, Limit, LimitPeriod, Using
from tally.domain.problems import FieldError
from tally.domain.usage import UsageTotal
from tally.metering.aggregations import State, value
from tally.metering.events import NewEvent
from tally.metering.periods import day_start, month_start, next_month_start, rfc3339

NO_LIMIT_PERIOD = LimitPeriod.MONTH
"""The period an entitlement without a limit reports its usage for."""


def check_limits(
    limits: Sequence[Limit], field: str, known_features: Collection[str], distinct_counts: Collection[str] = ()
) -> None:
    """Every limit names a catalog feature (else ``UnknownFeature``), at most once, with unique thresholds,
    and rejects only for features whose value can be judged event by event: not a distinct count, whose
    batch check would need the window's distinct values (else ``InvalidInput``); each error names
    ``field[i]``'s member."""
    unknown = [
        FieldError(field=f"{field}[{i}].feature_key", message=f"unknown feature '{limit.feature_key}'")
        for i, limit in enumerate(limits)
        if limit.feature_key not in known_features
    ]
    if unknown:
        raise UnknownFeature.fields(unknown)
    errors = [
        FieldError(
            field=f"{field}[{i}].enforcement",
            message=f"'{limit.feature_key}' counts distinct values: its limits can report (enforcement 'none') "
            "but not reject",
        )
        for i, limit in enumerate(limits)
        if limit.enforcement is Enforcement.REJECT and limit.feature_key in distinct_counts
    ]
    first: dict[str, int] = {}
    for i, limit in enumerate(limits):
        seen = first.setdefault(limit.feature_key, i)
        if seen != i:
            errors.append(
                FieldError(
                    field=f"{field}[{i}].feature_key",
                    message=f"'{limit.feature_key}' is limited by {field}[{seen}] already",
                )
            )
        repeated = sorted({p for p in limit.notify_at_percent if limit.notify_at_percent.count(p) > 1})
        if repeated:
            errors.append(
                FieldError(
                    field=f"{field}[{i}].notify_at_percent",
                    message=f"must be unique; repeated: {', '.join(map(str, repeated))}",
                )
            )
    if errors:
        raise InvalidInput.fields(errors)


def sorted_limits(limits: Iterable[Limit]) -> list[Limit]:
    """Limits in the order they are stored and answered: by feature key, thresholds ascending."""
    return sorted(
        (msgspec.structs.replace(limit, notify_at_percent=sorted(limit.notify_at_percent)) for limit in limits),
        key=lambda limit: limit.feature_key,
    )


def effective(plan_limits: Iterable[Limit], overrides: Iterable[Limit]) -> dict[str, Limit]:
    """feature key -> the limit that applies: an override replaces the plan's limit for its feature."""
    return {limit.feature_key: limit for limits in (plan_limits, overrides) for limit in limits}


def period_bounds(instant: datetime, period: LimitPeriod, tz: tzinfo) -> tuple[datetime, datetime]:
    """The local calendar day or month in ``tz`` holding ``instant``, as UTC ``[start, end)``."""
    if period is LimitPeriod.DAY:
        day = instant.astimezone(tz).date()
        return day_start(day, tz), day_start(day + timedelta(days=1), tz)
    return month_start(instant, tz), next_month_start(instant, tz)


class WatchedPeriod(msgspec.Struct, frozen=True):
    """One limit's period that a batch adds to, when the limit rejects or notifies: ingestion locks it, reads its
    usage, and judges the batch (``rejects``) or records the ``thresholds`` the batch reaches."""

    feature_key: str
    start: datetime
    end: datetime
    limit: int
    period: LimitPeriod
    rejects: bool
    thresholds: tuple[int, ...]

    def lock_key(self, tenant_id: UUID) -> str:
        return f"{tenant_id}/{self.feature_key}/{self.start.isoformat()}"


def watched_periods(
    events: Iterable[NewEvent], limits: Mapping[str, Limit], tz: tzinfo
) -> dict[WatchedPeriod, list[NewEvent]]:
    """The events of a batch that rejecting or notifying limits watch, by the limit's period each falls in (its
    own period, whether current or not), in batch order."""
    groups: dict[WatchedPeriod, list[NewEvent]] = {}
    for event in sorted(events, key=lambda e: e.index):
        limit = limits.get(event.feature_key)
        if limit is None:
            continue
        rejects = limit.enforcement is Enforcement.REJECT
        thresholds = tuple(sorted(limit.notify_at_percent))
        if not rejects and not thresholds:
            continue
        start, end = period_bounds(event.timestamp, limit.period, tz)
        period = WatchedPeriod(event.feature_key, start, end, limit.limit, limit.period, rejects, thresholds)
        groups.setdefault(period, []).append(event)
    return groups


def _running(used: State | None, events: Iterable[NewEvent]) -> Iterator[tuple[NewEvent, State]]:
    """Each of ``events`` with the state after it, folded onto ``used`` (None or empty: no usage yet)."""
    state = used if used is not None and used.event_count else None
    for event in events:
        one = State.of_event(event.quantity, event.latest_key)
        state = one if state is None else state.merge(one)
        yield event, state


def folded(used: State | None, events: Iterable[NewEvent]) -> State | None:
    """``used`` (a period's state, None: no usage) with ``events`` added."""
    last = used if used is not None and used.event_count else None
    for _, last in _running(used, events):  # noqa: B007 (the loop's last state is the answer)
        pass
    return last


def reached(period: WatchedPeriod, used: int) -> list[int]:
    """The thresholds of ``period`` that a usage of ``used`` has reached (``used >= limit * percent / 100``)."""
    return [p for p in period.thresholds if used * 100 >= period.limit * p]


def first_over(limit: int, aggregation: Aggregation, used: State | None, events: Iterable[NewEvent]) -> NewEvent | None:
    """The first of ``events`` (new ones, in batch order) after which the period's value would exceed ``limit``,
    folding them one by one onto ``used`` (the period's state before the batch) with the feature's
    aggregation; None when the whole batch fits."""
    for event, state in _running(used, events):
        if value(aggregation, state) > limit:
            return event
    return None


def exceeded(period: WatchedPeriod, event: NewEvent, used: int) -> FieldError:
    """The problem's entry for the event that would go over ``period``'s limit."""
    return FieldError(
        field=f"events[{event.index}]",
        message=(
            f"feature '{period.feature_key}' would go over its limit of {period.limit} per {period.period.value} "
            f"(used {used} from {rfc3339(period.start)} to {rfc3339(period.end)}); nothing of the batch was "
            "stored: wait for the next period, or raise the limit"
        ),
    )


def entitlement(total: UsageTotal, limit: Limit | None) -> Entitlement:
    """The entitlement of ``total`` (the feature's usage over its limit's current period) under ``limit``."""
    used = total.quantity
    return Entitlement(
        feature_key=total.feature_key,
        unit=total.unit,
        limit=None if limit is None else limit.limit,
        used=used,
        remaining=None if limit is None else max(limit.limit - used, 0),
        over_limit=limit is not None and used > limit.limit,
        using=Using.ALLOWANCE if limit is None or used < limit.limit else Using.EXHAUSTED,
        enforcement=Enforcement.NONE if limit is None else limit.enforcement,
        period=NO_LIMIT_PERIOD if limit is None else limit.period,
        period_start=total.window_start,
        period_end=total.window_end,
    )
