"""HTTP routes of a tenant's billing periods: list them with their state and final totals, close them early."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from tally.domain.periods import MAX_PERIODS_PAGE, BillingPeriod, BillingPeriodPage, PeriodCloseIn
from tally.http.auth import Permission, requires
from tally.http.openapi import problems
from tally.http.params import Cursor, TenantId
from tally.periods.service import PeriodService


class PeriodController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}/periods"
    tags = ["periods"]

    @get(
        "/",
        operation_id="list_billing_periods",
        summary="The tenant's billing periods: open, in grace, or closed with final totals",
        description=(
            "Calendar months in the tenant's time zone (its plan assignment's; UTC without one), newest first, "
            "from the current one back to the month of its first usage. `state` is `open` (usage may arrive), "
            "`grace` (ended; late usage may arrive until `grace_ends_at`) or `closed` (final: events dated in it "
            "and voids of them are refused with 409 `period-closed`); a closed period carries every feature's "
            "`totals` as recorded at the close. Pass `next_cursor` back as `cursor` for the next page. Any role of "
            "the tenant, platform."
        ),
        opt=requires(Permission.READ_USAGE),
        responses=problems(400, 401, 403, 429),
    )
    async def list_billing_periods(
        self,
        tenant_id: TenantId,
        periods: NamedDependency[PeriodService],
        limit: Annotated[int, Parameter(ge=1, le=MAX_PERIODS_PAGE, description="Periods per page.")] = 12,
        cursor: Cursor = None,
    ) -> BillingPeriodPage:
        return await periods.list_periods(tenant_id, cursor, limit, now=datetime.now(UTC))

    @post(
        "/close",
        operation_id="close_billing_periods",
        summary="Close the tenant's billing periods now, before their grace has passed",
        description=(
            "Closes every period of the tenant ending at or before `period_end` that is not closed yet: records "
            "each one's totals per feature as they are now and queues a `period.closed` webhook message with "
            "them, in one transaction. Answers the periods this call closed, oldest first (empty when they were "
            "closed already). A `period_end` in the future is a 400. Platform role only."
        ),
        opt=requires(Permission.CLOSE_PERIODS),
        status_code=200,
        responses=problems(400, 401, 403, 429, body=True),
    )
    async def close_billing_periods(
        self, tenant_id: TenantId, data: JSONBody[PeriodCloseIn], periods: NamedDependency[PeriodService]
    ) -> list[BillingPeriod]:
        return await periods.close(tenant_id, data.period_end, now=datetime.now(UTC))
