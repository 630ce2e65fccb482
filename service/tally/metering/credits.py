"""The burn-down of credit grants (pure, no I/O): which usage each grant covers, and what nobody covers.

Within each period of a feature's allowance (the plan's limit, in the tenant's time zone), usage first uses the
allowance; what goes beyond is charged, in time order, to the grants active when it happened, in burn-down order
(``burn_order``). Without an allowance every unit burns grants. The time line is cut into ``segments``: consecutive
windows inside one period in which the set of active grants does not change. Inside a segment the order of the
events does not matter (the same grants take the same overage in the same order), so a segment's total usage, the
number ``usage-totals`` answers for it, is all the burn-down needs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta, tzinfo
from itertools import pairwise

import msgspec

from tally.domain.plans import LimitPeriod
from tally.metering.limits import period_bounds

Window = tuple[datetime, datetime]
NEVER = datetime.max.replace(tzinfo=UTC)  # the expiry of a grant without one, in the burn-down order


class GrantTerms(msgspec.Struct, frozen=True):
    """What the burn-down needs of a grant that is not voided."""

    grant_id: str
    amount: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    created_at: datetime

    def active_at(self, instant: datetime) -> bool:
        return self.effective_at <= instant and (self.expires_at is None or instant < self.expires_at)


def burn_order(grant: GrantTerms) -> tuple[int, bool, datetime, datetime, str]:
    """Lowest priority first, then the soonest expiry (none last), then the oldest, then by id."""
    return (
        grant.priority,
        grant.expires_at is None,
        grant.expires_at or NEVER,
        grant.created_at,
        grant.grant_id,
    )


class Allowance(msgspec.Struct, frozen=True):
    """A feature's allowance: ``limit`` per calendar ``period`` in ``tz``."""

    limit: int
    period: LimitPeriod
    tz: tzinfo

    def period_of(self, instant: datetime) -> Window:
        return period_bounds(instant, self.period, self.tz)


class Burn(msgspec.Struct):
    """The outcome: usage charged to each grant, and per period (its start; None without an allowance) the usage
    and the overage no grant covered."""

    used: dict[str, int]
    period_usage: dict[datetime | None, int]
    uncovered: dict[datetime | None, int]


def segments(grants: Sequence[GrantTerms], allowance: Allowance | None, start: datetime, end: datetime) -> list[Window]:
    """Consecutive windows from ``start`` (moved back to its period's start) to ``end``, cut at every grant's
    effective and expiry times and at every period boundary."""
    if allowance is not None:
        start = allowance.period_of(start)[0]
    cuts = {start, end}
    cuts.update(t for g in grants for t in (g.effective_at, g.expires_at) if t is not None and start < t < end)
    if allowance is not None:
        boundary = allowance.period_of(start)[1]
        while boundary < end:
            cuts.add(boundary)
            boundary = allowance.period_of(boundary)[1]
    ordered = sorted(cuts)
    return list(pairwise(ordered))


def span(grants: Iterable[GrantTerms], now: datetime) -> Window:
    """The time the burn-down has to look at: from the earliest grant to the last instant any grant is active, but
    no further than a day after ``now``: there is no usage beyond."""
    grants = list(grants)
    start = min(g.effective_at for g in grants)
    horizon = now + timedelta(days=1)
    expiries = [g.expires_at for g in grants]
    end = horizon if any(e is None for e in expiries) else min(horizon, max(e for e in expiries if e is not None))
    return start, max(end, start + timedelta(microseconds=1))


def burn(
    grants: Sequence[GrantTerms], allowance: Allowance | None, windows: Sequence[Window], usage: Sequence[int]
) -> Burn:
    """Charge ``usage`` (one total per window of ``segments``) to the allowance, then the grants."""
    ordered = sorted(grants, key=burn_order)
    result = Burn(used={g.grant_id: 0 for g in grants}, period_usage={}, uncovered={})
    for (start, _), quantity in zip(windows, usage, strict=True):
        period = allowance.period_of(start)[0] if allowance is not None else None
        before = result.period_usage.get(period, 0)
        after = before + quantity
        result.period_usage[period] = after
        limit = allowance.limit if allowance is not None else 0
        over = max(after - limit, 0) - max(before - limit, 0)
        for grant in ordered:
            if over <= 0:
                break
            if grant.active_at(start):
                taken = min(over, grant.amount - result.used[grant.grant_id])
                result.used[grant.grant_id] += taken
                over -= taken
        result.uncovered[period] = result.uncovered.get(period, 0) + over
    return result
