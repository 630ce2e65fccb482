"""Events: one on its way into storage (its normalised content, the canonical text of its dimensions), and the
event listing's query."""

from __future__ import annotations

from datetime import datetime

import msgspec

from tally.metering.aggregations import latest_key
from tally.metering.periods import open_period


def dimension_set(dimensions: dict[str, str]) -> str:
    """The canonical text of a set of dimensions (keys sorted, no spaces): equal sets, equal text."""
    return msgspec.json.encode(dict(sorted(dimensions.items()))).decode() if dimensions else "{}"


class NewEvent(msgspec.Struct, frozen=True, gc=False):
    """An event of a batch as it will be stored; ``explicit_time`` is False when the server supplied the
    timestamp, ``recorded_at`` is the batch's receipt time. Not tracked by the garbage collector (``gc=False``: it
    holds no cycle): a batch makes a thousand, and their collections were a fifth of ingestion's CPU."""

    index: int
    idempotency_key: str
    feature_key: str
    quantity: int
    timestamp: datetime
    explicit_time: bool
    recorded_at: datetime
    dimensions: dict[str, str]  # keys sorted
    dimension_set: str  # their canonical text, "{}" for none

    @property
    def latest_key(self) -> str:
        """What the ``latest`` aggregation keeps of it (see ``latest_key``): made only where it is used, since
        PostgreSQL's ingestion makes it in SQL (``PG_LATEST_KEY``) and formatting it took a tenth of a batch's CPU."""
        return latest_key(self.timestamp, self.recorded_at, self.index, self.quantity)

    def same_content(self, feature_key: str, quantity: int, timestamp: datetime, dimensions: dict[str, str]) -> bool:
        # A retried event without a timestamp gets a new receipt time: its key, feature, quantity and
        # dimensions decide.
        return (
            self.feature_key == feature_key
            and self.quantity == quantity
            and self.dimensions == dimensions
            and (not self.explicit_time or self.timestamp == timestamp)
        )


class EventQuery(msgspec.Struct, frozen=True, kw_only=True):
    """What the event listing and its export show: one feature's events or all, in a half-open period whose bounds
    may each be open, after the (timestamp, key) position of a page's last row."""

    feature_key: str | None = None
    start: datetime | None = None
    end: datetime | None = None
    after: tuple[datetime, str] | None = None

    @classmethod
    def build(
        cls,
        feature_key: str | None,
        period_start: datetime | None,
        period_end: datetime | None,
        after: tuple[datetime, str] | None = None,
    ) -> EventQuery:
        """A query of the listing's parameters: the bounds as UTC instants, ``period_start`` before ``period_end``
        (else 400)."""
        start, end = open_period(period_start, period_end)
        return cls(feature_key=feature_key, start=start, end=end, after=after)

    def after_row(self, timestamp: datetime, key: str) -> EventQuery:
        """The same query from the row after (``timestamp``, ``key``) on: the next page."""
        return msgspec.structs.replace(self, after=(timestamp, key))
