"""Plans' structs: limits per feature and period, a tenant's assignment, and entitlements."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from tally.domain.keys import MAX_QUANTITY, FeatureKey, PlanKey
from tally.domain.periods import GracePeriod

MAX_LIMITS = 1000
NotifyPercent = Annotated[int, Meta(ge=1, le=1000)]
# No NUL: PostgreSQL text cannot hold it.
PlanName = Annotated[str, Meta(min_length=1, max_length=200, pattern="^[^\\x00]*$", examples=["Pro"])]


class LimitPeriod(StrEnum):
    """The calendar period a limit applies to, in the tenant's time zone."""

    DAY = "day"
    MONTH = "month"


class Enforcement(StrEnum):
    """What a limit does: ``none`` only reports, ``reject`` refuses a batch that would go over it (409)."""

    NONE = "none"
    REJECT = "reject"


class Limit(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """How much of one feature a tenant may use per period: its aggregated value, as ``usage-totals`` gives it."""

    feature_key: FeatureKey
    limit: Annotated[int, Meta(ge=0, le=MAX_QUANTITY, examples=[1_000_000])]
    period: LimitPeriod = LimitPeriod.MONTH
    enforcement: Enforcement = Enforcement.NONE
    notify_at_percent: Annotated[
        list[NotifyPercent],
        Meta(
            max_length=20,
            description="Thresholds (percent of the limit, 1 to 1000, unique) for usage alerts.",
            examples=[[80, 100]],
            # Litestar leaves the items' bounds out of the schema; uniqueness is checked by the service (400).
            extra_json_schema={
                "extra": {"unique_items": True, "items": {"type": "integer", "minimum": 1, "maximum": 1000}}
            },
        ),
    ] = []
    notify_credits_below: (
        Annotated[
            int,
            Meta(
                ge=1,
                le=MAX_QUANTITY,
                description="A `credits.low` webhook message when the tenant's `credits_remaining` of the feature "
                "falls below this.",
            ),
        ]
        | None
    ) = None


Limits = Annotated[list[Limit], Meta(max_length=MAX_LIMITS, description="At most one limit per feature.")]


class PlanIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``PUT /plans/{plan_key}``."""

    name: PlanName
    limits: Limits = []
    grace_period: GracePeriod | None = None


class Plan(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A plan: per-feature limits a tenant on it may use (also an entry of a catalog file's ``plans``)."""

    plan_key: PlanKey
    name: PlanName
    limits: Limits = []
    grace_period: GracePeriod | None = None


class PlanAssignmentIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``PUT /tenants/{tenant_id}/plan``."""

    plan_key: PlanKey
    timezone: Annotated[
        str,
        Meta(
            max_length=64,
            description="IANA time zone whose local days and months the limits' periods follow.",
            examples=["Europe/Berlin"],
        ),
    ] = "UTC"
    overrides: Annotated[Limits, Meta(description="Limits that replace the plan's for their features.")] = []
    grace_period: Annotated[GracePeriod | None, Meta(description="Replaces the plan's grace period.")] = None


class PlanAssignment(msgspec.Struct, kw_only=True, frozen=True):
    """The plan a tenant is on, in which time zone, with which overrides."""

    tenant_id: UUID
    plan_key: str
    timezone: str
    overrides: list[Limit]
    grace_period: str | None = None


class Using(StrEnum):
    """What the feature's next unit of usage draws from: the period's ``allowance`` (or no limit at all), the
    tenant's ``credits``, or nothing (``exhausted``: allowance and credits are used up)."""

    ALLOWANCE = "allowance"
    CREDITS = "credits"
    EXHAUSTED = "exhausted"


class Entitlement(msgspec.Struct, kw_only=True, frozen=True):
    """How much of a feature a tenant used in the current period, and how much is left."""

    feature_key: FeatureKey
    unit: str
    limit: int | None
    used: int
    remaining: int | None
    over_limit: bool
    enforcement: Enforcement
    period: LimitPeriod
    period_start: datetime
    period_end: datetime
    reserved: Annotated[int, Meta(description="Held by live reservations; `remaining` subtracts it.")] = 0
    granted: Annotated[int, Meta(description="The amounts of the grants active now, together.")] = 0
    credits_remaining: Annotated[int, Meta(description="What the grants active now have left, together.")] = 0
    using: Using = Using.ALLOWANCE
    using_grant: Annotated[
        str | None, Meta(description="The grant usage burns now (`using: credits`), first in burn-down order.")
    ] = None
