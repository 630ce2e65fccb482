"""SQLite through aiosqlite: the embedded default. One writer at a time (``BEGIN IMMEDIATE`` in WAL mode), so its
locks are no-ops and its writers queue in each process."""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

from sqlalchemy import event, func
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import URL, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table

from tally.db.dialects.base import Dialect, Session
from tally.metering.aggregations import COLUMNS, Combine
from tally.metering.buckets import BucketTable, Cell
from tally.metering.events import NewEvent

WRITER = "tally_writer"  # a connection's info key: the process's writer lock it holds


class SQLiteDialect(Dialect):
    name = "sqlite"
    default_rate_limit_store = "process"  # a counted read would be a write: every reader behind the one write lock

    def __init__(self) -> None:
        self._writers: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()

    def create_engine(self, url: str, *, pool_size: int, timeout: float) -> AsyncEngine:
        busy_ms = int(timeout * 1000)
        engine = create_async_engine(url)

        @event.listens_for(engine.sync_engine, "connect")
        def _on_connect(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
            # Let SQLAlchemy, not the sqlite3 module, emit BEGIN, so the begin hook below decides its kind.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.close()

        @event.listens_for(engine.sync_engine, "begin")
        def _on_begin(connection: Any) -> None:
            # A deferred transaction that later writes fails at once with "database is locked" when another
            # writer holds the lock; BEGIN IMMEDIATE takes the write lock up front and waits busy_timeout.
            immediate = connection.get_execution_options().get("tally_write", False)
            connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

        return engine

    def _queue_writers(self, engine: Engine) -> asyncio.Lock:
        """The writer lock of ``engine`` (any engine of a SQLite URL, made here or not), released when a connection
        that holds it goes back to the pool: after its transaction's COMMIT or ROLLBACK, or its loss."""
        writers = self._writers[engine] = asyncio.Lock()

        @event.listens_for(engine, "checkin")
        def _on_checkin(_: DBAPIConnection, record: ConnectionPoolEntry) -> None:
            writer: asyncio.Lock | None = record.info.pop(WRITER, None)
            if writer is not None:
                writer.release()

        return writers

    def default_workers(self) -> int:
        """One: SQLite runs one writer at a time, so a second worker mostly waits for the lock."""
        return 1

    async def begin_write(self, session: Session) -> None:
        # The process's writers queue here, in order of arrival, before they take a connection: SQLite's busy
        # handler lets waiting writers poll for the one write lock, which is not fair (under 32 concurrent
        # batches one waited out the busy timeout while later ones went ahead), and each waiting writer held a
        # pooled connection. The busy timeout now only orders the writers of other processes. The lock is released
        # when the connection goes back to the pool, after the transaction's COMMIT or ROLLBACK.
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        writers = self._writers.get(engine.sync_engine) or self._queue_writers(engine.sync_engine)
        await writers.acquire()
        try:
            connection = await session.connection(execution_options={"tally_write": True})  # BEGIN IMMEDIATE
        except BaseException:
            writers.release()
            raise
        connection.info[WRITER] = writers

    async def lock_catalog(self, session: Session, *, exclusive: bool) -> None:
        """Nothing to do: SQLite runs one writer at a time (BEGIN IMMEDIATE)."""

    async def lock_limits(self, session: Session, keys: Sequence[str]) -> None:
        """Nothing to do: SQLite runs one writer at a time (BEGIN IMMEDIATE)."""

    async def lock_periods(self, session: Session, tenant_id: UUID, *, exclusive: bool) -> None:
        """Nothing to do: SQLite runs one writer at a time (BEGIN IMMEDIATE)."""

    async def insert_events(
        self, session: Session, table: Table, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime
    ) -> set[str]:
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
                "recorded_at": recorded_at,
                "batch_index": e.index,
                "latest_key": e.latest_key,
                "dimensions": e.dimensions or None,
            }
            for e in events
        ]
        return set((await session.scalars(stmt, rows)).all())

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert:
        return sqlite.insert(table).on_conflict_do_nothing(index_elements=list(keys))

    async def upsert_cells(
        self, session: Session, target: Table, table: BucketTable, tenant_id: UUID, cells: list[Cell]
    ) -> None:
        insert = sqlite.insert(target)
        # SQLite's two-argument max() and min() are scalar functions: the pairwise GREATEST and LEAST.
        pairwise: dict[Combine, Callable[[Any, Any], Any]] = {
            Combine.ADD: lambda a, b: a + b,
            Combine.GREATEST: func.max,
            Combine.LEAST: func.min,
        }
        stmt = insert.on_conflict_do_update(
            index_elements=list(target.primary_key.columns),
            set_={c.name: pairwise[c.combine](target.c[c.name], insert.excluded[c.name]) for c in COLUMNS},
        )
        names = ("tenant_id", *table.keys, *(c.name for c in COLUMNS))
        await session.execute(stmt, [dict(zip(names, (tenant_id, *key, *state), strict=True)) for key, state in cells])

    def json_value(self, column: str, key: str) -> str:
        return f"json_extract({column}, '$.{key}')"

    def missing_database(self, url: URL) -> str | None:
        path = url.database
        if not path or path == ":memory:" or Path(path).exists():
            return None
        return f"the database file {path} does not exist: check TALLY_DATABASE_URL, or run `tally migrate` to create it"
