"""Usage's structs: events as sent and as stored, batches, totals, voids and event pages."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta

from tally.domain.keys import MAX_DIMENSION_VALUE, MAX_DIMENSIONS, MAX_QUANTITY, NO_NUL, FeatureKey

MAX_BATCH = 1000
MAX_GROUP_BY = 3
# No NUL: in the schema only. The strict decoder (``tally.http.strict_input``) refuses a NUL in any string of the
# body; a pattern here would also be matched by a regular expression per key, which was a third of a batch's decode.
IdempotencyKey = Annotated[
    str,
    Meta(
        min_length=1,
        max_length=255,
        description="Unique per tenant, forever: re-sending the same key never counts twice.",
        examples=["req-7f3a"],
        extra_json_schema={"extra": {"pattern": NO_NUL}},
    ),
]
Quantity = Annotated[int, Meta(ge=0, le=MAX_QUANTITY, description="Whole units used.", examples=[3])]

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


class WindowSize(StrEnum):
    """One row per feature per hour, local day or local month of the period."""

    HOUR = "hour"
    DAY = "day"
    MONTH = "month"


MAX_TOTAL_ROWS = 10_000
MAX_EVENTS_PAGE = 1000


class UsageEventIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, gc=False):
    """One usage event as sent by a caller. Not tracked by the garbage collector (``gc=False``: it holds no cycle), as
    a batch decodes a thousand of them."""

    feature_key: FeatureKey
    quantity: Quantity
    idempotency_key: IdempotencyKey
    timestamp: (
        Annotated[
            datetime,
            Meta(
                tz=True,
                description=(
                    "When the usage happened: RFC 3339 with an offset (`Z` or `±hh:mm`); one without an offset is a "
                    "400. Omitted means the time the server received the request."
                ),
            ),
        ]
        | None
    ) = None
    dimensions: EventDimensions = {}


class UsageBatch(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True, gc=False):
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
    approximate: Annotated[
        bool,
        Meta(
            description="True when `quantity` is an estimate: a distinct count of a feature declared `approximate` "
            "(mergeable sketches, within the documented error bound)."
        ),
    ] = False
    final: Annotated[
        bool,
        Meta(
            description="True when the window lies wholly inside closed billing periods: `quantity` is what was "
            "recorded at the close and never changes."
        ),
    ] = False


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
