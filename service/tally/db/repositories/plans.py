"""Plans and the tenants' plan assignments."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec
from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import Uuid, bindparam, delete, select, text

from tally.db import dialects
from tally.db.dialects import Reads
from tally.db.models import PlanRecord, TenantPlanRecord
from tally.db.terms import forget_after_commit, read_through
from tally.domain.plans import Limit, Plan, PlanAssignment


def _limits(rows: list[dict[str, Any]]) -> list[Limit]:
    return msgspec.convert(rows, list[Limit])


def to_plan(record: PlanRecord) -> Plan:
    return Plan(
        plan_key=record.plan_key, name=record.name, limits=_limits(record.limits), grace_period=record.grace_period
    )


def to_assignment(record: TenantPlanRecord) -> PlanAssignment:
    return PlanAssignment(
        tenant_id=record.tenant_id,
        plan_key=record.plan_key,
        timezone=record.timezone,
        overrides=_limits(record.overrides),
        grace_period=record.grace_period,
    )


class Terms(msgspec.Struct, frozen=True):
    """What a tenant's limits are made of: its plan's limits, its overrides and its time zone."""

    timezone: str
    plan_limits: list[Limit]
    overrides: list[Limit]


class PlanRepository(SQLAlchemyAsyncRepository[PlanRecord]):
    model_type = PlanRecord
    id_attribute = "plan_key"

    async def plans(self) -> list[Plan]:
        """Every plan, sorted by key (code point)."""
        records = (await self.session.scalars(select(PlanRecord))).all()
        return sorted((to_plan(r) for r in records), key=lambda p: p.plan_key)

    async def put(self, plan: Plan, now: datetime) -> bool:
        """Create or replace a plan; whether it was created."""
        forget_after_commit(self.session)
        record = await self.get_one_or_none(plan_key=plan.plan_key, with_for_update=True)
        limits = msgspec.to_builtins(plan.limits)
        if record is None:
            await self.add(
                PlanRecord(
                    plan_key=plan.plan_key,
                    name=plan.name,
                    limits=limits,
                    grace_period=plan.grace_period,
                    created_at=now,
                    updated_at=now,
                )
            )
            return True
        record.name, record.limits, record.grace_period, record.updated_at = plan.name, limits, plan.grace_period, now
        await self.update(record)
        return False


class TenantPlanRepository(SQLAlchemyAsyncRepository[TenantPlanRecord]):
    model_type = TenantPlanRecord
    id_attribute = "tenant_id"

    async def assignment(self, tenant_id: UUID) -> PlanAssignment | None:
        record = await self.session.get(TenantPlanRecord, tenant_id)
        return None if record is None else to_assignment(record)

    async def assign(self, assignment: PlanAssignment, now: datetime) -> None:
        """Put the tenant on a plan, replacing its assignment if it has one."""
        forget_after_commit(self.session)
        overrides = msgspec.to_builtins(assignment.overrides)
        record = await self.get_one_or_none(tenant_id=assignment.tenant_id, with_for_update=True)
        if record is None:
            record = TenantPlanRecord(tenant_id=assignment.tenant_id, updated_at=now)
            self.session.add(record)
        record.plan_key, record.timezone, record.overrides, record.grace_period, record.updated_at = (
            assignment.plan_key,
            assignment.timezone,
            overrides,
            assignment.grace_period,
            now,
        )
        await self.session.flush()

    async def unassign(self, tenant_id: UUID) -> None:
        forget_after_commit(self.session)
        await self.session.execute(delete(TenantPlanRecord).where(TenantPlanRecord.tenant_id == tenant_id))

    async def terms(self, tenant_id: UUID) -> Terms | None:
        """``tenant_terms`` on this repository's session."""
        return await tenant_terms(self.session, tenant_id)


async def tenant_terms(session: Reads, tenant_id: UUID) -> Terms | None:
    """The tenant's time zone, plan limits and overrides (None: no plan): ingestion and every entitlement check
    need them. From the process's cache while it listens for changes (``tally.db.terms``); else in one round trip
    through the dialect's ``fetch_rows`` like the totals (on PostgreSQL asyncpg's own connection: no ORM), msgspec
    decoding the JSON text straight into ``Limit`` structs. A function, not only a repository method: making an
    advanced-alchemy repository cost an entitlement check 3% of its CPU."""

    async def read() -> Terms | None:
        rows = await dialects.of(session).fetch_rows(session, _TERMS, {"tenant_id": tenant_id})
        if not rows:
            return None
        timezone, limits, overrides = rows[0]
        return Terms(timezone, _LIMITS.decode(limits), _LIMITS.decode(overrides))

    return await read_through(dialects.engine_of(session), tenant_id, read)


# The statement of ``terms``: text, as ``fetch_rows`` takes (the JSON columns as their text on both databases).
_TERMS = text(
    """
    SELECT tenant_plan.timezone, CAST(plan.limits AS TEXT), CAST(tenant_plan.overrides AS TEXT)
    FROM tenant_plan JOIN plan ON plan.plan_key = tenant_plan.plan_key
    WHERE tenant_plan.tenant_id = :tenant_id
    """
).bindparams(bindparam("tenant_id", type_=Uuid()))
_LIMITS = msgspec.json.Decoder(list[Limit])
