"""Reservations' structs: a hold of capacity before the work, committed with the real usage or released."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta

from tally.domain.credits import GRANT_ID_PATTERN
from tally.domain.keys import MAX_QUANTITY, FeatureKey
from tally.domain.usage import EventDimensions, IdempotencyKey, Quantity

MAX_HOLD_SECONDS = 86_400
MAX_RESERVATIONS_PAGE = 1000
ReservationId = Annotated[
    str,
    Meta(
        pattern=GRANT_ID_PATTERN,
        description="Client-chosen id of a hold: re-sending a hold with the same id is the same hold.",
        examples=["req-81f2"],
    ),
]


class ReservationState(StrEnum):
    """``held`` while it counts against limits and credits; ``committed`` with its usage recorded; ``released``
    without usage; ``expired``: its lifetime ran out before a commit or a release."""

    HELD = "held"
    COMMITTED = "committed"
    RELEASED = "released"
    EXPIRED = "expired"


class ReservationIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /tenants/{tenant_id}/reservations``."""

    reservation_id: ReservationId
    feature_key: FeatureKey
    quantity: Annotated[int, Meta(ge=1, le=MAX_QUANTITY, description="The upper bound to hold.", examples=[4096])]
    expires_in_seconds: Annotated[
        int, Meta(ge=1, le=MAX_HOLD_SECONDS, description="Lifetime of the hold: it ends by itself then.")
    ] = 300


class CommitIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST …/reservations/{reservation_id}/commit``: the usage the work really took, recorded as one
    usage event of the hold's feature."""

    quantity: Quantity
    idempotency_key: IdempotencyKey
    timestamp: Annotated[datetime, Meta(tz=True, description="When the usage happened; default now.")] | None = None
    dimensions: EventDimensions = {}


class Reservation(msgspec.Struct, kw_only=True, frozen=True):
    """A hold and what became of it."""

    reservation_id: str
    feature_key: str
    quantity: int
    state: ReservationState
    created_at: datetime
    expires_at: datetime
    committed_event: Annotated[str | None, Meta(description="The idempotency key of the committed usage.")]
    committed_quantity: int | None
    ended_before_commit: Annotated[
        ReservationState | None,
        Meta(description="`released` or `expired` when the hold had ended before its commit recorded the usage."),
    ] = None


class ReservationPage(msgspec.Struct, kw_only=True, frozen=True):
    """A page of reservations, newest first; ``next_cursor`` is null on the last page."""

    items: list[Reservation]
    next_cursor: str | None
