"""Identifiers and bounds that every subject shares: feature, plan and dimension keys, free text, quantities,
and the checks of a key that arrives where its type cannot be declared (a path parameter)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import msgspec
from msgspec import Meta

from tally.domain.errors import InvalidInput

MAX_QUANTITY = 9_007_199_254_740_991  # 2**53 - 1: the largest integer every JSON client reads exactly
MAX_FEATURE_KEYS = 100

# PostgreSQL text cannot hold NUL, so no string Tally takes may contain one (tally.http.strict_input refuses it before
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

MAX_DIMENSIONS = 10
MAX_DIMENSION_VALUE = 128
DIMENSION_KEY_PATTERN = r"^[a-z][a-z0-9_]{0,31}$"
DimensionKey = Annotated[
    str,
    Meta(pattern=DIMENSION_KEY_PATTERN, description="Name of a dimension a feature declares.", examples=["model"]),
]
Instant = Annotated[datetime, Meta(tz=True)]
"""An instant in a request: RFC 3339 with an offset (``Z`` or ``±hh:mm``). One without is refused (400), not guessed:
a client on local time would otherwise move usage by hours."""
PlanKey = Annotated[
    str, Meta(pattern=FEATURE_KEY_PATTERN, description="Lower-case identifier of a plan.", examples=["pro"])
]


def check_feature_key(feature_key: str) -> None:
    """A key that arrived as a path parameter follows the ``FeatureKey`` pattern (Litestar does not apply it)."""
    _check(feature_key, FeatureKey, "feature_key")


def check_plan_key(plan_key: str) -> None:
    """A key that arrived as a path parameter follows the ``PlanKey`` pattern (Litestar does not apply it)."""
    _check(plan_key, PlanKey, "plan_key")


def _check(value: str, type_: object, field: str) -> None:
    try:
        msgspec.convert(value, type_)
    except msgspec.ValidationError as exc:
        raise InvalidInput.field(field, f"'{value}': {exc}") from None
