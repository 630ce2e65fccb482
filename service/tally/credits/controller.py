"""HTTP routes of a tenant's credit grants."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from litestar import Controller, Request, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter, QueryParameter

from tally.credits.service import GrantService
from tally.domain.credits import GRANT_ID_PATTERN, Grant, GrantIn, GrantState, GrantVoid
from tally.domain.keys import FEATURE_KEY_PATTERN
from tally.http.auth import Permission, Principal, requires
from tally.http.openapi import problems
from tally.http.params import TenantId

GrantIdParameter = Annotated[
    str, Parameter(description="The grant's `grant_id`.", pattern=GRANT_ID_PATTERN, max_length=128)
]


class GrantController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}/grants"
    tags = ["grants"]

    @post(
        "/",
        operation_id="create_grant",
        summary="Grant credits of a feature to a tenant",
        description=(
            "Adds `amount` of the feature (in its unit) on top of the plan's allowance, from `effective_at` "
            "(default now) until `expires_at` (none: never). Usage beyond the allowance burns the active grants, "
            "lowest `priority` first, then the soonest expiry, then the oldest. The same `grant_id` with the same "
            "content again is 200 with the stored grant; with other content 409. A feature whose aggregation "
            "does not sum is a 400. Platform role only."
        ),
        opt=requires(Permission.MANAGE_PLANS),
        status_code=200,
        responses={
            201: ResponseSpec(data_container=Grant, description="The grant was created.", generate_examples=False),
            **problems(400, 401, 403, 409, 429, body=True),
        },
    )
    async def create_grant(
        self,
        tenant_id: TenantId,
        data: JSONBody[GrantIn],
        request: Request[Any, Any, Any],
        grants: NamedDependency[GrantService],
    ) -> Response[Grant]:
        principal: Principal = request.user
        grant, created = await grants.create(tenant_id, data, principal.subject, datetime.now(UTC))
        return Response(grant, status_code=201 if created else 200)

    @get(
        "/",
        operation_id="list_grants",
        summary="A tenant's grants with their balances now",
        description=(
            "Every grant (or those of `feature_key`, in `state`), by feature in burn-down order, voided ones "
            "last: `used` is the usage charged to it so far, `remaining` what is left, computed from the same "
            "totals `usage-totals` answers. Any role of the tenant, platform."
        ),
        opt=requires(Permission.READ_USAGE),
        responses=problems(400, 401, 403, 429),
    )
    async def list_grants(
        self,
        tenant_id: TenantId,
        grants: NamedDependency[GrantService],
        feature_key: Annotated[
            str | None, Parameter(description="Only this feature's grants.", pattern=FEATURE_KEY_PATTERN)
        ] = None,
        grant_state: Annotated[
            GrantState | None, QueryParameter(name="state", description="Only grants in this state.")
        ] = None,
    ) -> list[Grant]:
        return await grants.list_grants(tenant_id, feature_key, grant_state, datetime.now(UTC))

    @post(
        "/{grant_id:str}/void",
        operation_id="void_grant",
        summary="Void a grant",
        description=(
            "The grant stops covering usage, kept with who voided it, when and why; the usage it covered moves to "
            "the next grants in order, or becomes overage. Voiding a voided grant changes nothing. Platform role "
            "only."
        ),
        opt=requires(Permission.MANAGE_PLANS),
        status_code=200,
        responses=problems(400, 401, 403, 404, 429, body=True),
    )
    async def void_grant(
        self,
        tenant_id: TenantId,
        grant_id: GrantIdParameter,
        data: JSONBody[GrantVoid],
        request: Request[Any, Any, Any],
        grants: NamedDependency[GrantService],
    ) -> Grant:
        principal: Principal = request.user
        return await grants.void(tenant_id, grant_id, data.reason, principal.subject, datetime.now(UTC))
