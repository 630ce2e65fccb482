"""Usage use cases: record a batch exactly once, void an event, list events, compute totals.

Raw events and their buckets are written in one transaction, so a committed event is in both or
neither. Totals read whole buckets plus the raw events at a window's ragged edges, so their cost does
not grow with the number of events (see ``tally.usage.buckets`` and ``tally.usage.totals``).
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from sqlalchemy import TextClause, case, delete, func, select, text, tuple_, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.engine import begin_write, lock_dimensions
from tally.db.models import (
    Base,
    FeatureRecord,
    UsageBucketRecord,
    UsageDimensionBucketRecord,
    UsageEventRecord,
    dimension_set,
)
from tally.domain.errors import IdempotencyConflict, InvalidInput, NotFound, UnknownFeature
from tally.domain.models import (
    MAX_DIMENSION_VALUE,
    MAX_FEATURE_KEYS,
    FieldError,
    IngestResult,
    UsageBatch,
    UsageEvent,
    UsageEventPage,
    UsageTotal,
)
from tally.usage import totals
from tally.usage.buckets import (
    DIMENSION_GRAINS,
    GRAINS,
    BucketCell,
    DimensionCell,
    bucket_cells,
    bucket_end,
    dimension_cells,
    floor_to,
    latest_key,
)
from tally.usage.periods import as_utc
from tally.usage.totals import TotalsSource

# A unique key plus ON CONFLICT DO NOTHING is what makes ingestion exactly-once: a concurrent transaction
# inserting the same key waits for ours and then skips the row; RETURNING says which rows are new. On SQLite,
# SQLAlchemy Core's executemany does it. On PostgreSQL the same statements are written by hand over unnest()
# of one array per column: asyncpg encodes each array in C, where SQLAlchemy would bind 8,000 parameters one
# by one (a batch took about 3x longer that way, see docs/benchmarks.md).
PG_INSERT_EVENTS = text("""
    INSERT INTO usage_event
        (tenant_id, idempotency_key, feature_key, quantity, timestamp, recorded_at, batch_index, latest_key,
         dimensions)
    SELECT :tenant_id, k, f, q, t, :recorded_at, i, l, CAST(d AS jsonb)
    FROM unnest(CAST(:keys AS text[]), CAST(:features AS text[]), CAST(:quantities AS bigint[]),
                CAST(:timestamps AS timestamptz[]), CAST(:indexes AS integer[]), CAST(:latest AS text[]),
                CAST(:dimensions AS text[]))
         AS batch(k, f, q, t, i, l, d)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING idempotency_key
""")


def _pg_upsert(table: str, keys: dict[str, str]) -> TextClause:
    """Add cells to the rows of a bucket table: one array per column (``keys``: the key columns after
    tenant_id and their types), inserted or added to the existing row (sums add up, maxima and latest keys
    keep the greater). A jsonb column travels as text."""
    columns = {**keys, "quantity": "bigint", "event_count": "bigint", "max_quantity": "bigint", "latest_key": "text"}
    names = ", ".join(columns)
    arrays = ", ".join(f"CAST(:{name} AS {'text' if kind == 'jsonb' else kind}[])" for name, kind in columns.items())
    values = ", ".join(f"CAST({name} AS jsonb)" if kind == "jsonb" else name for name, kind in columns.items())
    return text(f"""
        INSERT INTO {table} (tenant_id, {names})
        SELECT :tenant_id, {values} FROM unnest({arrays}) AS cells({names})
        ON CONFLICT (tenant_id, {", ".join(keys)}) DO UPDATE
        SET quantity = {table}.quantity + excluded.quantity,
            event_count = {table}.event_count + excluded.event_count,
            max_quantity = GREATEST({table}.max_quantity, excluded.max_quantity),
            latest_key = GREATEST({table}.latest_key, excluded.latest_key)
    """)  # noqa: S608 - no input in the text


PG_UPSERTS = {
    "usage_bucket": _pg_upsert(
        "usage_bucket", {"grain_seconds": "integer", "bucket_start": "timestamptz", "feature_key": "text"}
    ),
    "usage_dimension_bucket": _pg_upsert(
        "usage_dimension_bucket",
        {"feature_key": "text", "grain_seconds": "integer", "bucket_start": "timestamptz", "dimension_set": "jsonb"},
    ),
}


class NewEvent(msgspec.Struct, frozen=True):
    """An event as it will be stored; ``explicit_time`` is False when the server supplied the timestamp."""

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


class UsageService:
    def __init__(
        self,
        session: AsyncSession,
        future_skew: timedelta = timedelta(minutes=5),
        totals_source: TotalsSource = "buckets",
    ) -> None:
        self.session = session
        self.future_skew = future_skew
        self.totals_source = totals_source

    # --- recording -----------------------------------------------------------------------------------

    async def record(self, tenant_id: UUID, batch: UsageBatch, received_at: datetime) -> IngestResult:
        """Store a batch atomically; events already known under their key are duplicates, not counted."""
        events = self._prepare(batch, received_at)
        await begin_write(self.session)
        await lock_dimensions(self.session, exclusive=False)
        dimensioned = await self._check_features(events)
        # Sorted keys: concurrent batches that share keys take their row locks in the same order.
        events.sort(key=lambda e: e.idempotency_key)
        postgres = self._postgres()
        inserted = await (self._insert_events_pg if postgres else self._insert_events)(tenant_id, events, received_at)
        known = [e for e in events if e.idempotency_key not in inserted]
        if known:
            await self._check_duplicates(tenant_id, known)
        # Buckets last: their rows are the ones concurrent batches of a tenant contend for, so hold their
        # locks for the shortest time, until the commit right after.
        new = [e for e in events if e.idempotency_key in inserted]
        if cells := bucket_cells(new):
            await self._upsert_cells(tenant_id, "usage_bucket", cells)
        if dimension_rows := dimension_cells(e for e in new if e.feature_key in dimensioned):
            await self._upsert_cells(tenant_id, "usage_dimension_bucket", dimension_rows)
        await self.session.commit()
        return IngestResult(accepted=len(inserted), duplicates=len(batch.events) - len(inserted))

    def _postgres(self) -> bool:
        return self.session.get_bind().dialect.name == "postgresql"

    async def _insert_events(self, tenant_id: UUID, events: Sequence[NewEvent], received_at: datetime) -> set[str]:
        table = Base.metadata.tables["usage_event"]
        stmt = (
            sqlite.insert(table)
            .on_conflict_do_nothing(index_elements=["tenant_id", "idempotency_key"])
            .returning(table.c.idempotency_key)
        )
        rows = [
            {
                "tenant_id": tenant_id,
                "idempotency_key": e.idempotency_key,
                "feature_key": e.feature_key,
                "quantity": e.quantity,
                "timestamp": e.timestamp,
                "recorded_at": received_at,
                "batch_index": e.index,
                "latest_key": e.latest_key,
                "dimensions": e.dimensions or None,
            }
            for e in events
        ]
        return set((await self.session.scalars(stmt, rows)).all())

    async def _insert_events_pg(self, tenant_id: UUID, events: Sequence[NewEvent], received_at: datetime) -> set[str]:
        result = await self.session.execute(
            PG_INSERT_EVENTS,
            {
                "tenant_id": tenant_id,
                "recorded_at": received_at,
                "keys": [e.idempotency_key for e in events],
                "features": [e.feature_key for e in events],
                "quantities": [e.quantity for e in events],
                "timestamps": [e.timestamp for e in events],
                "indexes": [e.index for e in events],
                "latest": [e.latest_key for e in events],
                "dimensions": [e.dimension_set if e.dimensions else None for e in events],
            },
        )
        return set(result.scalars().all())

    async def _upsert_cells(
        self, tenant_id: UUID, table_name: str, cells: Sequence[BucketCell | DimensionCell]
    ) -> None:
        """Add pre-aggregated cells to their rows of ``table_name``, in key order (the cells come sorted), so
        concurrent batches touching the same buckets lock them in the same order (no deadlock). The cells'
        fields are the table's columns."""
        names = [field.name for field in msgspec.structs.fields(cells[0])]
        if self._postgres():
            arrays = {name: [getattr(c, name) for c in cells] for name in names}
            await self.session.execute(PG_UPSERTS[table_name], {"tenant_id": tenant_id, **arrays})
            return
        table = Base.metadata.tables[table_name]
        insert = sqlite.insert(table)
        new = insert.excluded
        stmt = insert.on_conflict_do_update(
            index_elements=list(table.primary_key.columns),
            set_={
                "quantity": table.c.quantity + new.quantity,
                "event_count": table.c.event_count + new.event_count,
                "max_quantity": case(
                    (new.max_quantity > table.c.max_quantity, new.max_quantity), else_=table.c.max_quantity
                ),
                "latest_key": case((new.latest_key > table.c.latest_key, new.latest_key), else_=table.c.latest_key),
            },
        )
        await self.session.execute(stmt, [{"tenant_id": tenant_id, **msgspec.structs.asdict(c)} for c in cells])

    def _prepare(self, batch: UsageBatch, received_at: datetime) -> list[NewEvent]:
        """Normalise timestamps to UTC, refuse future ones, fold identical repeats inside the batch."""
        latest = received_at + self.future_skew
        by_key: dict[str, NewEvent] = {}
        errors: list[FieldError] = []
        for i, e in enumerate(batch.events):
            try:
                timestamp = as_utc(e.timestamp) if e.timestamp is not None else received_at
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: no such UTC instant
                errors.append(FieldError(field=f"events[{i}].timestamp", message=f"'{e.timestamp}' is out of range"))
                continue
            if timestamp > latest:
                errors.append(
                    FieldError(
                        field=f"events[{i}].timestamp",
                        message=f"{timestamp.isoformat()} is more than {self.future_skew} in the future",
                    )
                )
                continue
            bad_values = [
                FieldError(
                    field=f"events[{i}].dimensions.{key}",
                    message=f"must be 1 to {MAX_DIMENSION_VALUE} characters, got {len(value)}",
                )
                for key, value in e.dimensions.items()
                if not 1 <= len(value) <= MAX_DIMENSION_VALUE
            ]
            if bad_values:
                errors += bad_values
                continue
            dimensions = dict(sorted(e.dimensions.items()))
            event = NewEvent(
                i,
                e.idempotency_key,
                e.feature_key,
                e.quantity,
                timestamp,
                e.timestamp is not None,
                latest_key(timestamp, received_at, i, e.quantity),
                dimensions,
                dimension_set(dimensions),
            )
            first = by_key.setdefault(e.idempotency_key, event)
            if first is not event and not first.same_content(e.feature_key, e.quantity, timestamp, dimensions):
                errors.append(
                    FieldError(
                        field=f"events[{i}].idempotency_key",
                        message=f"'{e.idempotency_key}' is used by events[{first.index}] with different content",
                    )
                )
        if errors:
            raise InvalidInput.fields(errors)
        return list(by_key.values())

    async def _check_features(self, events: Sequence[NewEvent]) -> set[str]:
        """Every event's feature exists and declares the event's dimension keys. Returns the features of the
        batch that declare dimensions."""
        wanted = {e.feature_key for e in events}
        declared = {
            key: set(dimensions)
            for key, dimensions in await self.session.execute(
                select(FeatureRecord.feature_key, FeatureRecord.dimensions).where(FeatureRecord.feature_key.in_(wanted))
            )
        }
        unknown = [
            FieldError(field=f"events[{e.index}].feature_key", message=f"unknown feature '{e.feature_key}'")
            for e in events
            if e.feature_key not in declared
        ]
        if unknown:
            raise UnknownFeature.fields(unknown)
        undeclared = [
            FieldError(
                field=f"events[{e.index}].dimensions.{key}",
                message=f"feature '{e.feature_key}' declares no dimension '{key}'"
                + (f" (it declares: {', '.join(sorted(declared[e.feature_key]))})" if declared[e.feature_key] else ""),
            )
            for e in events
            for key in e.dimensions
            if key not in declared[e.feature_key]
        ]
        if undeclared:
            raise InvalidInput.fields(undeclared)
        return {key for key, dimensions in declared.items() if dimensions}

    async def _check_duplicates(self, tenant_id: UUID, known: Sequence[NewEvent]) -> None:
        """A key already stored must carry the same content; otherwise the whole batch is refused (409). A
        voided event keeps its key: re-sending it is a duplicate, not a new event."""
        table = UsageEventRecord
        content = select(table.idempotency_key, table.feature_key, table.quantity, table.timestamp, table.dimensions)
        stored = {
            key: (feature_key, quantity, timestamp, dimensions or {})
            for key, feature_key, quantity, timestamp, dimensions in await self.session.execute(
                content.where(
                    table.tenant_id == tenant_id,
                    table.idempotency_key.in_([e.idempotency_key for e in known]),
                )
            )
        }
        conflicts = [
            FieldError(
                field=f"events[{e.index}].idempotency_key",
                message=f"'{e.idempotency_key}' was already recorded with another feature_key, quantity, timestamp or "
                "dimensions",
            )
            for e in known
            if not e.same_content(*stored[e.idempotency_key])
        ]
        if conflicts:
            await self.session.rollback()
            raise IdempotencyConflict.fields(conflicts)

    # --- corrections ---------------------------------------------------------------------------------

    async def void(self, tenant_id: UUID, idempotency_key: str, reason: str, by: str, now: datetime) -> UsageEvent:
        """Remove an event from every total, keeping it (and its key) with the void's audit record. Voiding
        a voided event changes nothing and answers it as it is."""
        await begin_write(self.session)
        await lock_dimensions(self.session, exclusive=False)
        events = UsageEventRecord
        event = await self.session.scalar(
            select(events)
            .where(events.tenant_id == tenant_id, events.idempotency_key == idempotency_key)
            .with_for_update()
        )
        if event is None:
            raise NotFound.field("idempotency_key", f"no event '{idempotency_key}' was recorded for this tenant")
        if event.voided_at is None:
            event.voided_at, event.voided_by, event.void_reason = now, by, reason
            await self.session.flush()
            await self._recompute_buckets(tenant_id, event, UsageBucketRecord)
            dimensions = await self.session.scalar(
                select(FeatureRecord.dimensions).where(FeatureRecord.feature_key == event.feature_key)
            )
            if dimensions:
                await self._recompute_buckets(tenant_id, event, UsageDimensionBucketRecord)
        await self.session.commit()
        return _event_out(event)

    async def _recompute_buckets(
        self,
        tenant_id: UUID,
        event: UsageEventRecord,
        buckets: type[UsageBucketRecord] | type[UsageDimensionBucketRecord],
    ) -> None:
        """Recompute the rows of ``buckets`` the event was added to (one per grain) from the remaining raw
        events. A max or latest cannot be undone by subtraction, so the rows are rebuilt; their locks are
        taken first, in the order ingestion takes them, and the rebuild reads in a later statement, so it
        sees every batch that held them (an ingesting batch that comes later adds its own events on top, as
        usual). In ``usage_dimension_bucket`` the rows are those of the event's set of dimension values."""
        events = UsageEventRecord
        grains = DIMENSION_GRAINS if buckets is UsageDimensionBucketRecord else GRAINS
        keys = [(grain, floor_to(event.timestamp, grain)) for grain in sorted(grains)]
        same_bucket = [buckets.tenant_id == tenant_id, buckets.feature_key == event.feature_key]
        same_events = [
            events.tenant_id == tenant_id,
            events.feature_key == event.feature_key,
            events.voided_at.is_(None),
        ]
        if buckets is UsageDimensionBucketRecord:
            same_bucket.append(UsageDimensionBucketRecord.dimension_set == (event.dimensions or {}))
            same_events.append(
                events.dimensions.is_(None) if event.dimensions is None else events.dimensions == event.dimensions
            )
        await self.session.execute(
            select(buckets.grain_seconds)
            .where(*same_bucket, tuple_(buckets.grain_seconds, buckets.bucket_start).in_(keys))
            .order_by(buckets.grain_seconds, buckets.bucket_start)
            .with_for_update()
        )
        for grain, start in keys:
            row = (
                await self.session.execute(
                    select(
                        func.coalesce(func.sum(events.quantity), 0),
                        func.count(),
                        func.coalesce(func.max(events.quantity), 0),
                        func.coalesce(func.max(events.latest_key), ""),
                    ).where(
                        *same_events,
                        events.timestamp >= start,
                        events.timestamp < bucket_end(start, grain),
                    )
                )
            ).one()
            where = (*same_bucket, buckets.grain_seconds == grain, buckets.bucket_start == start)
            if row[1] == 0:
                await self.session.execute(delete(buckets).where(*where))
            else:
                await self.session.execute(
                    update(buckets)
                    .where(*where)
                    .values(quantity=row[0], event_count=row[1], max_quantity=row[2], latest_key=row[3])
                )

    # --- reading -------------------------------------------------------------------------------------

    async def list_events(
        self,
        tenant_id: UUID,
        feature_key: str | None,
        start: datetime | None,
        end: datetime | None,
        limit: int,
        cursor: str | None,
    ) -> UsageEventPage:
        """Events oldest first (then by key), voided ones included, ``limit`` at a time. An unknown
        ``feature_key`` is a 400, as it is for totals."""
        events = UsageEventRecord
        stmt = select(events).where(events.tenant_id == tenant_id)
        if feature_key is not None:
            if await self.session.get(FeatureRecord, feature_key) is None:
                raise UnknownFeature.field("feature_key", f"unknown feature: '{feature_key}'")
            stmt = stmt.where(events.feature_key == feature_key)
        if start is not None:
            stmt = stmt.where(events.timestamp >= start)
        if end is not None:
            stmt = stmt.where(events.timestamp < end)
        if cursor is not None:
            after_time, after_key = _decode_cursor(cursor)
            stmt = stmt.where(tuple_(events.timestamp, events.idempotency_key) > tuple_(after_time, after_key))
        rows = list(
            (await self.session.scalars(stmt.order_by(events.timestamp, events.idempotency_key).limit(limit + 1))).all()
        )
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].timestamp, rows[-1].idempotency_key) if more else None
        return UsageEventPage(items=[_event_out(r) for r in rows], next_cursor=next_cursor)

    async def totals(
        self,
        tenant_id: UUID,
        feature_keys: Sequence[str] | None,
        windows: Sequence[tuple[datetime, datetime]],
        grouping: totals.Grouping | None = None,
    ) -> list[UsageTotal]:
        """One ``UsageTotal`` per selected feature (all features when none are named) and window, sorted by
        (feature_key, window_start), each computed with its feature's aggregation; with a ``grouping``, one
        per combination of grouped values too, of the events its filters keep."""
        wanted = _wanted(feature_keys)
        if grouping:
            return await totals.compute_grouped(self.session, tenant_id, wanted, windows, self.totals_source, grouping)
        return await totals.compute(self.session, tenant_id, wanted, windows, self.totals_source)


def _wanted(feature_keys: Sequence[str] | None) -> list[str] | None:
    """The requested feature keys without repeats (``None``: every feature), at most MAX_FEATURE_KEYS."""
    if feature_keys is None:
        return None
    wanted = list(dict.fromkeys(feature_keys))
    if len(wanted) > MAX_FEATURE_KEYS:
        raise InvalidInput.field("feature_keys", f"at most {MAX_FEATURE_KEYS} keys, got {len(wanted)}")
    return wanted


def _event_out(record: UsageEventRecord) -> UsageEvent:
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


def _encode_cursor(timestamp: datetime, key: str) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode([timestamp, key])).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        timestamp, key = msgspec.json.decode(base64.urlsafe_b64decode(cursor.encode()), type=tuple[datetime, str])
    except (binascii.Error, ValueError, msgspec.DecodeError):
        raise InvalidInput.field("cursor", "is not a cursor this API returned") from None
    return as_utc(timestamp), key
