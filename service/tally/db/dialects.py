"""Everything that differs between the databases Tally runs on, in one place.

One ``Dialect`` per database: how its engine is made, how a write transaction starts, the catalog lock,
the batch insert that reports new rows, the bucket upsert, reading a value out of a JSON column, byte-order
sorting, column types, and which errors mean "not now" (a 503) rather than "never". It is chosen once, from
the URL when the engine is made (``for_url``) and from the session's engine in a repository's constructor
(``of``); nothing else in the code asks which database it talks to.

A third database is one more subclass here plus its entry in ``DIALECTS`` (and its driver in pyproject.toml,
its migrations checked, its tests): see docs/architecture.md.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import weakref
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast
from uuid import UUID

import asyncpg
import msgspec
from sqlalchemy import Dialect as SQLAlchemyDialect
from sqlalchemy import String, Text, TextClause, TypeDecorator, event, func, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import URL, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import (
    AsyncConnection,
    AsyncEngine,
    AsyncSession,
    async_scoped_session,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table
from sqlalchemy.types import TypeEngine

from tally.domain.models import NewEvent
from tally.usage.aggregations import COLUMNS, Combine
from tally.usage.buckets import BucketTable, Cell

if TYPE_CHECKING:
    from tally.config import Settings

# Any constant of our own; PostgreSQL advisory locks are numbered per database.
CATALOG_LOCK = 0x74616C6C7964696D  # "tallydim"
WRITER = "tally_writer"  # a SQLite connection's info key: the process's writer lock it holds


def limit_lock_number(key: str) -> int:
    """A signed 64-bit advisory lock number for ``key`` (a hard limit's tenant, feature and period)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


# PostgreSQL error classes that mean "not now" rather than "never": 08 connection exception, 53 insufficient
# resources (53300 too many connections), 57 operator intervention (57P01 admin shutdown, which
# pg_terminate_backend causes; 57P03 cannot connect now, while the server starts or stops).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
_NAMED = re.compile(r"(?<![:\w]):(\w+)")  # a ``:name`` parameter of a text() statement (not a ``::`` cast)


class LostConnection(ConnectionError):
    """A pooled connection turned out to be dead under a statement (it was dropped from the pool): a 503."""


Session = AsyncSession | async_scoped_session[AsyncSession]
"""A session as repositories hold it (advanced-alchemy accepts a scoped one too)."""


def dimension_set(dimensions: dict[str, str]) -> str:
    """The canonical text of a set of dimensions (keys sorted, no spaces): equal sets, equal text."""
    return msgspec.json.encode(dict(sorted(dimensions.items()))).decode() if dimensions else "{}"


class Dialect:
    """What one database does its own way. Subclasses fill in every method."""

    name: ClassVar[str]
    url_prefix: ClassVar[str]
    byte_order: ClassVar[str] = ""
    """Appended to an ORDER BY term so strings sort by code point, as Python sorts them."""
    binds_json_objects: ClassVar[bool] = False
    """Its driver takes a JSON column's value as an object (else as text)."""
    expands_lists: ClassVar[bool] = True
    """A list parameter is bound as one parameter per item (``IN (...)``), else as one array (``= ANY(...)``)."""
    default_rate_limit_store: ClassVar[str] = "database"
    """Where rate limits are counted unless ``TALLY_RATE_LIMIT_STORE`` says: shared in the database, or per process."""
    has_standbys: ClassVar[bool] = False
    """It can stream to a standby that serves reads (``TALLY_DATABASE_READ_URL``, see ``tally.db.replica``)."""

    def create_engine(self, settings: Settings) -> AsyncEngine:
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

    async def insert_events(
        self, session: Session, table: Table, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime
    ) -> set[str]:
        """Insert the events whose keys are new (ON CONFLICT DO NOTHING) and return those keys."""
        raise NotImplementedError

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert:
        """INSERT … ON CONFLICT (``keys``) DO NOTHING: rows whose key exists (or is being inserted by a concurrent
        transaction, which it waits for) are skipped; add ``.returning`` to learn which were new."""
        raise NotImplementedError

    async def upsert_cells(self, session: Session, table: BucketTable, tenant_id: UUID, cells: list[Cell]) -> None:
        """Add each cell's state to its row of ``table``, inserting the rows that do not exist yet."""
        raise NotImplementedError

    def json_value(self, column: str, key: str) -> str:
        """SQL for the text value of ``key`` in a JSON object column (NULL where it is missing). ``key`` is
        written into the text: callers pass only keys that matched DIMENSION_KEY_PATTERN."""
        raise NotImplementedError

    def in_list(self, parameter: str) -> str:
        """SQL for "is one of the list parameter's values", after the compared expression."""
        return f"IN :{parameter}"

    async def fetch_rows(self, session: Session, statement: TextClause, params: dict[str, Any]) -> Sequence[Any]:
        """Every row of a hot read: a statement of the totals repository, its columns read by position."""
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

    def latest_key_type(self) -> TypeEngine[str]:
        """The type of ``latest_key`` columns: compared byte-wise, whatever the database's locale."""
        raise NotImplementedError

    def dimensions_type(self) -> TypeEngine[Any]:
        raise NotImplementedError

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


class SQLiteDialect(Dialect):
    name = "sqlite"
    url_prefix = "sqlite+aiosqlite://"
    default_rate_limit_store = "process"  # a counted read would be a write: every reader behind the one write lock

    def __init__(self) -> None:
        self._writers: weakref.WeakKeyDictionary[Engine, asyncio.Lock] = weakref.WeakKeyDictionary()

    def create_engine(self, settings: Settings) -> AsyncEngine:
        busy_ms = int(settings.db_timeout_seconds * 1000)
        engine = create_async_engine(settings.database_url)

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

        @event.listens_for(engine.sync_engine, "checkin")
        def _on_checkin(_: DBAPIConnection, record: ConnectionPoolEntry) -> None:
            writer: asyncio.Lock | None = record.info.pop(WRITER, None)
            if writer is not None:  # the write transaction ended (committed, rolled back, or its connection lost)
                writer.release()

        self._writers[engine.sync_engine] = asyncio.Lock()
        return engine

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
        writers = self._writers[engine.sync_engine]
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

    async def upsert_cells(self, session: Session, table: BucketTable, tenant_id: UUID, cells: list[Cell]) -> None:
        from tally.db.models import Base  # the tables; models import this module for their column types

        target = Base.metadata.tables[table.name]
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

    def latest_key_type(self) -> TypeEngine[str]:
        return String(80)  # SQLite compares text byte-wise (BINARY) by default

    def dimensions_type(self) -> TypeEngine[Any]:
        return Text()


# A unique key plus ON CONFLICT DO NOTHING is what makes ingestion exactly-once: a concurrent transaction
# inserting the same key waits for ours and then skips the row; RETURNING says which rows are new. On PostgreSQL
# the statements are written by hand over unnest() of one array per column: asyncpg encodes each array in C,
# where SQLAlchemy would bind 8,000 parameters one by one (a batch took about 3x longer that way).
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
# The volatile lock function runs after the ORDER BY (PostgreSQL evaluates a SELECT list after sorting).
PG_LOCK_LIMITS = text("""
    SELECT pg_advisory_xact_lock(n) FROM unnest(CAST(:numbers AS bigint[])) AS locks(n) ORDER BY n
""")
KEY_TYPES = {"grain_seconds": "integer", "bucket_start": "timestamptz", "feature_key": "text", "dimension_set": "jsonb"}
PG_PAIRWISE = {Combine.ADD: "{0} + {1}", Combine.GREATEST: "GREATEST({0}, {1})", Combine.LEAST: "LEAST({0}, {1})"}


def _pg_upsert(table: BucketTable) -> TextClause:
    """Add cells to the rows of a bucket table: one array per column, inserted or combined with the existing
    row column by column (``COLUMNS``). A jsonb column travels as text."""
    columns = {**{key: KEY_TYPES[key] for key in table.keys}, **{c.name: c.sql_type for c in COLUMNS}}
    names = ", ".join(columns)
    arrays = ", ".join(f"CAST(:{name} AS {'text' if kind == 'jsonb' else kind}[])" for name, kind in columns.items())
    values = ", ".join(f"CAST({name} AS jsonb)" if kind == "jsonb" else name for name, kind in columns.items())
    combined = ", ".join(
        f"{c.name} = {PG_PAIRWISE[c.combine].format(f'{table.name}.{c.name}', f'excluded.{c.name}')}" for c in COLUMNS
    )
    return text(f"""
        INSERT INTO {table.name} (tenant_id, {names})
        SELECT :tenant_id, {values} FROM unnest({arrays}) AS cells({names})
        ON CONFLICT (tenant_id, {", ".join(table.keys)}) DO UPDATE SET {combined}
    """)  # noqa: S608 - no input in the text


class PostgreSQLDialect(Dialect):
    name = "postgresql"
    url_prefix = "postgresql+asyncpg://"
    byte_order = ' COLLATE "C"'
    binds_json_objects = True
    expands_lists = False  # one array parameter: the statement's text, and its prepared plan, fit every list
    has_standbys = True

    def __init__(self) -> None:
        self._upserts: dict[str, TextClause] = {}
        self._positional: dict[str, tuple[str, tuple[str, ...]]] = {}

    def create_engine(self, settings: Settings) -> AsyncEngine:
        # Autocommit: a read is one statement and needs no BEGIN/ROLLBACK. A session that writes calls begin_write
        # first.
        engine = create_async_engine(
            settings.database_url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_pool_size,
            pool_timeout=settings.db_timeout_seconds,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": settings.db_timeout_seconds},
        )

        # Instead of pool_pre_ping, which is a round trip on every checkout: a backend that was terminated, or a
        # server that went away, closes the socket, and asyncpg marks the connection closed as soon as the event
        # loop sees it. A closed one is refused at checkout, and the pool replaces it with a new connection once
        # (a failure to connect then is a 503). A connection that dies unseen fails its first statement: a 503.
        @event.listens_for(engine.sync_engine, "checkout")
        def _refuse_closed(_: DBAPIConnection, record: ConnectionPoolEntry, __: Any) -> None:
            if record.driver_connection is None or record.driver_connection.is_closed():
                raise sa_exc.DisconnectionError("the pooled connection was closed")

        return engine

    async def begin_write(self, session: Session) -> None:
        await session.connection(execution_options={"isolation_level": "READ COMMITTED"})

    async def lock_catalog(self, session: Session, *, exclusive: bool) -> None:
        # A statement of its own: one that took the lock and read the catalog at once would read with a
        # snapshot taken before the wait.
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await session.execute(text(f"SELECT {function}(:key)"), {"key": CATALOG_LOCK})

    async def lock_limits(self, session: Session, keys: Sequence[str]) -> None:
        # One transaction-scoped advisory lock per key, numbered by a hash every process computes alike, taken in
        # ascending order in one statement (so two batches needing the same locks cannot deadlock). A collision
        # of two keys only makes their writers wait for each other. A statement of its own, as for the catalog.
        numbers = sorted({limit_lock_number(key) for key in keys})
        await session.execute(PG_LOCK_LIMITS, {"numbers": numbers})

    async def insert_events(
        self, session: Session, table: Table, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime
    ) -> set[str]:
        result = await session.execute(
            PG_INSERT_EVENTS,
            {
                "tenant_id": tenant_id,
                "recorded_at": recorded_at,
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

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert:
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))

    async def upsert_cells(self, session: Session, table: BucketTable, tenant_id: UUID, cells: list[Cell]) -> None:
        statement = self._upserts.get(table.name)
        if statement is None:
            statement = self._upserts[table.name] = _pg_upsert(table)
        params: dict[str, Any] = {"tenant_id": tenant_id}
        for i, name in enumerate(table.keys):
            params[name] = [key[i] for key, _ in cells]
        for j, column in enumerate(COLUMNS):
            params[column.name] = [state[j] for _, state in cells]
        await session.execute(statement, params)

    def json_value(self, column: str, key: str) -> str:
        return f"({column} ->> '{key}')"

    def in_list(self, parameter: str) -> str:
        return f"= ANY(:{parameter})"

    async def fetch_rows(self, session: Session, statement: TextClause, params: dict[str, Any]) -> Sequence[Any]:
        engine = session.bind
        assert isinstance(engine, AsyncEngine)
        if engine.sync_engine.dispatch.before_cursor_execute:  # something traces the statements: let it see this one
            return await super().fetch_rows(session, statement, params)
        # It is the session's own connection, never a second one from the pool: inside a write transaction the read
        # belongs to that transaction, and a request that held one pooled connection while it waited for another
        # starved every request once the pool was spent (each waited for a connection only another one held).
        # A read that is the session's first statement has no transaction to lose: it is tried once more on a new
        # connection when the pooled one turns out dead.
        retry = isinstance(session, AsyncSession) and not session.in_transaction()
        for attempt in (1, 2):
            try:
                return await self._fetch(await session.connection(), statement, params)
            except LostConnection:
                if attempt == 2 or not retry:
                    raise
                await session.rollback()  # lets the dead connection go; the next statement checks out another
        raise AssertionError("unreachable")

    async def write_returning(
        self, engine: AsyncEngine, statement: TextClause, params: dict[str, Any]
    ) -> Sequence[Any]:
        # The engine is in autocommit: one statement commits by itself. Called outside any request's session (a
        # rate limit's counter, before the handler runs), so its one connection is back in the pool before the
        # request takes its own.
        if engine.sync_engine.dispatch.before_cursor_execute:
            return await super().write_returning(engine, statement, params)
        for attempt in (1, 2):
            try:
                async with engine.connect() as connection:
                    return await self._fetch(connection, statement, params)
            except LostConnection:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _fetch(self, connection: AsyncConnection, statement: TextClause, params: dict[str, Any]) -> Sequence[Any]:
        # On asyncpg's own connection under SQLAlchemy's: the session's execute() (its result objects, a greenlet hop
        # per call) cost a totals read more CPU than everything else it does. asyncpg prepares each text once per
        # connection (its statement cache).
        sql, names = self._as_positional(statement.text)
        pooled = await connection.get_raw_connection()
        driver = pooled.driver_connection
        assert driver is not None
        try:
            return await driver.fetch(sql, *[params[name] for name in names])  # type: ignore[no-any-return]
        except (asyncpg.PostgresError, asyncpg.InterfaceError, asyncpg.InternalClientError, OSError) as exc:
            # A backend terminated while the connection sat idle in the pool can surface as asyncpg's
            # InternalClientError ("protocol is in an unexpected state") on the next query: the connection is
            # unusable either way, so it is dropped like a closed one.
            if not driver.is_closed() and not isinstance(exc, asyncpg.InternalClientError):
                raise
            await connection.invalidate(exc)
            raise LostConnection("the database connection was lost") from exc

    def _as_positional(self, sql: str) -> tuple[str, tuple[str, ...]]:
        """``sql`` with asyncpg's ``$1, $2, …`` for its ``:name`` parameters, and the names in that order."""
        known = self._positional.get(sql)
        if known is None:
            names: dict[str, int] = {}
            positional = _NAMED.sub(lambda m: f"${names.setdefault(m.group(1), len(names) + 1)}", sql)
            known = self._positional[sql] = (positional, tuple(names))
        return known

    def latest_key_type(self) -> TypeEngine[str]:
        return String(80, collation="C")

    def dimensions_type(self) -> TypeEngine[Any]:
        return JSONB()

    def transient(self, exc: BaseException) -> bool:
        if super().transient(exc):
            return True
        if isinstance(exc, asyncpg.PostgresError):  # raised by fetch_rows, on asyncpg's own connection
            return str(exc.sqlstate)[:2] in TRANSIENT_SQLSTATE_CLASSES
        if not isinstance(exc, sa_exc.DBAPIError):
            return False
        sqlstate = getattr(exc.orig, "sqlstate", None)
        return exc.connection_invalidated or (isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES)


DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLiteDialect(), PostgreSQLDialect())}


def _by_prefix(url: str) -> Dialect | None:
    return next((d for d in DIALECTS.values() if url.startswith(d.url_prefix)), None)


def for_url(url: str) -> Dialect:
    """The dialect of a database URL; ValueError naming the accepted schemes for any other."""
    dialect = _by_prefix(url)
    if dialect is None:
        accepted = " or ".join(d.url_prefix for d in DIALECTS.values())
        raise ValueError(f"TALLY_DATABASE_URL must start with {accepted}")
    return dialect


def for_read_url(url: str, primary_url: str) -> Dialect:
    """The dialect of a read replica's URL; ValueError naming the variable when the URL, or the primary's, is of a
    database that has no streaming standbys."""
    accepted = " or ".join(d.url_prefix for d in DIALECTS.values() if d.has_standbys)
    dialect = _by_prefix(url)
    if dialect is None or not dialect.has_standbys:
        raise ValueError(f"TALLY_DATABASE_READ_URL must start with {accepted} (a streaming standby's URL)")
    if for_url(primary_url) is not dialect:
        raise ValueError(
            f"TALLY_DATABASE_READ_URL is set, but TALLY_DATABASE_URL is not a {accepted} URL: a read replica is a "
            "standby of the primary database, which must be of the same kind"
        )
    return dialect


def named(sqlalchemy_dialect: SQLAlchemyDialect) -> Dialect:
    return DIALECTS[sqlalchemy_dialect.name]


def of(session: Session) -> Dialect:
    """The dialect of the engine ``session`` is bound to."""
    return named(session.get_bind().dialect)


def transient(exc: BaseException) -> bool:
    """``exc``, or the error it was raised from (advanced-alchemy wraps SQLAlchemy's errors in its own), means
    the database cannot serve us right now, by any dialect's rules."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (OSError, TimeoutError)) or any(d.transient(seen) for d in DIALECTS.values()):
            return True
        seen = seen.__cause__
    return False


class LatestKey(TypeDecorator[str]):
    """A ``latest_key`` column: sorts like (timestamp, recorded_at, batch_index), compared byte-wise."""

    impl = String(80)
    cache_ok = True

    def load_dialect_impl(self, dialect: SQLAlchemyDialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(named(dialect).latest_key_type())


class Dimensions(TypeDecorator[dict[str, str]]):
    """A set of dimensions: ``jsonb`` on PostgreSQL (read without parsing, compared by value); canonical JSON
    text on SQLite, so that equal sets are equal keys there too. SQLAlchemy's JSON type would write SQLite's
    text with spaces and in the caller's key order."""

    impl = Text
    cache_ok = True

    def load_dialect_impl(self, dialect: SQLAlchemyDialect) -> TypeEngine[Any]:
        return dialect.type_descriptor(named(dialect).dimensions_type())

    def process_bind_param(self, value: dict[str, str] | str | None, dialect: SQLAlchemyDialect) -> Any:
        as_json = named(dialect).binds_json_objects
        if isinstance(value, str):  # a set already in its canonical text (dimension_set), as bucket cells carry it
            return msgspec.json.decode(value, type=dict[str, str]) if as_json else value
        if value is None or as_json:
            return value
        return dimension_set(value)

    def process_result_value(self, value: Any, dialect: SQLAlchemyDialect) -> dict[str, str] | None:
        if isinstance(value, str):
            return msgspec.json.decode(value, type=dict[str, str])
        return cast("dict[str, str] | None", value)
