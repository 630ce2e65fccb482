"""The interface every database's dialect fills in, and what the dialects share."""

from __future__ import annotations

import os
from collections.abc import Collection, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import datetime
from typing import Any, ClassVar, NamedTuple
from uuid import UUID

from sqlalchemy import TextClause, TextualSelect
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import URL, Engine
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_scoped_session,
)
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table

from tally.metering.buckets import DIMENSION_BUCKETS, USAGE_BUCKETS, BucketTable, Cell, bucket_cells, dimension_cells
from tally.metering.events import NewEvent


class LostConnection(ConnectionError):
    """A pooled connection turned out to be dead under a statement (it was dropped from the pool): a 503."""


Session = AsyncSession | async_scoped_session[AsyncSession]
"""A session as repositories hold it (advanced-alchemy accepts a scoped one too)."""

Reads = Session | AsyncConnection
"""What a read of plain statements runs on: a session, or, for the hot reads (totals, the entitlement check), the
request's one pooled connection with no session around it (see ``tally.usage.reading``)."""


def engine_of(reads: Reads) -> Engine:
    """The engine behind ``reads`` (a session's bind may be a connection: its engine then)."""
    if isinstance(reads, AsyncConnection):
        return reads.sync_engine
    bind = reads.get_bind()
    return bind if isinstance(bind, Engine) else bind.engine


class RecordTables(NamedTuple):
    """The tables a batch of events is recorded in."""

    events: Table
    usage_buckets: Table
    dimension_buckets: Table


class Dialect:
    """What one database does its own way. Subclasses fill in every method."""

    name: ClassVar[str]
    byte_order: ClassVar[str] = ""
    """Appended to an ORDER BY term so strings sort by code point, as Python sorts them."""
    expands_lists: ClassVar[bool] = True
    """A list parameter is bound as one parameter per item (``IN (...)``), else as one array (``= ANY(...)``)."""
    default_rate_limit_store: ClassVar[str] = "database"
    """Where rate limits are counted unless ``TALLY_RATE_LIMIT_STORE`` says: shared in the database, or per process."""
    has_standbys: ClassVar[bool] = False
    """It can stream to a standby that serves reads (``TALLY_DATABASE_READ_URL``, see ``tally.db.replica``)."""
    notifies: ClassVar[bool] = False
    """Other processes can hear of a change (LISTEN/NOTIFY): plan terms are cached per process (``tally.db.terms``)."""

    def create_engine(self, url: str, *, pool_size: int, timeout: float) -> AsyncEngine:
        """The engine of ``url``: ``pool_size`` connections kept (where pooling applies), ``timeout`` seconds to
        connect, to wait for a pooled connection, or (SQLite) for another process's write lock."""
        raise NotImplementedError

    def connect(self, engine: AsyncEngine) -> AbstractAsyncContextManager[AsyncConnection]:
        """One pooled connection of ``engine`` for a read, given back on exit: ``engine.connect()``."""
        return engine.connect()

    async def connect_alone(self, url: URL, *, connect_seconds: float) -> Any:
        """A driver connection of its own, outside the pool, for as long as the process listens (``notifies``)."""
        raise NotImplementedError

    async def begin_write(self, session: Session) -> None:
        """Make ``session``'s next statement start a transaction fit for writing (call it before any other)."""
        raise NotImplementedError

    async def lock_catalog(self, session: Session, *, exclusive: bool) -> None:
        """Order a catalog change that gives a feature its first dimensions against ingestion and voids (see
        ``CatalogService``). Writers take it shared before they read the catalog, the change exclusively."""
        raise NotImplementedError

    async def lock_limits(self, session: Session, keys: Sequence[str]) -> None:
        """Serialise the writers of each hard limit's (tenant, feature, period) named by ``keys`` until the
        transaction ends, so that each one reads the period's usage only after the previous one committed."""
        raise NotImplementedError

    async def lock_periods(self, session: Session, tenant_id: UUID, *, exclusive: bool) -> None:
        """Order a tenant's period close against its writers until the transaction ends: writers (ingestion, voids)
        take it shared before they read which periods are closed, the close exclusively before it reads totals."""
        raise NotImplementedError

    async def insert_events(
        self, session: Session, table: Table, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime
    ) -> set[str]:
        """Insert the events whose keys are new (ON CONFLICT DO NOTHING) and return those keys."""
        raise NotImplementedError

    async def record_events(
        self,
        session: Session,
        tables: RecordTables,
        tenant_id: UUID,
        events: Sequence[NewEvent],
        recorded_at: datetime,
        dimension_features: Collection[str],
    ) -> set[str]:
        """Insert the events whose keys are new and add those to ``usage_bucket`` at every grain, and those of
        ``dimension_features`` to ``usage_dimension_bucket``; return the new keys. Here: the insert, then the cells
        folded in Python, one upsert per table (in key order, so concurrent batches lock rows alike)."""
        inserted = await self.insert_events(session, tables.events, tenant_id, events, recorded_at)
        new = [e for e in events if e.idempotency_key in inserted]
        for target, table, cells in (
            (tables.usage_buckets, USAGE_BUCKETS, bucket_cells(new)),
            (
                tables.dimension_buckets,
                DIMENSION_BUCKETS,
                dimension_cells(e for e in new if e.feature_key in dimension_features),
            ),
        ):
            if cells:
                await self.upsert_cells(session, target, table, tenant_id, cells)
        return inserted

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert:
        """INSERT … ON CONFLICT (``keys``) DO NOTHING: rows whose key exists (or is being inserted by a concurrent
        transaction, which it waits for) are skipped; add ``.returning`` to learn which were new."""
        raise NotImplementedError

    async def upsert_cells(
        self, session: Session, target: Table, table: BucketTable, tenant_id: UUID, cells: list[Cell]
    ) -> None:
        """Add each cell's state to its row of ``table`` (``target`` is its SQLAlchemy table), inserting the rows
        that do not exist yet."""
        raise NotImplementedError

    def json_value(self, column: str, key: str) -> str:
        """SQL for the text value of ``key`` in a JSON object column (NULL where it is missing). ``key`` is
        written into the text: callers pass only keys that matched DIMENSION_KEY_PATTERN."""
        raise NotImplementedError

    def in_list(self, parameter: str) -> str:
        """SQL for "is one of the list parameter's values", after the compared expression."""
        return f"IN :{parameter}"

    async def fetch_rows(
        self, session: Reads, statement: TextClause | TextualSelect, params: dict[str, Any]
    ) -> Sequence[Any]:
        """Every row of a hot read (a text statement, its columns typed or not), its columns read by position."""
        return (await session.execute(statement, params)).all()

    async def write_returning(
        self, engine: AsyncEngine, statement: TextClause, params: dict[str, Any]
    ) -> Sequence[Any]:
        """One writing statement in a transaction of its own, committed, and the rows it returns (a rate limit's
        counter: no session, no ORM, one round trip where the database allows)."""
        async with engine.connect() as connection:
            connection = await connection.execution_options(tally_write=True)
            async with connection.begin():
                return (await connection.execute(statement, params)).all()

    def missing_database(self, url: URL) -> str | None:
        """One line when connecting to ``url`` would create an empty database instead of finding one."""
        return None

    def default_workers(self) -> int:
        """``tally serve``'s worker processes without ``--workers``: one per CPU core this process may run on (a
        request is CPU-bound in its worker)."""
        usable = getattr(os, "sched_getaffinity", None)  # Linux; elsewhere every core counts
        return len(usable(0)) if usable else os.cpu_count() or 1

    def transient(self, exc: BaseException) -> bool:
        """The database cannot serve us right now (answer 503 and retry later), rather than a bug (500)."""
        return isinstance(exc, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError))
