"""Billing periods: what decides a tenant's closed periods, the closed periods' rows, and the tenants that close
by themselves."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import String, Uuid, bindparam, column, func, select, text

from tally.db import dialects
from tally.db.dialects import Reads, Session
from tally.db.models import BillingPeriodRecord, PlanRecord, TenantPlanRecord, UsageEventRecord
from tally.db.terms import forget_after_commit, read_through
from tally.metering.billing import PeriodTerms, grace_period
from tally.metering.periods import zone

# One round trip on every batch and void: the last recorded close, and the tenant's zone and grace periods (none
# without a plan assignment).
_TERMS = (
    text(
        """
    SELECT (SELECT MAX(period_end) FROM billing_period WHERE tenant_id = :tenant_id) AS through,
        tenant_plan.timezone AS timezone, tenant_plan.grace_period AS own_grace, plan.grace_period AS plan_grace
    FROM (SELECT 1 AS one) AS one
    LEFT OUTER JOIN tenant_plan ON tenant_plan.tenant_id = :tenant_id
    LEFT OUTER JOIN plan ON plan.plan_key = tenant_plan.plan_key
    """
    )
    .bindparams(bindparam("tenant_id", type_=Uuid()))
    .columns(
        column("through", DateTimeUTC()),
        column("timezone", String()),
        column("own_grace", String()),
        column("plan_grace", String()),
    )
)


async def period_terms(reads: Reads, tenant_id: UUID, *, cached: bool = False) -> PeriodTerms:
    """The tenant's zone (UTC without a plan), grace (its own, else its plan's) and last recorded close (a function
    too: the totals read it on their connection, without a session).

    ``cached``: from the process's cache while it listens for changes (``tally.db.terms``), for the reads that
    only label totals ``final``, where a close made elsewhere may show a notification's delay late. A writer that
    must not let an event into a closed period (ingestion, voids, the close itself) reads the database, under
    its lock."""

    async def read() -> PeriodTerms:
        # Through the dialect's fetch_rows, as the totals: on PostgreSQL no SQLAlchemy execution around it.
        params = {"tenant_id": tenant_id}
        ((through, timezone, own, plan),) = await dialects.of(reads).fetch_rows(reads, _TERMS, params)
        return PeriodTerms(zone(timezone or "UTC"), grace_period(own if own is not None else plan), through)

    return await read_through(dialects.engine_of(reads), ("periods", tenant_id), read) if cached else await read()


class PeriodRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def terms(self, tenant_id: UUID) -> PeriodTerms:
        return await period_terms(self.session, tenant_id)

    async def closed(self, tenant_id: UUID, start: datetime, end: datetime) -> list[BillingPeriodRecord]:
        """The tenant's recorded periods starting in ``[start, end)``, newest first."""
        b = BillingPeriodRecord
        stmt = (
            select(b)
            .where(b.tenant_id == tenant_id, b.period_start >= start, b.period_start < end)
            .order_by(b.period_start.desc())
        )
        return list((await self.session.scalars(stmt)).all())

    async def next_recorded(self, tenant_id: UUID, start: datetime) -> BillingPeriodRecord | None:
        """The tenant's first recorded period starting at or after ``start``."""
        b = BillingPeriodRecord
        stmt = select(b).where(b.tenant_id == tenant_id, b.period_start >= start).order_by(b.period_start).limit(1)
        return await self.session.scalar(stmt)

    async def add(self, records: Sequence[BillingPeriodRecord]) -> None:
        self.session.add_all(records)
        await self.session.flush()
        forget_after_commit(self.session)

    async def first_usage(self, tenant_id: UUID) -> datetime | None:
        """The timestamp of the tenant's earliest event (voided ones too), None without any."""
        e = UsageEventRecord
        return await self.session.scalar(select(func.min(e.timestamp)).where(e.tenant_id == tenant_id))

    async def first_recorded(self, tenant_id: UUID) -> datetime | None:
        b = BillingPeriodRecord
        return await self.session.scalar(select(func.min(b.period_start)).where(b.tenant_id == tenant_id))

    async def graced_tenants(self) -> list[UUID]:
        """The tenants whose periods close by themselves: a grace period of their own or their plan's."""
        t, p = TenantPlanRecord, PlanRecord
        stmt = (
            select(t.tenant_id)
            .join(p, p.plan_key == t.plan_key)
            .where(func.coalesce(t.grace_period, p.grace_period).is_not(None))
            .order_by(t.tenant_id)
        )
        return list((await self.session.scalars(stmt)).all())
