"""Raw usage events: the exactly-once insert, duplicates' stored content, voids and the event listing."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import ColumnElement, exists, func, literal, select, tuple_

from tally.db import dialects
from tally.db.dialects import RecordTables
from tally.db.models import UsageBucketRecord, UsageDimensionBucketRecord, UsageEventRecord
from tally.metering.aggregations import COLUMNS, State
from tally.metering.events import EventQuery, NewEvent

StoredContent = tuple[str, int, datetime, dict[str, str]]
"""What decides whether a re-sent key is a duplicate: feature_key, quantity, timestamp, dimensions."""


def state_columns(event_table: type[UsageEventRecord]) -> list[ColumnElement[Any]]:
    """Each state column over raw events: its aggregate of what one event contributes, 0 or '' when none."""
    parts = {"quantity": event_table.quantity, "latest_key": event_table.latest_key, "1": literal(1)}
    return [
        func.coalesce(getattr(func, c.sql_aggregate.lower())(parts[c.per_event]), c.empty).label(c.name)
        for c in COLUMNS
    ]


class UsageEventRepository(SQLAlchemyAsyncRepository[UsageEventRecord]):
    model_type = UsageEventRecord

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dialect = dialects.of(self.session)

    async def insert_new(self, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime) -> set[str]:
        """Insert the events whose keys the tenant has not used yet; returns those keys. A concurrent
        transaction inserting the same key waits for ours, then skips it: exactly once without retries."""
        table = UsageEventRecord.__table__
        return await self.dialect.insert_events(self.session, table, tenant_id, events, recorded_at)  # type: ignore[arg-type]

    async def record_new(
        self, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime, dimension_features: Collection[str]
    ) -> set[str]:
        """``insert_new``, and the new events added to ``usage_bucket``, and those of ``dimension_features`` to
        ``usage_dimension_bucket`` (``Dialect.record_events``: one statement on PostgreSQL)."""
        tables = RecordTables(
            UsageEventRecord.__table__,  # type: ignore[arg-type]
            UsageBucketRecord.__table__,  # type: ignore[arg-type]
            UsageDimensionBucketRecord.__table__,  # type: ignore[arg-type]
        )
        return await self.dialect.record_events(
            self.session, tables, tenant_id, events, recorded_at, dimension_features
        )

    async def stored_content(self, tenant_id: UUID, keys: Sequence[str]) -> dict[str, StoredContent]:
        """The stored content of the tenant's events under ``keys``."""
        e = UsageEventRecord
        stmt = select(e.idempotency_key, e.feature_key, e.quantity, e.timestamp, e.dimensions).where(
            e.tenant_id == tenant_id, e.idempotency_key.in_(keys)
        )
        return {
            key: (feature_key, quantity, timestamp, dimensions or {})
            for key, feature_key, quantity, timestamp, dimensions in await self.session.execute(stmt)
        }

    async def get_for_update(self, tenant_id: UUID, idempotency_key: str) -> UsageEventRecord | None:
        """The tenant's event under ``idempotency_key``, its row locked until the transaction ends."""
        return await self.get_one_or_none(tenant_id=tenant_id, idempotency_key=idempotency_key, with_for_update=True)

    async def mark_voided(self, event: UsageEventRecord, *, at: datetime, by: str, reason: str) -> None:
        """Record the void's audit fields on the (locked) event."""
        event.voided_at, event.voided_by, event.void_reason = at, by, reason
        await self.session.flush()

    async def any_for_feature(self, feature_key: str) -> bool:
        """Whether any tenant has recorded usage of the feature (voided events included)."""
        return bool(await self.session.scalar(select(exists().where(UsageEventRecord.feature_key == feature_key))))

    async def state_of(
        self,
        tenant_id: UUID,
        feature_key: str,
        start: datetime,
        end: datetime,
        dimensions: dict[str, str] | bool | None = False,
    ) -> State:
        """The state of the feature's events in ``[start, end)`` that are not voided; with ``dimensions`` (not
        False), only the events carrying exactly that set (None: none)."""
        e = UsageEventRecord
        stmt = select(*state_columns(e)).where(
            e.tenant_id == tenant_id,
            e.feature_key == feature_key,
            e.voided_at.is_(None),
            e.timestamp >= start,
            e.timestamp < end,
        )
        if dimensions is not False:
            stmt = stmt.where(e.dimensions.is_(None) if dimensions is None else e.dimensions == dimensions)
        row = (await self.session.execute(stmt)).one()
        return State.of_row(row)

    async def page(self, tenant_id: UUID, query: EventQuery, limit: int) -> list[UsageEventRecord]:
        """Up to ``limit`` of the events ``query`` selects, oldest first (then by key), voided ones included."""
        e = UsageEventRecord
        stmt = select(e).where(e.tenant_id == tenant_id)
        if query.feature_key is not None:
            stmt = stmt.where(e.feature_key == query.feature_key)
        if query.start is not None:
            stmt = stmt.where(e.timestamp >= query.start)
        if query.end is not None:
            stmt = stmt.where(e.timestamp < query.end)
        if query.after is not None:
            stmt = stmt.where(tuple_(e.timestamp, e.idempotency_key) > tuple_(*query.after))
        return list((await self.session.scalars(stmt.order_by(e.timestamp, e.idempotency_key).limit(limit))).all())
