"""Usage use cases: record a batch exactly once, compute totals over a half-open window.

Raw events and their 15-minute buckets are written in one transaction, so a committed event is in both
or neither. Totals read whole buckets plus the raw events at a window's ragged edges (at most 15
minutes at each end), so their cost does not grow with the number of events.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Literal
from uuid import UUID

import msgspec
from advanced_alchemy.types import DateTimeUTC
from sqlalchemy import BindParameter, Uuid, bindparam, select, text
from sqlalchemy.dialects import sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.engine import begin_write
from tally.db.models import Base, FeatureRecord, UsageEventRecord
from tally.domain.errors import IdempotencyConflict, InvalidInput, UnknownFeature
from tally.domain.models import MAX_FEATURE_KEYS, FieldError, IngestResult, UsageBatch, UsageTotal
from tally.usage.buckets import DAY, QUARTER, BucketCell, Range, bucket_cells, decompose
from tally.usage.periods import as_utc

TotalsSource = Literal["buckets", "events"]

PG_INSERT_EVENTS = text("""
    INSERT INTO usage_event (tenant_id, idempotency_key, feature_key, quantity, timestamp, recorded_at)
    SELECT :tenant_id, k, f, q, t, :recorded_at
    FROM unnest(CAST(:keys AS text[]), CAST(:features AS text[]), CAST(:quantities AS bigint[]),
                CAST(:timestamps AS timestamptz[])) AS batch(k, f, q, t)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
    RETURNING idempotency_key
""")
PG_UPSERT_BUCKETS = text("""
    INSERT INTO usage_bucket (tenant_id, feature_key, grain_seconds, bucket_start, quantity, event_count)
    SELECT :tenant_id, f, g, b, q, n
    FROM unnest(CAST(:features AS text[]), CAST(:grains AS integer[]), CAST(:starts AS timestamptz[]),
                CAST(:quantities AS bigint[]), CAST(:counts AS bigint[])) AS cells(f, g, b, q, n)
    ON CONFLICT (tenant_id, grain_seconds, bucket_start, feature_key) DO UPDATE
    SET quantity = usage_bucket.quantity + excluded.quantity,
        event_count = usage_bucket.event_count + excluded.event_count
""")


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
    def __init__(
        self,
        session: AsyncSession,
        future_skew: timedelta = timedelta(minutes=5),
        totals_source: TotalsSource = "buckets",
    ) -> None:
        self.session = session
        self.future_skew = future_skew
        self.totals_source = totals_source

    async def record(self, tenant_id: UUID, batch: UsageBatch, received_at: datetime) -> IngestResult:
        """Store a batch atomically; events already known under their key are duplicates, not counted."""
        events = self._prepare(batch, received_at)
        await begin_write(self.session)
        await self._check_features(events)
        # Sorted keys: concurrent batches that share keys take their row locks in the same order.
        events.sort(key=lambda e: e.idempotency_key)
        postgres = (await self.session.connection()).dialect.name == "postgresql"
        inserted = await (self._insert_events_pg if postgres else self._insert_events)(tenant_id, events, received_at)
        known = [e for e in events if e.idempotency_key not in inserted]
        if known:
            await self._check_duplicates(tenant_id, known)
        # Buckets last: their rows are the ones concurrent batches of a tenant contend for, so hold their
        # locks for the shortest time, until the commit right after.
        cells = bucket_cells(e for e in events if e.idempotency_key in inserted)
        if cells:
            await (self._upsert_buckets_pg if postgres else self._upsert_buckets)(tenant_id, cells)
        await self.session.commit()
        return IngestResult(accepted=len(inserted), duplicates=len(batch.events) - len(inserted))

    # A unique key plus ON CONFLICT DO NOTHING is what makes ingestion exactly-once: a concurrent
    # transaction inserting the same key waits for ours and then skips the row; RETURNING says which rows
    # are new. On SQLite, SQLAlchemy Core's executemany does it. On PostgreSQL the same statement is written
    # by hand over unnest() of one array per column: asyncpg encodes each array in C, where SQLAlchemy would
    # bind 6,000 parameters one by one (the batch took about 3x longer that way, see docs/benchmarks.md).

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
            },
        )
        return set(result.scalars().all())

    async def _upsert_buckets(self, tenant_id: UUID, cells: list[BucketCell]) -> None:
        """Add pre-aggregated cells to their bucket rows, in key order, so concurrent batches touching the same
        buckets lock them in the same order (no deadlock)."""
        table = Base.metadata.tables["usage_bucket"]
        insert = sqlite.insert(table)
        stmt = insert.on_conflict_do_update(
            index_elements=["tenant_id", "grain_seconds", "bucket_start", "feature_key"],
            set_={
                "quantity": table.c.quantity + insert.excluded.quantity,
                "event_count": table.c.event_count + insert.excluded.event_count,
            },
        )
        rows = [{"tenant_id": tenant_id, **msgspec.structs.asdict(c)} for c in cells]
        await self.session.execute(stmt, rows)

    async def _upsert_buckets_pg(self, tenant_id: UUID, cells: list[BucketCell]) -> None:
        await self.session.execute(
            PG_UPSERT_BUCKETS,
            {
                "tenant_id": tenant_id,
                "features": [c.feature_key for c in cells],
                "grains": [c.grain_seconds for c in cells],
                "starts": [c.bucket_start for c in cells],
                "quantities": [c.quantity for c in cells],
                "counts": [c.event_count for c in cells],
            },
        )

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
        """One total per selected feature (all features when none are named) over ``[start, end)``, in one
        statement: the catalog left-joined to the partial sums, so features without usage come out as 0."""
        wanted = _wanted(feature_keys)
        ranges = [Range(0, start, end)] if self.totals_source == "events" else decompose(start, end)
        params: dict[str, Any] = {"tenant_id": tenant_id, **_range_slots(ranges)}
        if wanted is None:
            stmt = TOTALS_SQL
        else:
            stmt, params["features"] = TOTALS_OF_FEATURES_SQL, wanted
        rows = (await self.session.execute(stmt, params)).all()
        if wanted is not None and len(rows) < len(wanted):
            found = {row[0] for row in rows}
            unknown = ", ".join(repr(k) for k in wanted if k not in found)
            raise UnknownFeature.field("feature_keys", f"unknown feature(s): {unknown}")
        return [
            UsageTotal(feature_key=key, unit=unit, quantity=int(quantity), window_start=start, window_end=end)
            for key, unit, quantity in rows
        ]


# Totals are the hot read, so their SQL is written out once, in a fixed shape: asyncpg prepares it once per
# connection and SQLAlchemy compiles nothing per request (building the query with select() per request
# cost about as much CPU as the rest of the request). The five slots are the ranges `decompose` can
# return in time order: raw events, quarter buckets, day buckets, quarter buckets, raw events; an unused
# slot is the empty range [epoch, epoch).
_PARTS = [
    ("usage_event", "timestamp", None, "raw1"),
    ("usage_bucket", "bucket_start", QUARTER, "q1"),
    ("usage_bucket", "bucket_start", DAY, "day"),
    ("usage_bucket", "bucket_start", QUARTER, "q2"),
    ("usage_event", "timestamp", None, "raw2"),
]
_PARTIAL_SUMS = " UNION ALL ".join(
    f"SELECT feature_key, quantity FROM {table} WHERE tenant_id = :tenant_id"  # noqa: S608 - fixed names
    + (f" AND grain_seconds = {grain}" if grain else "")
    + f" AND {column} >= :{slot}_start AND {column} < :{slot}_end"
    for table, column, grain, slot in _PARTS
)
_TOTALS = f"""
    SELECT feature.feature_key, feature.unit, COALESCE(SUM(part.quantity), 0) AS quantity
    FROM feature LEFT OUTER JOIN ({_PARTIAL_SUMS}) AS part ON part.feature_key = feature.feature_key
    {{where}}
    GROUP BY feature.feature_key, feature.unit
    ORDER BY feature.feature_key
"""  # noqa: S608 - fixed names only
_TYPES: list[BindParameter[Any]] = [
    bindparam("tenant_id", type_=Uuid()),
    *(bindparam(f"{slot}_{edge}", type_=DateTimeUTC()) for *_, slot in _PARTS for edge in ("start", "end")),
]
TOTALS_SQL = text(_TOTALS.format(where="")).bindparams(*_TYPES)
TOTALS_OF_FEATURES_SQL = text(_TOTALS.format(where="WHERE feature.feature_key IN :features")).bindparams(
    *_TYPES, bindparam("features", expanding=True)
)
_NOWHERE = datetime(2000, 1, 1, tzinfo=UTC)


def _range_slots(ranges: Sequence[Range]) -> dict[str, datetime]:
    """Bind ``ranges`` (as ``decompose`` returns them, in time order) to the five slots of the totals SQL."""
    free = {0: ["raw1", "raw2"], QUARTER: ["q1", "q2"], DAY: ["day"]}
    bound = {f"{slot}_{edge}": _NOWHERE for *_, slot in _PARTS for edge in ("start", "end")}
    for r in ranges:
        slot = free[r.grain_seconds].pop(0)
        bound[f"{slot}_start"], bound[f"{slot}_end"] = r.start, r.end
    return bound


def _wanted(feature_keys: Sequence[str] | None) -> list[str] | None:
    """The requested feature keys without repeats (``None``: every feature), at most MAX_FEATURE_KEYS."""
    if feature_keys is None:
        return None
    wanted = list(dict.fromkeys(feature_keys))
    if len(wanted) > MAX_FEATURE_KEYS:
        raise InvalidInput.field("feature_keys", f"at most {MAX_FEATURE_KEYS} keys, got {len(wanted)}")
    return wanted


def _content(row: Any) -> tuple[str, int, datetime]:
    return row.feature_key, row.quantity, row.timestamp
