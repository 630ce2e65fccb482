"""Usage use cases: record a batch exactly once, compute totals over a half-open window."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

import msgspec
from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.engine import WRITE
from tally.db.models import FeatureRecord, UsageEventRecord
from tally.domain.errors import IdempotencyConflict, InvalidInput, UnknownFeature
from tally.domain.models import MAX_FEATURE_KEYS, FieldError, IngestResult, UsageBatch, UsageTotal
from tally.usage.periods import as_utc


class NewEvent(msgspec.Struct, frozen=True):
    """An event as it will be stored; ``explicit_time`` is False when the server supplied the timestamp."""

    index: int
    idempotency_key: str
    feature_key: str
    quantity: int
    timestamp: datetime
    explicit_time: bool

    def same_content(self, feature_key: str, quantity: int, timestamp: datetime) -> bool:
        # A retried event without a timestamp gets a new receipt time: its key, feature and quantity decide.
        return (
            self.feature_key == feature_key
            and self.quantity == quantity
            and (not self.explicit_time or self.timestamp == timestamp)
        )


class UsageService:
    def __init__(self, session: AsyncSession, future_skew: timedelta = timedelta(minutes=5)) -> None:
        self.session = session
        self.future_skew = future_skew

    async def record(self, tenant_id: UUID, batch: UsageBatch, received_at: datetime) -> IngestResult:
        """Store a batch atomically; events already known under their key are duplicates, not counted."""
        events = self._prepare(batch, received_at)
        await self.session.connection(execution_options=WRITE)
        await self._check_features(events)
        # Sorted keys: concurrent batches that share keys take their row locks in the same order.
        events.sort(key=lambda e: e.idempotency_key)
        rows = [
            {
                "tenant_id": tenant_id,
                "idempotency_key": e.idempotency_key,
                "feature_key": e.feature_key,
                "quantity": e.quantity,
                "timestamp": e.timestamp,
                "recorded_at": received_at,
            }
            for e in events
        ]
        # A unique key plus ON CONFLICT DO NOTHING is what makes ingestion exactly-once: a concurrent
        # transaction inserting the same key waits for ours and then skips the row; RETURNING says which
        # rows are new.
        dialect = (await self.session.connection()).dialect.name
        insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
        stmt = (
            insert(UsageEventRecord)
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
            .returning(UsageEventRecord.idempotency_key)
        )
        inserted = set((await self.session.scalars(stmt, rows)).all())
        known = [e for e in events if e.idempotency_key not in inserted]
        if known:
            await self._check_duplicates(tenant_id, known)
        await self.session.commit()
        return IngestResult(accepted=len(inserted), duplicates=len(batch.events) - len(inserted))

    def _prepare(self, batch: UsageBatch, received_at: datetime) -> list[NewEvent]:
        """Normalise timestamps to UTC, refuse future ones, fold identical repeats inside the batch."""
        latest = received_at + self.future_skew
        by_key: dict[str, NewEvent] = {}
        errors: list[FieldError] = []
        for i, e in enumerate(batch.events):
            timestamp = as_utc(e.timestamp) if e.timestamp is not None else received_at
            if timestamp > latest:
                errors.append(
                    FieldError(
                        field=f"events[{i}].timestamp",
                        message=f"{timestamp.isoformat()} is more than {self.future_skew} in the future",
                    )
                )
                continue
            event = NewEvent(i, e.idempotency_key, e.feature_key, e.quantity, timestamp, e.timestamp is not None)
            first = by_key.setdefault(e.idempotency_key, event)
            if first is not event and not first.same_content(e.feature_key, e.quantity, timestamp):
                errors.append(
                    FieldError(
                        field=f"events[{i}].idempotency_key",
                        message=f"'{e.idempotency_key}' is used by events[{first.index}] with different content",
                    )
                )
        if errors:
            raise InvalidInput("; ".join(f"{x.field}: {x.message}" for x in errors), errors)
        return list(by_key.values())

    async def _check_features(self, events: Sequence[NewEvent]) -> None:
        wanted = {e.feature_key for e in events}
        found = set(
            (
                await self.session.scalars(
                    select(FeatureRecord.feature_key).where(FeatureRecord.feature_key.in_(wanted))
                )
            ).all()
        )
        errors = [
            FieldError(field=f"events[{e.index}].feature_key", message=f"unknown feature '{e.feature_key}'")
            for e in events
            if e.feature_key not in found
        ]
        if errors:
            raise UnknownFeature("; ".join(f"{x.field}: {x.message}" for x in errors), errors)

    async def _check_duplicates(self, tenant_id: UUID, known: Sequence[NewEvent]) -> None:
        """A key already stored must carry the same content; otherwise the whole batch is refused (409)."""
        table = UsageEventRecord
        stored = {
            row.idempotency_key: row
            for row in await self.session.execute(
                select(table.idempotency_key, table.feature_key, table.quantity, table.timestamp).where(
                    table.tenant_id == tenant_id,
                    table.idempotency_key.in_([e.idempotency_key for e in known]),
                )
            )
        }
        conflicts = [
            FieldError(
                field=f"events[{e.index}].idempotency_key",
                message=f"'{e.idempotency_key}' was already recorded with another feature_key, quantity or timestamp",
            )
            for e in known
            if not e.same_content(*_content(stored[e.idempotency_key]))
        ]
        if conflicts:
            await self.session.rollback()
            raise IdempotencyConflict("; ".join(f"{x.field}: {x.message}" for x in conflicts), conflicts)

    async def totals(
        self, tenant_id: UUID, feature_keys: Sequence[str] | None, start: datetime, end: datetime
    ) -> list[UsageTotal]:
        """One total per selected feature (all features when none are named) over ``[start, end)``."""
        features = await self._select_features(feature_keys)
        table = UsageEventRecord
        sums = dict(
            (
                await self.session.execute(
                    select(table.feature_key, func.sum(table.quantity))
                    .where(
                        table.tenant_id == tenant_id,
                        table.feature_key.in_(list(features)),
                        table.timestamp >= start,
                        table.timestamp < end,
                    )
                    .group_by(table.feature_key)
                )
            ).all()
        )
        return [
            UsageTotal(
                feature_key=key,
                unit=unit,
                quantity=int(sums.get(key) or 0),
                window_start=start,
                window_end=end,
            )
            for key, unit in sorted(features.items())
        ]

    async def _select_features(self, feature_keys: Sequence[str] | None) -> dict[str, str]:
        """``feature_key -> unit`` for the named features (every feature when ``None``)."""
        stmt = select(FeatureRecord.feature_key, FeatureRecord.unit)
        if feature_keys is not None:
            wanted = list(dict.fromkeys(feature_keys))
            if len(wanted) > MAX_FEATURE_KEYS:
                raise InvalidInput.field("feature_keys", f"at most {MAX_FEATURE_KEYS} keys, got {len(wanted)}")
            stmt = stmt.where(FeatureRecord.feature_key.in_(wanted))
        units: dict[str, str] = dict((await self.session.execute(stmt)).all())
        if feature_keys is not None:
            unknown = [k for k in dict.fromkeys(feature_keys) if k not in units]
            if unknown:
                raise UnknownFeature.field("feature_keys", f"unknown feature(s): {', '.join(repr(k) for k in unknown)}")
        return units


def _content(row: Any) -> tuple[str, int, datetime]:
    return row.feature_key, row.quantity, row.timestamp
