"""Both bucket tables: adding a batch's cells, rebuilding the rows of a voided event, and the first copy of a
feature's buckets into ``usage_dimension_bucket``."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import delete, insert, literal, select, tuple_, update

from tally.db import dialects
from tally.db.models import UsageBucketRecord, UsageDimensionBucketRecord, UsageEventRecord
from tally.db.repositories.events import UsageEventRepository
from tally.db.types import Dimensions
from tally.metering.aggregations import COLUMN_NAMES, State
from tally.metering.buckets import (
    DAY,
    DIMENSION_BUCKETS,
    MONTH,
    USAGE_BUCKETS,
    BucketTable,
    Cell,
    bucket_end,
    floor_to,
    fold,
)

RECORDS: dict[str, type[UsageBucketRecord] | type[UsageDimensionBucketRecord]] = {
    USAGE_BUCKETS.name: UsageBucketRecord,
    DIMENSION_BUCKETS.name: UsageDimensionBucketRecord,
}


class BucketRepository(SQLAlchemyAsyncRepository[UsageBucketRecord]):
    model_type = UsageBucketRecord

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dialect = dialects.of(self.session)

    async def add_cells(self, tenant_id: UUID, table: BucketTable, cells: list[Cell]) -> None:
        """Add pre-aggregated cells to their rows, in key order (the cells come sorted), so concurrent batches
        touching the same buckets lock them in the same order (no deadlock)."""
        if cells:
            await self.dialect.upsert_cells(self.session, RECORDS[table.name].__table__, table, tenant_id, cells)  # type: ignore[arg-type]

    async def rebuild(self, tenant_id: UUID, event: UsageEventRecord, table: BucketTable) -> None:
        """Recompute the rows of ``table`` the event was added to (one per grain) from the remaining raw events.
        A max or latest cannot be undone by subtraction, so the rows are rebuilt; their locks are taken first,
        in the order ingestion takes them, and the rebuild reads in a later statement, so it sees every batch
        that held them (an ingesting batch that comes later adds its own events on top, as usual). In
        ``usage_dimension_bucket`` the rows are those of the event's set of dimension values."""
        buckets = RECORDS[table.name]
        keys = [(grain, floor_to(event.timestamp, grain)) for grain in sorted(table.grains)]
        same_bucket = [buckets.tenant_id == tenant_id, buckets.feature_key == event.feature_key]
        only_set: dict[str, str] | bool | None = False
        if buckets is UsageDimensionBucketRecord:
            same_bucket.append(UsageDimensionBucketRecord.dimension_set == (event.dimensions or {}))
            only_set = event.dimensions
        await self.session.execute(
            select(buckets.grain_seconds)
            .where(*same_bucket, tuple_(buckets.grain_seconds, buckets.bucket_start).in_(keys))
            .order_by(buckets.grain_seconds, buckets.bucket_start)
            .with_for_update()
        )
        events = UsageEventRepository(session=self.session)
        for grain, start in keys:
            state = await events.state_of(
                tenant_id, event.feature_key, start, bucket_end(start, grain), dimensions=only_set
            )
            where = (*same_bucket, buckets.grain_seconds == grain, buckets.bucket_start == start)
            if state.event_count == 0:
                await self.session.execute(delete(buckets).where(*where))
            else:
                await self.session.execute(update(buckets).where(*where).values(state._asdict()))

    async def start_dimensions(self, feature_key: str) -> None:
        """Copy a feature's usage into ``usage_dimension_bucket``, as the set without values: its day and hour
        buckets as they are, months added up from its days."""
        source, target = UsageBucketRecord, UsageDimensionBucketRecord
        copied = [grain for grain in DIMENSION_BUCKETS.grains if grain in USAGE_BUCKETS.grains]
        state = [getattr(source, name) for name in COLUMN_NAMES]
        keys = [source.tenant_id, source.feature_key, source.grain_seconds, source.bucket_start]
        copy = select(*keys, literal({}, Dimensions), *state).where(
            source.feature_key == feature_key, source.grain_seconds.in_(copied)
        )
        columns = ["tenant_id", "feature_key", "grain_seconds", "bucket_start", "dimension_set", *COLUMN_NAMES]
        await self.session.execute(insert(target).from_select(columns, copy))
        days = await self.session.execute(
            select(source.tenant_id, source.bucket_start, *state).where(
                source.feature_key == feature_key, source.grain_seconds == DAY
            )
        )
        months: dict[Any, State] = {}  # (tenant, month start) -> state
        for tenant_id, start, *values in days:
            fold(months, (tenant_id, floor_to(start, MONTH)), State.of_row(values))
        if months:
            await self.session.execute(
                insert(target),
                [
                    {
                        "tenant_id": tenant_id,
                        "feature_key": feature_key,
                        "grain_seconds": MONTH,
                        "bucket_start": start,
                        "dimension_set": {},
                        **month._asdict(),
                    }
                    for (tenant_id, start), month in sorted(months.items())
                ],
            )
