"""Credits' structs: grants that add to a tenant's allowance of one feature, and their live balances."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta

from tally.domain.keys import MAX_QUANTITY, NO_NUL, FeatureKey, Instant

GRANT_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$"
GrantId = Annotated[
    str,
    Meta(
        pattern=GRANT_ID_PATTERN,
        description="Client-chosen id of a grant: re-sending a create with the same id is the same grant.",
        examples=["topup-2026-12-01"],
    ),
]
Amount = Annotated[int, Meta(ge=1, le=MAX_QUANTITY, examples=[5_000_000])]
Priority = Annotated[int, Meta(ge=0, le=100, description="Burn-down order: 0 burns first.", examples=[1])]
Note = Annotated[str, Meta(min_length=1, max_length=1000, pattern=NO_NUL)]


class GrantState(StrEnum):
    """Where a grant stands now: not yet effective, burning, used up, past its expiry, or voided."""

    SCHEDULED = "scheduled"
    ACTIVE = "active"
    DEPLETED = "depleted"
    EXPIRED = "expired"
    VOIDED = "voided"


class GrantIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /tenants/{tenant_id}/grants``."""

    grant_id: GrantId
    feature_key: FeatureKey
    amount: Amount
    priority: Priority = 0
    effective_at: Annotated[Instant, Meta(description="When it starts to cover usage; default now.")] | None = None
    expires_at: Annotated[Instant, Meta(description="When it stops covering usage; none: never.")] | None = None
    note: Note | None = None
    notify_below: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=MAX_QUANTITY,
                description="A `credits.low` webhook message when the feature's `credits_remaining` falls below this.",
            ),
        ]
        | None
    ) = None


class GrantVoid(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /tenants/{tenant_id}/grants/{grant_id}/void``."""

    reason: Note


class Grant(msgspec.Struct, kw_only=True, frozen=True):
    """A grant with its balance now: ``used`` is the usage charged to it so far, ``remaining`` what is left."""

    grant_id: str
    feature_key: str
    amount: int
    priority: int
    effective_at: datetime
    expires_at: datetime | None
    note: str | None
    notify_below: int | None
    state: GrantState
    used: int
    remaining: int
    created_at: datetime
    voided_at: datetime | None
    void_reason: str | None
