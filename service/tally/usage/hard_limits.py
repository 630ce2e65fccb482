"""The judgement of a batch under rejecting limits (pure, no I/O): which of its new events would go over a period's
limit, or, for a feature with credit grants, over its allowance and the grants' balances; live reservations count
as usage at the time of the check. The recorder reads what this needs after the limits' locks."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

import msgspec

from tally.domain.catalog import Aggregation
from tally.domain.errors import LimitExceeded
from tally.domain.problems import FieldError
from tally.metering import limits
from tally.metering.aggregations import State, value
from tally.metering.events import NewEvent
from tally.metering.limits import WatchedPeriod
from tally.usage.credits import FeatureCredits, credit_exceeded, limit_members


class PeriodCheck(msgspec.Struct, frozen=True):
    """A rejecting or notifying limit's period of a batch: the batch's events in it, the feature's aggregation
    and the period's state before the batch (None: no usage yet)."""

    events: list[NewEvent]
    aggregation: Aggregation
    used: State | None


def refusal(
    watched: Mapping[WatchedPeriod, PeriodCheck],
    inserted: set[str],
    credited: Mapping[str, FeatureCredits],
    reserved: Mapping[str, int],
    now: datetime,
) -> LimitExceeded | None:
    """The 409 for a batch whose new events (``inserted``) do not fit; None when they all do. Duplicates add
    nothing. A feature with credits is judged once for all its periods from its earliest grant's on (a grant spans
    them); one without, and periods before any grant, period by period. The problem's members describe the first
    refused event's period."""
    over: list[tuple[FieldError, dict[str, object]]] = []
    judged: set[str] = set()
    for period, check in sorted(watched.items(), key=lambda item: item[1].events[0].index):
        if not period.rejects:
            continue
        credits = credited.get(period.feature_key)
        if credits is not None and credits.covers_period(period.end):
            if period.feature_key in judged:
                continue
            judged.add(period.feature_key)
            new = [
                (e, value(check.aggregation, State.of_event(e.quantity, e.latest_key)))
                for e in _new_of_feature(watched, period.feature_key, inserted, credits.windows[0][0])
            ]
            held = reserved.get(period.feature_key, 0)
            event = credits.first_uncovered(new, credits.held(held, now))
            if event is not None:
                over.append(credit_exceeded(period, event, credits, held))
            continue
        new_events = [e for e in check.events if e.idempotency_key in inserted]
        held = reserved.get(period.feature_key, 0) if period.start <= now < period.end else 0
        event = limits.first_over(period.limit - held, check.aggregation, check.used, new_events)
        if event is not None:
            used = value(check.aggregation, check.used)
            over.append((limits.exceeded(period, event, used), limit_members(period, used, 0, held)))
    if not over:
        return None
    return LimitExceeded.fields([error for error, _ in over]).with_members(**over[0][1])


def _new_of_feature(
    watched: Mapping[WatchedPeriod, PeriodCheck], feature_key: str, inserted: set[str], since: datetime
) -> list[NewEvent]:
    """The new events of a feature in its watched periods that end after ``since``, in batch order."""
    found = [
        e
        for period, check in watched.items()
        if period.feature_key == feature_key and period.end > since
        for e in check.events
        if e.idempotency_key in inserted
    ]
    return sorted(found, key=lambda e: e.index)
