"""The repositories on both databases, below HTTP: exactly-once inserts, bucket upserts and rebuilds, and the
totals reads agree with the events they were given."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from tally.db.engine import create_engine
from tally.db.models import FeatureRecord, UsageBucketRecord, UsageDimensionBucketRecord
from tally.db.repositories import BucketRepository, FeatureRepository, TotalsRepository, UsageEventRepository
from tally.db.transaction import Transaction
from tally.domain.catalog import Aggregation
from tally.metering.aggregations import COLUMN_NAMES, value
from tally.metering.buckets import DIMENSION_BUCKETS, USAGE_BUCKETS, bucket_cells, decompose, dimension_cells
from tally.metering.events import NewEvent, dimension_set
from tally.metering.periods import as_utc
from tests.conftest import clear

pytestmark = pytest.mark.anyio
T0 = datetime(2026, 11, 2, 10, tzinfo=UTC)


@pytest.fixture
async def session(database_url: str) -> AsyncIterator[AsyncSession]:
    await clear(database_url)
    engine = create_engine(database_url)
    try:
        async with async_sessionmaker(engine, expire_on_commit=False)() as session:
            yield session
    finally:
        await engine.dispose()


def new_event(index: int, key: str, quantity: int, at: datetime, feature_key: str = "f") -> NewEvent:
    return NewEvent(index, key, feature_key, quantity, at, True, T0, {}, "{}")


async def add_feature(session: AsyncSession, key: str, aggregation: Aggregation = Aggregation.SUM) -> None:
    now = datetime.now(UTC)
    record = FeatureRecord(
        feature_key=key, unit="u", aggregation=aggregation, dimensions=[], created_at=now, updated_at=now
    )
    await FeatureRepository(session=session).add(record)


async def test_insert_new_skips_known_keys_and_keeps_their_content(session: AsyncSession) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    events = UsageEventRepository(session=session)
    transaction = Transaction(session)
    await transaction.begin_write()
    first = [new_event(0, "a", 1, T0), new_event(1, "b", 2, T0)]
    assert await events.insert_new(tenant, first, T0) == {"a", "b"}
    assert await events.insert_new(tenant, [new_event(0, "b", 5, T0), new_event(1, "c", 3, T0)], T0) == {"c"}
    assert await events.insert_new(other, first, T0) == {"a", "b"}  # keys are per tenant
    await transaction.commit()
    stored = await events.stored_content(tenant, ["a", "b", "c", "missing"])
    assert stored == {"a": ("f", 1, T0, {}), "b": ("f", 2, T0, {}), "c": ("f", 3, T0, {})}


async def test_buckets_and_totals_agree_with_the_events_and_a_rebuild(session: AsyncSession) -> None:
    tenant = uuid.uuid4()
    stored = [new_event(i, f"k{i}", q, T0 + timedelta(minutes=7 * i)) for i, q in enumerate([5, 3, 8, 3, 9])]
    transaction = Transaction(session)
    await transaction.begin_write()  # first: on a session that already holds a connection it could not begin one
    await add_feature(session, "f", Aggregation.MIN)
    await add_feature(session, "g")
    events, buckets = UsageEventRepository(session=session), BucketRepository(session=session)
    await events.insert_new(tenant, stored, T0)
    await buckets.add_cells(tenant, USAGE_BUCKETS, bucket_cells(stored))
    await buckets.add_cells(tenant, USAGE_BUCKETS, bucket_cells(stored[:1]))  # upserts add up
    await transaction.commit()

    totals = TotalsRepository(session=session)
    # [10:07, 12:01): raw events up to 10:15, quarter buckets to 11:00, an hour bucket, a raw minute.
    ragged = decompose(T0 + timedelta(minutes=7), T0 + timedelta(hours=2, minutes=1))
    assert [r.grain_seconds for r in ragged] == [0, 900, 3600, 0]
    rows = {row.feature_key: row for row in await totals.one_window(tenant, None, ragged, USAGE_BUCKETS)}
    assert list(rows) == ["f", "g"]
    assert rows["g"].state is None  # a feature without usage still comes out, empty
    state = rows["f"].state
    assert state is not None
    # k1 (10:07) and k2 (10:14) from raw events, k3 and k4 from buckets; k0 (10:00) lies before the window.
    assert (state.quantity, state.event_count, state.min_quantity, state.max_quantity) == (3 + 8 + 3 + 9, 4, 3, 9)

    await transaction.rollback()  # ends the reads above: the write begins a transaction of its own
    await transaction.begin_write()
    record = await events.get_for_update(tenant, "k1")
    assert record is not None
    await events.mark_voided(record, at=T0, by="test", reason="test")
    await buckets.rebuild(tenant, record, USAGE_BUCKETS)
    await transaction.commit()
    day = decompose(T0.replace(hour=0), T0.replace(hour=0) + timedelta(days=1))
    (row,) = await totals.one_window(tenant, ["f"], day, USAGE_BUCKETS)
    # The rebuilt rows hold the remaining events only (the double-added k0 is counted once again).
    assert value(Aggregation.MIN, row.state) == 3
    assert value(Aggregation.SUM, row.state) == 5 + 8 + 3 + 9


async def test_features_sort_by_code_point(session: AsyncSession) -> None:
    for key in ("a_b", "a.b", "a-b", "ab"):
        await add_feature(session, key)
    await session.commit()
    keys = [f.feature_key for f in await FeatureRepository(session=session).features()]
    assert keys == sorted(keys) == ["a-b", "a.b", "a_b", "ab"]
    assert dimension_set({"b": "2", "a": "1"}) == '{"a":"1","b":"2"}'


async def test_recorded_buckets_are_the_cells_folded_in_python(session: AsyncSession) -> None:
    """record_new (on PostgreSQL one statement that aggregates in SQL and makes the latest keys) writes exactly the
    rows that folding the new events' cells in Python gives, at every grain of both tables, month and day edges
    included; duplicates add nothing, and a second batch adds to the rows."""
    tenant = uuid.uuid4()
    edges = [datetime(2026, 1, 31, 23, 59, 59, 999999, tzinfo=UTC), datetime(2026, 2, 1, tzinfo=UTC)]
    at = [*edges, T0, T0 + timedelta(minutes=14, seconds=59), T0 + timedelta(minutes=15), T0 + timedelta(days=40)]
    at.append(datetime(5, 3, 4, 5, 6, 7, tzinfo=UTC))  # a year of one digit: the latest key still has four
    at.append(datetime(1, 1, 1, tzinfo=UTC))  # the first instant, which asyncpg binds as -infinity
    sets = [{}, {"model": "a"}, {"model": "b", "region": "eu"}]
    stored = [
        NewEvent(i, f"k{i}", feature, q, t, True, T0, dims, dimension_set(dims))
        for i, (feature, q, t, dims) in enumerate(
            (feature, q, t, dims)
            for feature in ("f", "g")
            for q, t in zip([7, 0, 5, 3, 9, 2, 12345, 4], at, strict=True)
            for dims in sets
        )
    ]
    transaction = Transaction(session)
    events = UsageEventRepository(session=session)
    await transaction.begin_write()
    assert await events.record_new(tenant, stored[:20], T0, {"g"}) == {f"k{i}" for i in range(20)}
    later = [*stored[10:20], *stored[20:]]  # ten duplicates, the rest new
    assert await events.record_new(tenant, later, T0, {"g"}) == {e.idempotency_key for e in stored[20:]}
    await transaction.commit()

    def cells(table: str) -> list[tuple[object, ...]]:
        new = stored if table == "usage_bucket" else [e for e in stored if e.feature_key == "g"]
        folded = bucket_cells(new) if table == "usage_bucket" else dimension_cells(new)
        return sorted((*key, *state) for key, state in folded)

    for record in (UsageBucketRecord, UsageDimensionBucketRecord):
        table = record.__tablename__
        keys = USAGE_BUCKETS.keys if record is UsageBucketRecord else DIMENSION_BUCKETS.keys
        columns = [getattr(record, name) for name in (*keys, *COLUMN_NAMES)]
        rows = await session.execute(select(*columns).where(record.tenant_id == tenant))
        found = sorted(
            tuple(dimension_set(v) if isinstance(v, dict) else as_utc(v) if isinstance(v, datetime) else v for v in row)
            for row in rows
        )
        assert found == cells(table), table
