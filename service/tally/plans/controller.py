"""HTTP routes of plans, a tenant's plan assignment and its entitlements."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, put
from litestar import delete as http_delete  # a bare delete( reads as SQL to the layer check (test_layers.py)
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter

from tally.domain.keys import FEATURE_KEY_PATTERN, MAX_FEATURE_KEYS, PlanKey
from tally.domain.plans import Entitlement, Plan, PlanAssignment, PlanAssignmentIn, PlanIn
from tally.http.auth import Permission, requires
from tally.http.openapi import problems
from tally.http.params import TenantId
from tally.plans.entitlements import Entitlements
from tally.plans.service import PlanService
from tally.usage.reading import reading


class PlanController(Controller):
    path = "/api/v1/billing/plans"
    tags = ["plans"]

    @get(
        "/",
        operation_id="list_plans",
        summary="List the plans",
        description="Every plan with its limits, sorted by `plan_key`. Any authenticated role may read them.",
        opt=requires(Permission.READ_USAGE),
        responses=problems(401, 403, 429),
    )
    async def list_plans(self, plans: NamedDependency[PlanService]) -> list[Plan]:
        return await plans.list_plans()

    @put(
        "/{plan_key:str}",
        operation_id="put_plan",
        summary="Create or replace a plan",
        description=(
            "Creates the plan (201) or replaces its name and limits (200). Each limit names a catalog feature "
            "(else 400), at most once: its value per `day` or `month` (calendar, in the tenant's time zone), "
            "`enforcement` `none` (report only) or `reject` (a batch that would go over it is a 409), and "
            "`notify_at_percent` thresholds. Platform role only."
        ),
        opt=requires(Permission.MANAGE_PLANS),
        status_code=200,
        responses={
            201: ResponseSpec(data_container=Plan, description="The plan was created.", generate_examples=False),
            **problems(400, 401, 403, 429, body=True),
        },
    )
    async def put_plan(
        self,
        plans: NamedDependency[PlanService],
        plan_key: Annotated[
            PlanKey, Parameter(description="Key of the plan to create or replace.", pattern=FEATURE_KEY_PATTERN)
        ],
        data: JSONBody[PlanIn],
    ) -> Response[Plan]:
        plan, created = await plans.put_plan(plan_key, data)
        return Response(plan, status_code=201 if created else 200)


class TenantPlanController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}"
    tags = ["plans"]

    @put(
        "/plan",
        operation_id="put_tenant_plan",
        summary="Put a tenant on a plan",
        description=(
            "Puts the tenant on the plan (replacing its previous assignment), with the time zone its days and "
            "months follow and per-feature `overrides` that replace the plan's limits. An unknown `plan_key` "
            "is a 400. Platform role only."
        ),
        opt=requires(Permission.MANAGE_PLANS),
        status_code=200,
        responses=problems(400, 401, 403, 429, body=True),
    )
    async def put_tenant_plan(
        self, tenant_id: TenantId, data: JSONBody[PlanAssignmentIn], plans: NamedDependency[PlanService]
    ) -> PlanAssignment:
        return await plans.assign(tenant_id, data)

    @get(
        "/plan",
        operation_id="get_tenant_plan",
        summary="The tenant's plan",
        description="The tenant's plan assignment; 404 when it is on no plan. Any role of the tenant, platform.",
        opt=requires(Permission.READ_USAGE),
        responses=problems(400, 401, 403, 404, 429),
    )
    async def get_tenant_plan(self, tenant_id: TenantId, plans: NamedDependency[PlanService]) -> PlanAssignment:
        return await plans.assignment(tenant_id)

    @http_delete(
        "/plan",
        operation_id="delete_tenant_plan",
        summary="Take a tenant off its plan",
        description="The tenant has no limits afterwards (also 204 when it had no plan). Platform role only.",
        opt=requires(Permission.MANAGE_PLANS),
        status_code=204,
        responses=problems(400, 401, 403, 429),
    )
    async def delete_tenant_plan(self, tenant_id: TenantId, plans: NamedDependency[PlanService]) -> None:
        await plans.unassign(tenant_id)

    @get(
        "/entitlements",
        operation_id="list_entitlements",
        summary="How much of each feature is used and left in the current period",
        description=(
            "One `Entitlement` per catalog feature (or per `feature_keys`), sorted by `feature_key`: its limit "
            "(null: unlimited), `used` (what `usage-totals` answers for the limit's current period, in the "
            "tenant's time zone; the calendar month without a limit), `remaining` (never negative), "
            "`over_limit` and the period's UTC bounds. A tenant on no plan gets `limit: null` rows."
        ),
        opt=requires(Permission.READ_USAGE),
        responses=problems(400, 401, 403, 429),
    )
    async def list_entitlements(
        self,
        tenant_id: TenantId,
        request: Request[Any, Any, Any],
        feature_keys: Annotated[
            list[str] | None,
            Parameter(
                description=f"Features to report (repeat the parameter, at most {MAX_FEATURE_KEYS}); omitted: "
                "every feature of the catalog. Unknown keys are a 400.",
                max_items=MAX_FEATURE_KEYS,
            ),
        ] = None,
    ) -> list[Entitlement]:
        async with reading(request.app.state) as usage:  # not the ``usage`` dependency: see ``reading``
            return await Entitlements(usage).entitlements(tenant_id, feature_keys, now=datetime.now(UTC))

    @get(
        "/entitlements/{feature_key:str}",
        operation_id="get_entitlement",
        summary="One feature's entitlement: may the tenant use more right now?",
        description=(
            "The `Entitlement` of one feature (see `list_entitlements`): the check an application may make "
            "before serving a request. An unknown feature is a 400."
        ),
        opt=requires(Permission.READ_USAGE),
        responses=problems(400, 401, 403, 429),
    )
    async def get_entitlement(
        self,
        tenant_id: TenantId,
        request: Request[Any, Any, Any],
        feature_key: Annotated[str, Parameter(description="The feature to check.", pattern=FEATURE_KEY_PATTERN)],
    ) -> Entitlement:
        async with reading(request.app.state) as usage:  # not the ``usage`` dependency: see ``reading``
            return await Entitlements(usage).entitlement(tenant_id, feature_key, now=datetime.now(UTC))
