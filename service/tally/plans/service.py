"""Plan use cases: define plans and put a tenant on one."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from functools import cached_property
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.repositories import FeatureRepository, PlanRepository, TenantPlanRepository
from tally.db.transaction import Transaction
from tally.domain.errors import NotFound, UnknownPlan
from tally.domain.keys import check_plan_key
from tally.domain.plans import Limit, Plan, PlanAssignment, PlanAssignmentIn, PlanIn
from tally.metering import limits
from tally.metering.billing import grace_period
from tally.metering.periods import zone
from tally.metering.totals import counted_features


class PlanService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

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
        plan, created = await self.put_in_transaction(
            Plan(plan_key=plan_key, name=spec.name, limits=spec.limits, grace_period=spec.grace_period)
        )
        await self.transaction.commit()
        return plan, created

    async def put_in_transaction(self, plan: Plan) -> tuple[Plan, bool]:
        """Create or replace a plan in the caller's write transaction (a catalog file loads several)."""
        await self._check_limits(plan.limits, "limits")
        grace_period(plan.grace_period)
        plan = Plan(
            plan_key=plan.plan_key,
            name=plan.name,
            limits=limits.sorted_limits(plan.limits),
            grace_period=plan.grace_period,
        )
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
        grace_period(spec.grace_period)
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
            grace_period=spec.grace_period,
        )
        await self.tenant_plans.assign(assignment, datetime.now(UTC))
        await self.transaction.commit()
        return assignment

    async def assignment(self, tenant_id: UUID) -> PlanAssignment:
        found = await self.tenant_plans.assignment(tenant_id)
        if found is None:
            raise NotFound.field("plan", "this tenant is on no plan")
        return found

    async def unassign(self, tenant_id: UUID) -> None:
        """Take the tenant off its plan (nothing to do when it has none) and commit."""
        await self.transaction.begin_write()
        await self.tenant_plans.unassign(tenant_id)
        await self.transaction.commit()
