"""Billing periods' structs: the grace period, a period's state and recorded totals, the close, its webhook."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from tally.domain.keys import Instant
from tally.domain.usage import UsageTotal

MAX_GRACE_DAYS = 90
MAX_PERIODS_PAGE = 120
GRACE_PATTERN = r"^P(?=\d|T\d)(\d+D)?(T\d+H)?$"
GracePeriod = Annotated[
    str,
    Meta(
        pattern=GRACE_PATTERN,
        max_length=16,
        description=f"ISO 8601 duration in days and hours (`P3D`, `PT12H`, `P1DT6H`), at most {MAX_GRACE_DAYS} days: "
        "how long after a billing period ends its usage may still arrive. Then the period closes.",
        examples=["P3D"],
    ),
]


class PeriodState(StrEnum):
    """``open``: usage may arrive (the period has not ended, or it has no grace period); ``grace``: it has ended and
    its grace has not passed; ``closed``: its totals are final."""

    OPEN = "open"
    GRACE = "grace"
    CLOSED = "closed"


class BillingPeriod(msgspec.Struct, kw_only=True, frozen=True):
    """One calendar month of a tenant's, in its time zone: its state and, once closed, its final totals."""

    period_start: datetime
    period_end: datetime
    state: PeriodState
    grace_ends_at: Annotated[
        datetime | None, Meta(description="When the period closes by itself; null without a grace period.")
    ]
    closed_at: Annotated[datetime | None, Meta(description="The instant its totals were taken; null until closed.")]
    totals: Annotated[
        list[UsageTotal] | None,
        Meta(description="Once closed: every feature's total over the period, as recorded at the close."),
    ] = None


class BillingPeriodPage(msgspec.Struct, kw_only=True, frozen=True):
    """One page of periods, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[BillingPeriod]
    next_cursor: str | None


class PeriodCloseIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /tenants/{tenant_id}/periods/close``."""

    period_end: Annotated[
        Instant,
        Meta(description="Every period ending at or before this instant closes (it may not lie in the future)."),
    ]


class PeriodClosedData(msgspec.Struct, kw_only=True, frozen=True):
    """The ``data`` of a ``period.closed`` message: the period and its final totals."""

    tenant_id: UUID
    period_start: datetime
    period_end: datetime
    closed_at: datetime
    totals: list[UsageTotal]
