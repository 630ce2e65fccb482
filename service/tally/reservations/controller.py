"""HTTP routes of a tenant's reservations: hold, commit, release, list."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from litestar import Controller, Response, get, post
from litestar.di import NamedDependency
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter, QueryParameter

from tally.domain.credits import GRANT_ID_PATTERN
from tally.domain.reservations import (
    MAX_RESERVATIONS_PAGE,
    CommitIn,
    Reservation,
    ReservationIn,
    ReservationPage,
    ReservationState,
)
from tally.http.auth import Permission, requires
from tally.http.openapi import problems
from tally.http.params import Cursor, TenantId
from tally.reservations.service import ReservationService

ReservationIdParameter = Annotated[
    str, Parameter(description="The hold's `reservation_id`.", pattern=GRANT_ID_PATTERN, max_length=128)
]


class ReservationController(Controller):
    path = "/api/v1/billing/tenants/{tenant_id:str}/reservations"
    tags = ["reservations"]

    @post(
        "/",
        operation_id="create_reservation",
        summary="Hold capacity before the work",
        description=(
            "Holds `quantity` of the feature for `expires_in_seconds` (default 300): 201 when, under a rejecting "
            "limit, the allowance plus credits minus usage and every other live hold cover it, else 409 "
            "`limit-exceeded` (with `limit`, `used`, `reserved`, `credits_remaining`, `remaining`, `period_end`). "
            "Without a rejecting limit a hold always succeeds. The same `reservation_id` with the same content "
            "again is 200 with the stored hold; other content 409. Roles admin, owner, platform."
        ),
        opt=requires(Permission.RECORD_USAGE),
        status_code=200,
        responses={
            201: ResponseSpec(data_container=Reservation, description="The hold was made.", generate_examples=False),
            **problems(400, 401, 403, 409, 429, body=True),
        },
    )
    async def create_reservation(
        self, tenant_id: TenantId, data: JSONBody[ReservationIn], reservations: NamedDependency[ReservationService]
    ) -> Response[Reservation]:
        reservation, created = await reservations.hold(tenant_id, data, datetime.now(UTC))
        return Response(reservation, status_code=201 if created else 200)

    @post(
        "/{reservation_id:str}/commit",
        operation_id="commit_reservation",
        summary="Record the real usage and end the hold",
        description=(
            "Records `quantity` as one usage event of the hold's feature under `idempotency_key`, whatever the "
            "limits say (work that was done is always recorded), and ends the hold in the same transaction. The "
            "same commit again answers the same; another one on a committed hold is a 409. On a released or "
            "expired hold the usage is still recorded, and `ended_before_commit` says how the hold had ended. "
            "Roles admin, owner, platform."
        ),
        opt=requires(Permission.RECORD_USAGE),
        status_code=200,
        responses=problems(400, 401, 403, 404, 409, 429, body=True),
    )
    async def commit_reservation(
        self,
        tenant_id: TenantId,
        reservation_id: ReservationIdParameter,
        data: JSONBody[CommitIn],
        reservations: NamedDependency[ReservationService],
    ) -> Reservation:
        return await reservations.commit(tenant_id, reservation_id, data, datetime.now(UTC))

    @post(
        "/{reservation_id:str}/release",
        operation_id="release_reservation",
        summary="End a hold without usage",
        description=(
            "Frees the held capacity at once; a hold that has ended already is answered as it is. Roles admin, "
            "owner, platform."
        ),
        opt=requires(Permission.RECORD_USAGE),
        status_code=200,
        responses=problems(400, 401, 403, 404, 429),
    )
    async def release_reservation(
        self,
        tenant_id: TenantId,
        reservation_id: ReservationIdParameter,
        reservations: NamedDependency[ReservationService],
    ) -> Reservation:
        return await reservations.release(tenant_id, reservation_id, datetime.now(UTC))

    @get(
        "/",
        operation_id="list_reservations",
        summary="A tenant's reservations, newest first",
        description="A page of holds (`state=` filters), newest first. Any role of the tenant, platform.",
        opt=requires(Permission.READ_USAGE),
        responses=problems(400, 401, 403, 429),
    )
    async def list_reservations(
        self,
        tenant_id: TenantId,
        reservations: NamedDependency[ReservationService],
        reservation_state: Annotated[
            ReservationState | None, QueryParameter(name="state", description="Only holds in this state.")
        ] = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_RESERVATIONS_PAGE, description="Reservations per page.")] = 100,
        cursor: Cursor = None,
    ) -> ReservationPage:
        return await reservations.page(tenant_id, reservation_state, cursor, limit, datetime.now(UTC))
