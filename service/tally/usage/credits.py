"""Credit balances: the burn-down of a tenant's grants of a feature, from the same totals read as ``usage-totals``.

Read on whatever session it is given: a replica's for the entitlement and grant listings, the primary's, inside the
write's transaction and after the limit's lock, for the hard stop while usage is recorded.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta, tzinfo
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tally.db.models import CreditGrantRecord
from tally.db.repositories import FeatureRepository, live_grants
from tally.domain.catalog import Aggregation
from tally.domain.errors import InvalidInput, UnknownFeature
from tally.domain.plans import Entitlement, Limit, Using
from tally.domain.problems import FieldError
from tally.metering.credits import Allowance, Burn, GrantTerms, Window, burn, burn_order, segments, span
from tally.metering.events import NewEvent
from tally.metering.limits import WatchedPeriod
from tally.metering.periods import rfc3339
from tally.metering.totals import TotalsQuery, TotalsSource
from tally.usage.reading import UsageReader


class FeatureCredits(msgspec.Struct):
    """A feature's grants (not voided), its allowance, the burn-down's windows with their usage, and the outcome."""

    grants: list[GrantTerms]
    allowance: Allowance | None
    windows: list[Window]
    usage: list[int]
    burn: Burn

    def active(self, instant: datetime) -> list[GrantTerms]:
        return [g for g in self.grants if g.active_at(instant)]

    def remaining(self, grant: GrantTerms) -> int:
        return grant.amount - self.burn.used[grant.grant_id]

    def credits_remaining(self, instant: datetime) -> int:
        """What the grants active at ``instant`` have left."""
        return sum(self.remaining(g) for g in self.active(instant))

    def uncovered(self, instant: datetime) -> int:
        """The overage no grant covered in the period holding ``instant``."""
        period = self.allowance.period_of(instant)[0] if self.allowance is not None else None
        return self.burn.uncovered.get(period, 0)

    def reburn(self, added: Mapping[int, int]) -> Burn:
        """The burn-down with ``added`` usage (window index -> quantity) on top of what was read."""
        usage = [q + added.get(i, 0) for i, q in enumerate(self.usage)]
        return burn(self.grants, self.allowance, self.windows, usage)

    def window_of(self, instant: datetime) -> int:
        return bisect_right([start for start, _ in self.windows], instant) - 1

    def covers_period(self, end: datetime) -> bool:
        """Whether the burn-down reaches into a period ending at ``end`` (else its usage concerns no grant)."""
        return end > self.windows[0][0]

    def held(self, reserved: int, now: datetime) -> dict[int, int]:
        """Live holds as usage: ``reserved`` at ``now``."""
        return {self.window_of(now): reserved} if reserved else {}

    def covers(self, quantity: int, reserved: int, now: datetime) -> bool:
        """Whether allowance and credits cover ``quantity`` more at ``now`` on top of the live holds."""
        before = self.reburn(self.held(reserved, now)).uncovered
        after = self.reburn(self.held(reserved + quantity, now)).uncovered
        return all(over <= before.get(period, 0) for period, over in after.items())

    def first_uncovered(self, added: Sequence[tuple[NewEvent, int]], held: Mapping[int, int]) -> NewEvent | None:
        """The first of ``added`` (new events with what each adds, in batch order) after which some period has
        more overage than the grants cover than it had with ``held`` (live holds, as usage) alone; None when
        allowance and credits cover them all. A late event counts where it belongs in time: it may move later
        usage onto other grants, or past them."""
        before = self.reburn(held).uncovered

        def grows(running: dict[int, int]) -> bool:
            after = self.reburn(running).uncovered
            return any(over > before.get(period, 0) for period, over in after.items())

        def add(running: dict[int, int], event: NewEvent, quantity: int) -> None:
            i = self.window_of(event.timestamp)
            running[i] = running.get(i, 0) + quantity

        whole = dict(held)
        for event, quantity in added:
            add(whole, event, quantity)
        if not grows(whole):
            return None
        running = dict(held)
        for event, quantity in added:
            add(running, event, quantity)
            if grows(running):
                return event
        return None


def with_credits(entitlement: Entitlement, credits: FeatureCredits, now: datetime) -> Entitlement:
    """``entitlement`` with what the grants add: ``remaining`` is the allowance left plus the credits left, and it
    is over the limit only when usage went beyond the allowance and the grants together."""
    active = sorted(credits.active(now), key=burn_order)
    left = sum(credits.remaining(g) for g in active)
    allowance_left = None if entitlement.limit is None else max(entitlement.limit - entitlement.used, 0)
    burning = next((g.grant_id for g in active if credits.remaining(g) > 0), None)
    if allowance_left is None or allowance_left > 0:
        using = Using.CREDITS if allowance_left is None and burning else Using.ALLOWANCE
    else:
        using = Using.CREDITS if burning else Using.EXHAUSTED
    return msgspec.structs.replace(
        entitlement,
        granted=sum(g.amount for g in active),
        credits_remaining=left,
        remaining=None if allowance_left is None else allowance_left + left,
        over_limit=entitlement.limit is not None and credits.uncovered(now) > 0,
        using=using,
        using_grant=burning if using is Using.CREDITS else None,
    )


SUMMING = frozenset({Aggregation.SUM, Aggregation.COUNT})


async def check_summing(session: AsyncSession, feature_key: str, what: str) -> None:
    """The feature exists (else 400 ``unknown-feature``) and its aggregation sums (else 400): credits and holds are
    amounts of usage, which only ``sum`` and ``count`` add up to. Both name ``feature_key``."""
    found = await FeatureRepository(session=session).features([feature_key])
    if not found:
        raise UnknownFeature.field("feature_key", f"unknown feature '{feature_key}'")
    if found[0].aggregation not in SUMMING:
        raise InvalidInput.field(
            "feature_key",
            f"'{feature_key}' aggregates with '{found[0].aggregation.value}', which does not sum: {what} are for "
            "features whose aggregation is 'sum' or 'count'",
        )


def terms_of(record: CreditGrantRecord) -> GrantTerms:
    return GrantTerms(
        record.grant_id, record.amount, record.priority, record.effective_at, record.expires_at, record.created_at
    )


def allowance_of(limit: Limit | None, tz: tzinfo) -> Allowance | None:
    return None if limit is None else Allowance(limit.limit, limit.period, tz)


class CreditBalances:
    """Grants' balances, read with plain statements on a session or on a read route's one connection."""

    def __init__(self, session: AsyncSession | AsyncConnection, totals_source: TotalsSource = "buckets") -> None:
        self.session = session
        self.totals_source = totals_source

    async def grants(self, tenant_id: UUID, feature_keys: Iterable[str] | None) -> dict[str, list[GrantTerms]]:
        """The grants that are not voided, by feature (features without any are left out)."""
        return self.by_feature(await live_grants(self.session, tenant_id, feature_keys))

    @staticmethod
    def by_feature(rows: Iterable[Sequence[Any]]) -> dict[str, list[GrantTerms]]:
        """Rows of ``live_grants`` as each feature's grants."""
        found: dict[str, list[GrantTerms]] = {}
        for feature_key, *terms in rows:
            found.setdefault(feature_key, []).append(GrantTerms(*terms))
        return found

    async def burn_down(
        self,
        tenant_id: UUID,
        feature_key: str,
        grants: Sequence[GrantTerms],
        allowance: Allowance | None,
        now: datetime,
        covering: Sequence[datetime] = (),
    ) -> FeatureCredits:
        """The burn-down of ``grants`` as it stands, from the period of the earliest grant to the end of what they
        cover, or past the latest of ``covering`` (new usage). Usage before it concerns no grant."""
        start, end = span(grants, now)
        if covering:
            end = max(end, max(covering) + timedelta(microseconds=1))
        windows = segments(grants, allowance, start, end)
        query = TotalsQuery(feature_keys=(feature_key,), windows=tuple(windows))
        totals = await UsageReader(self.session, self.totals_source).totals(tenant_id, query)
        usage = [total.quantity for total in totals]
        return FeatureCredits(list(grants), allowance, windows, usage, burn(grants, allowance, windows, usage))


def limit_members(period: WatchedPeriod, used: int, credits_remaining: int, reserved: int) -> dict[str, object]:
    """The machine-readable members of a ``limit-exceeded`` problem for ``period``."""
    left = max(period.limit - used, 0) + credits_remaining - reserved
    return {
        "limit": period.limit,
        "used": used,
        "reserved": reserved,
        "credits_remaining": credits_remaining,
        "remaining": max(left, 0),
        "period_end": rfc3339(period.end),
    }


def credit_exceeded(
    period: WatchedPeriod, event: NewEvent, credits: FeatureCredits, reserved: int
) -> tuple[FieldError, dict[str, object]]:
    """The problem's entry for the event that allowance and credits cannot cover, with its period's members."""
    assert credits.allowance is not None  # a rejecting limit is an allowance
    start, end = credits.allowance.period_of(event.timestamp)
    used = credits.burn.period_usage.get(start, 0)
    left = credits.credits_remaining(event.timestamp)
    error = FieldError(
        field=f"events[{event.index}]",
        message=(
            f"feature '{period.feature_key}' would go over its limit of {credits.allowance.limit} per "
            f"{credits.allowance.period.value} and its credits (used {used} from {rfc3339(start)} to {rfc3339(end)}; "
            f"credits left then: {left}; held by reservations: {reserved}); nothing of the batch was stored: grant "
            "credits, wait for the next period, or raise the limit"
        ),
    )
    return error, limit_members(msgspec.structs.replace(period, start=start, end=end), used, left, reserved)
