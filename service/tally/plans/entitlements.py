"""Entitlements: how much of each feature a tenant used in its limit's current period, and how much is left.

An entitlement's ``used`` is the totals read of ``UsageReader`` over the limit's current period, so it is the
number ``usage-totals`` answers for that period, for every aggregation, voids included. A feature with credit
grants adds their balances, from the burn-down over the time they cover (``tally.usage.credits``). Read-only: on the
reader's connection (a read replica's where there is one), every statement plain, with no session.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from uuid import UUID

import msgspec

from tally.db.repositories import live_grants, tenant_terms
from tally.domain.errors import UnknownFeature
from tally.domain.keys import check_feature_key
from tally.domain.plans import Entitlement, LimitPeriod
from tally.metering import limits
from tally.metering.periods import zone
from tally.metering.totals import TotalsQuery, wanted_keys
from tally.usage.credits import CreditBalances, allowance_of, with_credits
from tally.usage.reading import UsageReader


class Entitlements:
    def __init__(self, usage: UsageReader) -> None:
        self.usage = usage

    async def entitlements(
        self, tenant_id: UUID, feature_keys: Sequence[str] | None, now: datetime
    ) -> list[Entitlement]:
        """One entitlement per feature (``feature_keys``, or the whole catalog), sorted by key: its limit (None
        without one) and its usage in the limit's current period (the calendar month without a limit), in
        the tenant's time zone. One totals read per kind of period asked about."""
        wanted = wanted_keys(feature_keys)
        terms = await tenant_terms(self.usage.reads, tenant_id)
        tz = zone(terms.timezone) if terms else UTC
        applying = limits.effective(terms.plan_limits, terms.overrides) if terms else {}

        def period_of(key: str) -> LimitPeriod:
            limit = applying.get(key)
            return limit.period if limit else limits.NO_LIMIT_PERIOD

        reads: dict[LimitPeriod, list[str] | None] = {}
        if wanted is None:  # the whole catalog over the month; the features with day limits over the day
            reads[limits.NO_LIMIT_PERIOD] = None
            day = sorted(key for key in applying if period_of(key) is LimitPeriod.DAY)
            if day:
                reads[LimitPeriod.DAY] = day
        else:
            for key in wanted:
                listed = reads.setdefault(period_of(key), [])
                assert listed is not None
                listed.append(key)
        found: dict[str, Entitlement] = {}
        held: dict[str, int] = {}
        granted: list[str] = []
        for period, keys in reads.items():
            start, end = limits.period_bounds(now, period, tz)
            query = TotalsQuery.build(now=now, feature_keys=keys, period_start=start, period_end=end, timezone=tz)
            found_totals, balances_of = await self.usage.totals_and_credits(tenant_id, query, now)
            for total in found_totals:
                key = total.feature_key
                if period_of(key) is period:
                    found[key] = limits.entitlement(total, applying.get(key))
                    held[key], has_grants = balances_of[key]
                    if has_grants:
                        granted.append(key)
        # The grants themselves only for the features that have some: a check of a feature without any is the
        # totals' one statement.
        balances = CreditBalances(self.usage.reads, self.usage.totals_source)
        grant_rows = await live_grants(self.usage.reads, tenant_id, granted) if granted else []
        for key, grants in balances.by_feature(grant_rows).items():
            allowance = allowance_of(applying.get(key), tz)
            credits = await balances.burn_down(tenant_id, key, grants, allowance, now)
            found[key] = with_credits(found[key], credits, now)
        for key, reserved in held.items():
            if not reserved:
                continue
            left = found[key].remaining
            found[key] = msgspec.structs.replace(
                found[key], reserved=reserved, remaining=None if left is None else max(left - reserved, 0)
            )
        return [found[key] for key in sorted(found)]

    async def entitlement(self, tenant_id: UUID, feature_key: str, now: datetime) -> Entitlement:
        """The entitlement of one feature: the check an application may make before serving each request."""
        check_feature_key(feature_key)
        try:
            (found,) = await self.entitlements(tenant_id, [feature_key], now)
        except UnknownFeature:
            raise UnknownFeature.field("feature_key", f"unknown feature '{feature_key}'") from None
        return found

    async def timezone(self, tenant_id: UUID) -> str:
        """The time zone the tenant's limits count their periods in: its plan assignment's, UTC without one."""
        terms = await tenant_terms(self.usage.reads, tenant_id)
        return terms.timezone if terms else "UTC"
