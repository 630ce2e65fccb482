"""A stored event as the API shows it."""

from __future__ import annotations

from tally.db.models import UsageEventRecord
from tally.domain.usage import UsageEvent


def event_out(record: UsageEventRecord) -> UsageEvent:
    return UsageEvent(
        idempotency_key=record.idempotency_key,
        feature_key=record.feature_key,
        quantity=record.quantity,
        timestamp=record.timestamp,
        recorded_at=record.recorded_at,
        dimensions=record.dimensions or {},
        voided=record.voided_at is not None,
        void_reason=record.void_reason,
        voided_at=record.voided_at,
        voided_by=record.voided_by,
    )
