"""Credit balances: the burn-down of a tenant's grants of a feature, from the same totals read as ``usage-totals``.

Read on whatever session it is given: a replica's for the entitlement and grant listings, the primary's, inside the
write's transaction and after the limit's lock, for the hard stop while usage is recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, tzinfo
from functools import cached_property
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import CreditGrantRecord
from tally.db.repositories import GrantRepository
from tally.domain.plans import Entitlement, Limit, Using
from tally.metering.credits import Allowance, Burn, GrantTerms, Window, burn, burn_order, segments, span
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


def terms_of(record: CreditGrantRecord) -> GrantTerms:
    return GrantTerms(
        record.grant_id, record.amount, record.priority, record.effective_at, record.expires_at, record.created_at
    )


def allowance_of(limit: Limit | None, tz: tzinfo) -> Allowance | None:
    return None if limit is None else Allowance(limit.limit, limit.period, tz)


class CreditBalances:
    def __init__(self, session: AsyncSession, totals_source: TotalsSource = "buckets") -> None:
        self.session = session
        self.totals_source = totals_source

    @cached_property
    def grant_records(self) -> GrantRepository:
        return GrantRepository(session=self.session)

    async def grants(self, tenant_id: UUID, feature_keys: Iterable[str] | None) -> dict[str, list[GrantTerms]]:
        """The grants that are not voided, by feature (features without any are left out)."""
        found: dict[str, list[GrantTerms]] = {}
        for record in await self.grant_records.grants(tenant_id, feature_keys, voided=False):
            found.setdefault(record.feature_key, []).append(terms_of(record))
        return found

    async def burn_down(
        self,
        tenant_id: UUID,
        feature_key: str,
        grants: Sequence[GrantTerms],
        allowance: Allowance | None,
        now: datetime,
        since: datetime | None = None,
        latest_usage: datetime | None = None,
    ) -> FeatureCredits:
        """The burn-down of ``grants`` over the time they cover (from ``since`` too, when earlier), as it stands."""
        start, end = span(grants, now, latest_usage)
        windows = segments(grants, allowance, min(start, since) if since else start, end)
        query = TotalsQuery(feature_keys=(feature_key,), windows=tuple(windows))
        totals = await UsageReader(self.session, self.totals_source).totals(tenant_id, query)
        usage = [total.quantity for total in totals]
        return FeatureCredits(list(grants), allowance, windows, usage, burn(grants, allowance, windows, usage))
