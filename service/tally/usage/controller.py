"""HTTP routes for recording usage and reading usage totals of one tenant."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Controller, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.exceptions import ValidationException
from litestar.params import JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from tally.auth import Permission, requires
from tally.config import Settings
from tally.domain.models import MAX_FEATURE_KEYS, IngestResult, UsageBatch, UsageTotal
from tally.openapi_docs import problems
from tally.usage.periods import resolve_period
from tally.usage.service import UsageService

TenantId = Annotated[UUID, Parameter(description="The tenant whose usage is recorded or read.")]


async def provide_usage(db_session: NamedDependency[AsyncSession], settings: NamedDependency[Settings]) -> UsageService:
    return UsageService(
        db_session,
        future_skew=timedelta(seconds=settings.future_skew_seconds),
        totals_source=settings.totals_source,
    )


class UsageController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}"
    tags = ["usage"]
    dependencies = {"usage": Provide(provide_usage)}

    @post(
        "/usage-events",
        operation_id="record_usage_events",
        summary="Record usage events, exactly once",
        description=(
            "Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is "
            "already known with the same `feature_key`, `quantity` and `timestamp` is a duplicate: accepted, "
            "not counted again. The same key with different content is a 409. Roles admin, owner, platform."
        ),
        guards=[requires(Permission.RECORD_USAGE)],
        status_code=200,
        responses=problems(400, 401, 403, 409, 413),
    )
    async def record_usage_events(
        self,
        tenant_id: TenantId,
        data: JSONBody[UsageBatch],
        request: Request[Any, Any, Any],
        usage: NamedDependency[UsageService],
    ) -> IngestResult:
        # Litestar converts bodies leniently ("3" becomes 3, a number becomes a datetime); the contract wants JSON
        # integers and ISO-8601 strings, so the (cached) raw body is decoded once more, strictly.
        try:
            batch = msgspec.json.decode(await request.body(), type=UsageBatch)
        except msgspec.ValidationError as exc:
            raise ValidationException(extra=[{"message": str(exc), "source": "body"}]) from None
        return await usage.record(tenant_id, batch, received_at=datetime.now(UTC))

    @get(
        "/usage-totals",
        operation_id="get_usage_totals",
        summary="Usage totals per feature over a period",
        description=(
            "One `UsageTotal` per selected feature, sorted by `feature_key`, for the half-open window "
            "`[period_start, period_end)`. Features without usage appear with quantity 0. Both bounds "
            "omitted: the current UTC calendar month; one omitted: the other bound of the UTC calendar month "
            "holding the given one."
        ),
        guards=[requires(Permission.READ_USAGE)],
        responses=problems(400, 401, 403),
    )
    async def get_usage_totals(
        self,
        tenant_id: TenantId,
        usage: NamedDependency[UsageService],
        feature_keys: Annotated[
            list[str] | None,
            Parameter(
                description=f"Features to report (repeat the parameter, at most {MAX_FEATURE_KEYS}); "
                "omitted: every feature of the catalog. Unknown keys are a 400.",
                max_items=MAX_FEATURE_KEYS,
            ),
        ] = None,
        period_start: Annotated[
            datetime | None,
            Parameter(
                description="Inclusive start, ISO-8601. Naive means UTC; send an offset's `+` as `%2B`.",
            ),
        ] = None,
        period_end: Annotated[
            datetime | None,
            Parameter(description="Exclusive end, ISO-8601, after `period_start`. Naive means UTC."),
        ] = None,
    ) -> list[UsageTotal]:
        start, end = resolve_period(period_start, period_end, now=datetime.now(UTC))
        return await usage.totals(tenant_id, feature_keys, start, end)
