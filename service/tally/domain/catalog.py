"""The feature catalog's structs: what a metered feature is and how its events combine."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

import msgspec
from msgspec import Meta

from tally.domain.keys import DIMENSION_KEY_PATTERN, MAX_DIMENSIONS, NO_NUL, DimensionKey, FeatureKey


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
    approximate: Annotated[
        bool,
        Meta(
            description="With `aggregation: unique_count`: count distinct values with mergeable sketches (HyperLogLog) "
            "instead of exactly, at a fixed cost per read whatever the number of values, within the error bound the "
            "API documentation states (only with `unique_count`, else 400). Cannot change once usage is recorded (409)."
        ),
    ] = False


class Feature(msgspec.Struct, kw_only=True, frozen=True):
    """A metered feature of the catalog."""

    feature_key: FeatureKey
    unit: str
    aggregation: Aggregation
    description: str | None = None
    dimensions: list[str]
    unique_by: str | None = None
    approximate: bool = False


class FeatureSpec(Feature, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """One entry of a catalog file (``tally features load``)."""

    aggregation: Aggregation = Aggregation.SUM
    dimensions: list[DimensionKey] = []
