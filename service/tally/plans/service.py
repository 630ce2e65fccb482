"""Plan use cases: define plans, put a tenant on one, and answer its entitlements.

An entitlement's ``used`` is the totals read of ``UsageService`` over the limit's current period, so it is
the number ``usage-totals`` answers for that period, for every aggregation, voids included.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.catalog.service import check_feature_key
from tally.db.repositories import FeatureRepository, PlanRepository, TenantPlanRepository
from tally.db.transaction import Transaction
from tally.domain.errors import InvalidInput, NotFound, UnknownFeature, UnknownPlan
from tally.domain.models import (
    Entitlement,
    Limit,
    LimitPeriod,
    Plan,
    PlanAssignment,
    PlanAssignmentIn,
    PlanIn,
    PlanKey,
)
from tally.plans import limits
from tally.usage.periods import zone
from tally.usage.service import UsageService
from tally.usage.totals import TotalsQuery, counted_features, wanted_keys


class PlanService:
    def __init__(self, session: AsyncSession, usage: UsageService) -> None:
        self.session = session
        self.usage = usage

    # Made on first use, like UsageService's: an entitlement check needs one repository of the four.
    @cached_property
    def transaction(self) -> Transaction:
        return Transaction(self.session)

    @cached_property
    def plans(self) -> PlanRepository:
        return PlanRepository(session=self.session, auto_commit=False)

    @cached_property
    def tenant_plans(self) -> TenantPlanRepository:
        return TenantPlanRepository(session=self.session, auto_commit=False)

    @cached_property
    def features(self) -> FeatureRepository:
        return FeatureRepository(session=self.session)

    # --- plans ---------------------------------------------------------------------------------------

    async def list_plans(self) -> list[Plan]:
        return await self.plans.plans()

    async def put_plan(self, plan_key: str, spec: PlanIn) -> tuple[Plan, bool]:
        """Create or replace a plan and commit. Returns the plan and whether it was created."""
        check_plan_key(plan_key)
        await self.transaction.begin_write()
        plan, created = await self.put_in_transaction(Plan(plan_key=plan_key, name=spec.name, limits=spec.limits))
        await self.transaction.commit()
        return plan, created

    async def put_in_transaction(self, plan: Plan) -> tuple[Plan, bool]:
        """Create or replace a plan in the caller's write transaction (a catalog file loads several)."""
        await self._check_limits(plan.limits, "limits")
        plan = Plan(plan_key=plan.plan_key, name=plan.name, limits=limits.sorted_limits(plan.limits))
        return plan, await self.plans.put(plan, datetime.now(UTC))

    async def _check_limits(self, given: Sequence[Limit], field: str) -> None:
        keys = {limit.feature_key for limit in given}
        known = await self.features.features(keys) if keys else []
        distinct = [key for key, _ in counted_features(known)]
        limits.check_limits(given, field, [f.feature_key for f in known], distinct)

    # --- assignments ---------------------------------------------------------------------------------

    async def assign(self, tenant_id: UUID, spec: PlanAssignmentIn) -> PlanAssignment:
        """Put the tenant on a plan (replacing its assignment) and commit."""
        zone(spec.timezone)  # an unknown zone is a 400 naming timezone
        await self.transaction.begin_write()
        if not await self.plans.exists(plan_key=spec.plan_key):
            raise UnknownPlan.field(
                "plan_key", f"no plan '{spec.plan_key}' (PUT /api/v1/billing/plans/{spec.plan_key})"
            )
        await self._check_limits(spec.overrides, "overrides")
        assignment = PlanAssignment(
            tenant_id=tenant_id,
            plan_key=spec.plan_key,
            timezone=spec.timezone,
            overrides=limits.sorted_limits(spec.overrides),
        )
        await self.tenant_plans.assign(assignment, datetime.now(UTC))
        await self.transaction.commit()
        return assignment

    async def assignment(self, tenant_id: UUID) -> PlanAssignment:
        found = await self.tenant_plans.assignment(tenant_id)
        if found is None:
            raise NotFound.field("plan", "this tenant is on no plan")
        return found

    async def timezone(self, tenant_id: UUID) -> str:
        """The time zone the tenant's limits count their periods in: its plan assignment's, UTC without one."""
        terms = await self.tenant_plans.terms(tenant_id)
        return terms.timezone if terms else "UTC"

    async def unassign(self, tenant_id: UUID) -> None:
        """Take the tenant off its plan (nothing to do when it has none) and commit."""
        await self.transaction.begin_write()
        await self.tenant_plans.unassign(tenant_id)
        await self.transaction.commit()

    # --- entitlements --------------------------------------------------------------------------------

    async def entitlements(
        self, tenant_id: UUID, feature_keys: Sequence[str] | None, now: datetime
    ) -> list[Entitlement]:
        """One entitlement per feature (``feature_keys``, or the whole catalog), sorted by key: its limit (None
        without one) and its usage in the limit's current period (the calendar month without a limit), in
        the tenant's time zone. One totals read per kind of period asked about."""
        wanted = wanted_keys(feature_keys)
        terms = await self.tenant_plans.terms(tenant_id)
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
        for period, keys in reads.items():
            start, end = limits.period_bounds(now, period, tz)
            query = TotalsQuery.build(now=now, feature_keys=keys, period_start=start, period_end=end, timezone=tz)
            for total in await self.usage.totals(tenant_id, query):
                if period_of(total.feature_key) is period:
                    found[total.feature_key] = limits.entitlement(total, applying.get(total.feature_key))
        return [found[key] for key in sorted(found)]

    async def entitlement(self, tenant_id: UUID, feature_key: str, now: datetime) -> Entitlement:
        """The entitlement of one feature: the check an application may make before serving each request."""
        check_feature_key(feature_key)
        try:
            (found,) = await self.entitlements(tenant_id, [feature_key], now)
        except UnknownFeature:
            raise UnknownFeature.field("feature_key", f"unknown feature '{feature_key}'") from None
        return found


def check_plan_key(plan_key: str) -> None:
    """The path's plan key follows its pattern (Litestar does not apply it to a path parameter)."""
    try:
        msgspec.convert(plan_key, PlanKey)
    except msgspec.ValidationError as exc:
        raise InvalidInput.field("plan_key", f"'{plan_key}': {exc}") from None
