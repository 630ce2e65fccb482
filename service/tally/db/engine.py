"""The async engine, tuned per dialect, and how a session asks for a write transaction.

On PostgreSQL the engine runs in autocommit: a read is one statement and needs no BEGIN/ROLLBACK (the
pool's pre-ping, too, is then one round trip instead of three). A session that writes calls
``begin_write`` first and gets a READ COMMITTED transaction, committed or rolled back as a whole.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from tally.config import Settings


async def begin_write(session: AsyncSession) -> None:
    """Make ``session``'s next statement start a transaction fit for writing (call it before any other)."""
    if session.get_bind().dialect.name == "postgresql":
        await session.connection(execution_options={"isolation_level": "READ COMMITTED"})
    else:
        await session.connection(execution_options={"tally_write": True})  # BEGIN IMMEDIATE, see below


# Any constant of our own; PostgreSQL advisory locks are numbered per database.
DIMENSIONS_LOCK = 0x74616C6C7964696D  # "tallydim"


async def lock_dimensions(session: AsyncSession, *, exclusive: bool) -> None:
    """Order a catalog change that gives a feature its first dimensions against ingestion and voids.

    A feature's events are written to ``usage_dimension_bucket`` once it declares dimensions; the change
    copies its older buckets there in the same transaction. Writers take the lock shared before they read
    the catalog, the change takes it exclusively: it waits for the writers that read the old catalog to
    commit (their buckets are then copied), and later writers read the new catalog. No-op on SQLite, where
    one writer at a time runs anyway. A separate statement: one that took the lock and read the catalog
    at once would read with a snapshot taken before the wait.
    """
    if session.get_bind().dialect.name == "postgresql":
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await session.execute(text(f"SELECT {function}(:key)"), {"key": DIMENSIONS_LOCK})


def create_engine(settings: Settings) -> AsyncEngine:
    url = settings.database_url
    if url.startswith("sqlite"):
        return _sqlite_engine(url, settings)
    return create_async_engine(
        url,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_timeout_seconds,
        pool_pre_ping=True,
        isolation_level="AUTOCOMMIT",
        connect_args={"timeout": settings.db_timeout_seconds},
    )


def _sqlite_engine(url: str, settings: Settings) -> AsyncEngine:
    busy_ms = int(settings.db_timeout_seconds * 1000)
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
