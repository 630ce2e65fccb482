"""Request and response structs. Constraints live on the types so they land in the OpenAPI schema.

Request structs forbid unknown fields: a typo (``"time"`` for ``timestamp``) is a 400 naming it, never a default
silently used in its place (``tally.strict_input`` decodes them and reports every bad field).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

MAX_QUANTITY = 9_007_199_254_740_991  # 2**53 - 1: the largest integer every JSON client reads exactly
MAX_BATCH = 1000
MAX_FEATURE_KEYS = 100

# PostgreSQL text cannot hold NUL, so no string Tally takes may contain one (tally.strict_input refuses it before
# any handler runs); every free-text field declares it, so clients, generators and fuzzers know.
NO_NUL = r"^[^\x00]*$"
Text = Annotated[str, Meta(pattern=NO_NUL)]
FEATURE_KEY_PATTERN = r"^[a-z][a-z0-9_.-]{0,63}$"
FeatureKey = Annotated[
    str,
    Meta(
        pattern=FEATURE_KEY_PATTERN,
        description="Lower-case identifier of a metered feature.",
        examples=["api_calls"],
    ),
]
IdempotencyKey = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=255,
        pattern=NO_NUL,
        description="Unique per tenant, forever: re-sending the same key never counts twice.",
        examples=["req-7f3a"],
    ),
]
Quantity = Annotated[int, Meta(ge=0, le=MAX_QUANTITY, description="Whole units used.", examples=[3])]

MAX_DIMENSIONS = 10
MAX_GROUP_BY = 3
MAX_DIMENSION_VALUE = 128
DIMENSION_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
DimensionKey = Annotated[
    str,
    Meta(pattern=DIMENSION_KEY_PATTERN, description="Name of a dimension a feature declares.", examples=["model"]),
]
# An event's dimensions are checked by the service, not by these types: an undeclared key or a bad value is a
# 400 that names the key, where msgspec's own message would say "$.events[0].dimensions[...]". The schema
# still tells clients the rule.
EventDimensions = Annotated[
    dict[str, str],
    Meta(
        description=(
            f"Values of dimensions the feature declares, each 1 to {MAX_DIMENSION_VALUE} characters. Part of "
            "the event's content: re-sending its key with other dimensions is a 409."
        ),
        examples=[{"model": "gpt-4o", "region": "eu"}],
        extra_json_schema={
            "extra": {
                "max_properties": MAX_DIMENSIONS,
                "additional_properties": {
                    "type": "string",
                    "minLength": 1,
                    "maxLength": MAX_DIMENSION_VALUE,
                    "pattern": NO_NUL,
                },
            }
        },
    ),
]


class Aggregation(StrEnum):
    """How a feature's events combine into a total: ``sum`` of quantities, ``count`` of events, ``max`` or
    ``min`` quantity, the quantity of the ``latest`` event by timestamp (ties: the later-recorded event), or
    ``unique_count``: the number of distinct values of the dimension ``unique_by`` (e.g. active users)."""

    SUM = "sum"
    COUNT = "count"
    MAX = "max"
    MIN = "min"
    LATEST = "latest"
    UNIQUE_COUNT = "unique_count"


class WindowSize(StrEnum):
    """One row per feature per hour, local day or local month of the period."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


MAX_TOTAL_ROWS = 10_000
MAX_EVENTS_PAGE = 1000


class FeatureIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``PUT /features/{feature_key}``."""

    unit: Annotated[str, Meta(min_length=1, max_length=64, pattern=NO_NUL, examples=["requests"])]
    aggregation: Aggregation = Aggregation.SUM
    description: Annotated[str, Meta(max_length=1000, pattern=NO_NUL)] | None = None
    dimensions: Annotated[
        list[DimensionKey],
        Meta(
            max_length=MAX_DIMENSIONS,
            description="Keys events of this feature may carry, to group and filter totals by. Keys can be "
            "added later; once usage is recorded for the feature, none can be removed (409).",
            examples=[["model", "region"]],
            # Litestar leaves the items' pattern out of the schema; uniqueness is checked by the service (400).
            extra_json_schema={
                "extra": {"unique_items": True, "items": {"type": "string", "pattern": DIMENSION_KEY_PATTERN}}
            },
        ),
    ] = []
    # The constraints on the str, not on the union: Litestar leaves a pattern inside a union out of the schema.
    unique_by: (
        Annotated[
            str,
            Meta(
                pattern=DIMENSION_KEY_PATTERN,
                description="With `aggregation: unique_count`: the dimension whose distinct values are counted "
                "(one of `dimensions`; events without it do not count). Cannot change once usage is recorded (409).",
            ),
        ]
        | None
    ) = None


class Feature(msgspec.Struct, kw_only=True, frozen=True):
    """A metered feature of the catalog."""

    feature_key: FeatureKey
    unit: str
    aggregation: Aggregation
    description: str | None = None
    dimensions: list[str]
    unique_by: str | None = None


class FeatureSpec(Feature, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One entry of a catalog file (``tally features load``)."""

    aggregation: Aggregation = Aggregation.SUM
    dimensions: list[DimensionKey] = []


class CatalogFile(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    features: list[FeatureSpec]
    plans: list[Plan] = []


# --- plans, limits and entitlements ------------------------------------------------------------------

MAX_LIMITS = 1000
PlanKey = Annotated[
    str, Meta(pattern=FEATURE_KEY_PATTERN, description="Lower-case identifier of a plan.", examples=["pro"])
]
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


Limits = Annotated[list[Limit], Meta(max_length=MAX_LIMITS, description="At most one limit per feature.")]


class PlanIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``PUT /plans/{plan_key}``."""

    name: PlanName
    limits: Limits = []


class Plan(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A plan: per-feature limits a tenant on it may use (also an entry of a catalog file's ``plans``)."""

    plan_key: PlanKey
    name: PlanName
    limits: Limits = []


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


class PlanAssignment(msgspec.Struct, kw_only=True, frozen=True):
    """The plan a tenant is on, in which time zone, with which overrides."""

    tenant_id: UUID
    plan_key: str
    timezone: str
    overrides: list[Limit]


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


class UsageEventIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One usage event as sent by a caller."""

    feature_key: FeatureKey
    quantity: Quantity
    idempotency_key: IdempotencyKey
    timestamp: (
        Annotated[
            datetime,
            Meta(
                description=(
                    "When the usage happened, ISO-8601. An offset is honoured, a naive value is read as UTC; "
                    "omitted means the time the server received the request."
                )
            ),
        ]
        | None
    ) = None
    dimensions: EventDimensions = {}


class UsageBatch(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /usage-events``: stored all together or not at all."""

    events: Annotated[list[UsageEventIn], Meta(min_length=1, max_length=MAX_BATCH)]


class IngestResult(msgspec.Struct, kw_only=True, frozen=True):
    """What a batch did: newly stored events and already known duplicates."""

    accepted: int
    duplicates: int


class UsageTotal(msgspec.Struct, kw_only=True, frozen=True):
    """Usage of one feature in the half-open window ``[window_start, window_end)``."""

    feature_key: FeatureKey
    unit: str
    quantity: int
    window_start: datetime
    window_end: datetime
    dimensions: Annotated[
        dict[str, str | None],
        Meta(
            description="The `group_by` keys and their values in this row (null: events without the key); "
            "empty without `group_by`.",
            examples=[{"model": "gpt-4o"}],
        ),
    ]


class VoidIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /usage-events/{idempotency_key}/void``."""

    reason: Annotated[
        str, Meta(min_length=1, max_length=1000, pattern=NO_NUL, examples=["duplicate sent by a retrying proxy"])
    ]


class UsageEvent(msgspec.Struct, kw_only=True, frozen=True):
    """A recorded event as support staff see it, voided or not."""

    idempotency_key: str
    feature_key: str
    quantity: int
    timestamp: datetime
    recorded_at: datetime
    dimensions: dict[str, str]
    voided: bool
    void_reason: str | None = None
    voided_at: datetime | None = None
    voided_by: str | None = None


class UsageEventPage(msgspec.Struct, kw_only=True, frozen=True):
    """One page of events, oldest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[UsageEvent]
    next_cursor: str | None


class FieldError(msgspec.Struct, kw_only=True, frozen=True):
    """One invalid input: where it is and what is wrong with it."""

    field: str
    message: str


class Problem(msgspec.Struct, kw_only=True, frozen=True, omit_defaults=True):
    """RFC 9457 problem details: the body of every 4xx and 5xx answer."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldError] | None = None


class Health(msgspec.Struct, kw_only=True, frozen=True):
    status: str


class NewEvent(msgspec.Struct, frozen=True):
    """An event of a batch as it will be stored; ``explicit_time`` is False when the server supplied the
    timestamp."""

    index: int
    idempotency_key: str
    feature_key: str
    quantity: int
    timestamp: datetime
    explicit_time: bool
    latest_key: str
    dimensions: dict[str, str]  # keys sorted
    dimension_set: str  # their canonical text, "{}" for none

    def same_content(self, feature_key: str, quantity: int, timestamp: datetime, dimensions: dict[str, str]) -> bool:
        # A retried event without a timestamp gets a new receipt time: its key, feature, quantity and
        # dimensions decide.
        return (
            self.feature_key == feature_key
            and self.quantity == quantity
            and self.dimensions == dimensions
            and (not self.explicit_time or self.timestamp == timestamp)
        )
