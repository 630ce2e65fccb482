"""Column types whose storage differs between the databases: SQLAlchemy's ``with_variant`` picks each one's."""

from __future__ import annotations

from typing import Any, cast

import msgspec
from sqlalchemy import Dialect, String, Text, TypeDecorator
from sqlalchemy.dialects.postgresql import JSONB

from tally.metering.events import dimension_set

LatestKey = String(80).with_variant(String(80, collation="C"), "postgresql")
"""A ``latest_key`` column: sorts like (timestamp, recorded_at, batch_index), compared byte-wise whatever the
database's locale (SQLite compares text byte-wise by default; PostgreSQL needs the C collation)."""


class _CanonicalDimensions(TypeDecorator[dict[str, str]]):
    """A set of dimensions as canonical JSON text (keys sorted, no spaces), so that equal sets are equal keys.
    SQLAlchemy's JSON type would write the text with spaces and in the caller's key order."""

    impl = Text
    cache_ok = True

    def process_bind_param(self, value: dict[str, str] | str | None, dialect: Dialect) -> str | None:
        if value is None or isinstance(value, str):  # a set already in its canonical text, as bucket cells carry it
            return value
        return dimension_set(value)

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, str] | None:
        return None if value is None else msgspec.json.decode(value, type=dict[str, str])


class _JsonbDimensions(TypeDecorator[dict[str, str]]):
    """A set of dimensions as ``jsonb``: read without parsing, compared by value."""

    impl = JSONB
    cache_ok = True

    def process_bind_param(self, value: dict[str, str] | str | None, dialect: Dialect) -> Any:
        if isinstance(value, str):  # a set in its canonical text (bucket cells carry it): the driver takes objects
            return msgspec.json.decode(value, type=dict[str, str])
        return value

    def process_result_value(self, value: Any, dialect: Dialect) -> dict[str, str] | None:
        return cast("dict[str, str] | None", value)


Dimensions = _CanonicalDimensions().with_variant(_JsonbDimensions(), "postgresql")
