"""PostgreSQL through asyncpg: the production database. Advisory locks order the catalog and the hard limits; the
hot statements are hand-written over ``unnest()`` arrays and run on asyncpg's own connection."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg
from sqlalchemy import TextClause, TextualSelect, text
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.schema import Table

from tally.db.dialects.base import Dialect, LostConnection, Reads, RecordTables, Session, engine_of
from tally.db.dialects.pooled import Pooled, pooled_connection, watch_pool
from tally.metering.aggregations import COLUMN_NAMES, COLUMNS, Combine, recorded_digits
from tally.metering.buckets import DIMENSION_BUCKETS, MONTH, USAGE_BUCKETS, BucketTable, Cell
from tally.metering.events import NewEvent

# Any constant of our own; advisory locks are numbered per database.
CATALOG_LOCK = 0x74616C6C7964696D  # "tallydim"
# Error classes that mean "not now" rather than "never": 08 connection exception, 53 insufficient resources (53300
# too many connections), 57 operator intervention (57P01 admin shutdown, which pg_terminate_backend causes; 57P03
# cannot connect now, while the server starts or stops).
TRANSIENT_SQLSTATE_CLASSES = frozenset({"08", "53", "57"})
# 55000 object not in prerequisite state: when connecting, "database … is not currently accepting connections"
# (ALTER DATABASE … ALLOW_CONNECTIONS false, as during maintenance). On a statement it is a bug, not "not now".
NOT_ACCEPTING_CONNECTIONS = "55000"
_NAMED = re.compile(r"(?<![:\w]):(\w+)")  # a ``:name`` parameter of a text() statement (not a ``::`` cast)


def limit_lock_number(key: str) -> int:
    """A signed 64-bit advisory lock number for ``key`` (a hard limit's tenant, feature and period)."""
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)


# A unique key plus ON CONFLICT DO NOTHING is what makes ingestion exactly-once: a concurrent transaction
# inserting the same key waits for ours and then skips the row; RETURNING says which rows are new. On PostgreSQL
# the statements are written by hand over unnest() of one array per column: asyncpg encodes each array in C,
# where SQLAlchemy would bind 8,000 parameters one by one (a batch took about 3x longer that way).
# Each event's latest_key is made here, as ``tally.metering.aggregations.latest_key`` makes it in Python (UTC digits of
# the timestamp, the batch's receipt digits, the index in 4 digits, the quantity): formatting it in Python took a
# tenth of a batch's CPU. A test holds the two to the same text. asyncpg binds 0001-01-01T00:00:00Z as -infinity
# (whose bucket starts are -infinity too, as before), whose digits are those of the instant it stands for.
PG_LATEST_KEY = (
    "to_char(GREATEST(t, TIMESTAMPTZ '0001-01-01 00:00:00+00') AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISSUS') "
    "|| :recorded_digits || lpad(CAST(i AS text), 4, '0') || CAST(q AS text)"
)
PG_INSERT_EVENTS = f"""
    INSERT INTO usage_event
        (tenant_id, idempotency_key, feature_key, quantity, timestamp, recorded_at, batch_index, latest_key,
         dimensions)
    SELECT :tenant_id, k, f, q, t, :recorded_at, i, {PG_LATEST_KEY}, CAST(d AS jsonb)
    FROM unnest(CAST(:keys AS text[]), CAST(:features AS text[]), CAST(:quantities AS bigint[]),
                CAST(:timestamps AS timestamptz[]), CAST(:indexes AS integer[]), CAST(:dimensions AS text[]))
         AS batch(k, f, q, t, i, d)
    ON CONFLICT (tenant_id, idempotency_key) DO NOTHING
"""  # noqa: S608 - no input in the text
# The volatile lock function runs after the ORDER BY (PostgreSQL evaluates a SELECT list after sorting).
PG_LOCK_LIMITS = text("""
    SELECT pg_advisory_xact_lock(n) FROM unnest(CAST(:numbers AS bigint[])) AS locks(n) ORDER BY n
""")
KEY_TYPES = {"grain_seconds": "integer", "bucket_start": "timestamptz", "feature_key": "text", "dimension_set": "jsonb"}
PG_PAIRWISE = {Combine.ADD: "{0} + {1}", Combine.GREATEST: "GREATEST({0}, {1})", Combine.LEAST: "LEAST({0}, {1})"}


PG_INSERT_NEW_EVENTS = text(PG_INSERT_EVENTS + "RETURNING idempotency_key")
PG_EVENT_PARTS = {"quantity": "q", "latest_key": "l", "1": "1"}  # a column's per_event, in the inserted rows


def _pg_bucket_start(grains: Sequence[int]) -> str:
    """The start of an inserted row's bucket of grain ``g`` (``floor_to`` in SQL: every grain but the month is a
    whole number of seconds from a UTC midnight)."""
    fixed = "date_bin(g * interval '1 second', t, TIMESTAMPTZ '2000-01-01 00:00:00+00')"
    return f"CASE WHEN g = {MONTH} THEN date_trunc('month', t, 'UTC') ELSE {fixed} END" if MONTH in grains else fixed


def _pg_add_inserted(table: BucketTable, where: str) -> str:
    """A CTE's INSERT that adds the inserted rows (``new``) to ``table`` at each of its grains: one cell per row of
    the table, folded by GROUP BY with each column's aggregate, and combined with the stored row column by column.
    Cells are written in key order, so concurrent batches lock shared rows in the same order (no deadlock)."""
    grains = ", ".join(f"({g})" for g in table.grains)
    parts = {"grain_seconds": "g", "bucket_start": _pg_bucket_start(table.grains), "feature_key": "f"}
    parts["dimension_set"] = "COALESCE(d, CAST('{}' AS jsonb))"
    keys = ", ".join(parts[key] for key in table.keys)
    folded = ", ".join(f"{c.sql_aggregate}({PG_EVENT_PARTS[c.per_event]})" for c in COLUMNS)
    positions = ", ".join(str(i) for i in range(2, len(table.keys) + 2))
    combined = ", ".join(
        f"{c.name} = {PG_PAIRWISE[c.combine].format(f'{table.name}.{c.name}', f'excluded.{c.name}')}" for c in COLUMNS
    )
    return f"""
        INSERT INTO {table.name} (tenant_id, {", ".join(table.keys)}, {", ".join(COLUMN_NAMES)})
        SELECT :tenant_id, {keys}, {folded}
        FROM new CROSS JOIN (VALUES {grains}) AS grains(g) {where}
        GROUP BY {positions} ORDER BY {positions}
        ON CONFLICT (tenant_id, {", ".join(table.keys)}) DO UPDATE SET {combined}
    """  # noqa: S608 - no input in the text


# Ingestion's one statement: the exactly-once insert, its new rows added to both bucket tables at every grain
# (aggregated here, not in Python), and the new keys. Each data-modifying CTE runs once, whether read or not.
PG_RECORD_EVENTS = text(f"""
    WITH new AS ({PG_INSERT_EVENTS}
        RETURNING idempotency_key AS k, feature_key AS f, quantity AS q, timestamp AS t, latest_key AS l,
                  dimensions AS d
    ), usage_cells AS ({_pg_add_inserted(USAGE_BUCKETS, "")}
    ), dimension_cells AS ({_pg_add_inserted(DIMENSION_BUCKETS, "WHERE f = ANY(CAST(:dimension_features AS text[]))")}
    )
    SELECT k FROM new
""")  # noqa: S608 - no input in the text


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
    byte_order = ' COLLATE "C"'
    expands_lists = False  # one array parameter: the statement's text, and its prepared plan, fit every list
    has_standbys = True
    notifies = True

    def __init__(self) -> None:
        self._upserts: dict[str, TextClause] = {}
        self._positional: dict[str, tuple[str, tuple[str, ...]]] = {}

    def create_engine(self, url: str, *, pool_size: int, timeout: float) -> AsyncEngine:
        # Autocommit: a read is one statement and needs no BEGIN/ROLLBACK. A session that writes calls begin_write
        # first.
        engine = create_async_engine(
            url,
            pool_size=pool_size,
            max_overflow=pool_size,
            pool_timeout=timeout,
            isolation_level="AUTOCOMMIT",
            connect_args={"timeout": timeout},
        )

        watch_pool(engine)
        return engine

    def connect(self, engine: AsyncEngine) -> Pooled:
        return Pooled(engine)

    async def connect_alone(self, url: URL, *, connect_seconds: float) -> asyncpg.Connection:
        # asyncpg takes the URL without SQLAlchemy's driver name.
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        return await asyncpg.connect(dsn, timeout=connect_seconds)

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

    async def lock_periods(self, session: Session, tenant_id: UUID, *, exclusive: bool) -> None:
        # A statement of its own, as for the catalog: the closed periods are read after the wait.
        function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
        await session.execute(text(f"SELECT {function}(:key)"), {"key": limit_lock_number(f"periods:{tenant_id}")})

    async def record_events(
        self,
        session: Session,
        tables: RecordTables,
        tenant_id: UUID,
        events: Sequence[NewEvent],
        recorded_at: datetime,
        dimension_features: Collection[str],
    ) -> set[str]:
        # One round trip on the session's own connection (its transaction), however many buckets the batch adds to.
        params = self._event_arrays(tenant_id, events, recorded_at)
        params["dimension_features"] = list(dimension_features)
        rows = await self.fetch_rows(session, PG_RECORD_EVENTS, params)  # seen by tracing, when it is on
        return {row[0] for row in rows}

    async def insert_events(
        self, session: Session, table: Table, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime
    ) -> set[str]:
        params = self._event_arrays(tenant_id, events, recorded_at)
        result = await session.execute(PG_INSERT_NEW_EVENTS, params)
        return set(result.scalars().all())

    def _event_arrays(self, tenant_id: UUID, events: Sequence[NewEvent], recorded_at: datetime) -> dict[str, Any]:
        """PG_INSERT_EVENTS's parameters: one array per column."""
        return {
            "tenant_id": tenant_id,
            "recorded_at": recorded_at,
            "recorded_digits": recorded_digits(recorded_at),
            "keys": [e.idempotency_key for e in events],
            "features": [e.feature_key for e in events],
            "quantities": [e.quantity for e in events],
            "timestamps": [e.timestamp for e in events],
            "indexes": [e.index for e in events],
            "dimensions": [e.dimension_set if e.dimensions else None for e in events],
        }

    def insert_new(self, table: Table, keys: Sequence[str]) -> Insert:
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=list(keys))

    async def upsert_cells(
        self, session: Session, target: Table, table: BucketTable, tenant_id: UUID, cells: list[Cell]
    ) -> None:
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

    async def fetch_rows(
        self, session: Reads, statement: TextClause | TextualSelect, params: dict[str, Any]
    ) -> Sequence[Any]:
        if engine_of(session).dispatch.before_cursor_execute:  # something traces the statements: let it see this one
            return await super().fetch_rows(session, statement, params)
        # It is the session's own connection, never a second one from the pool: inside a write transaction the read
        # belongs to that transaction, and a request that held one pooled connection while it waited for another
        # starved every request once the pool was spent (each waited for a connection only another one held).
        # A read outside a transaction has none to lose: it is tried once more on a new connection when the pooled
        # one turns out dead.
        retry = isinstance(session, (AsyncSession, AsyncConnection)) and not session.in_transaction()
        for attempt in (1, 2):
            try:
                connection = session if isinstance(session, AsyncConnection) else await session.connection()
                return await self._fetch(connection, statement, params)
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
                async with self.connect(engine) as connection:
                    return await self._fetch(connection, statement, params)
            except LostConnection:
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _fetch(
        self, connection: AsyncConnection, statement: TextClause | TextualSelect, params: dict[str, Any]
    ) -> Sequence[Any]:
        # On asyncpg's own connection under SQLAlchemy's: the session's execute() (its result objects, a greenlet hop
        # per call) cost a totals read more CPU than everything else it does. asyncpg prepares each text once per
        # connection (its statement cache).
        # A typed statement's types are for SQLite's text instants: asyncpg answers PostgreSQL's own types.
        clause = statement.element if isinstance(statement, TextualSelect) else statement
        assert isinstance(clause, TextClause)
        sql, names = self._as_positional(clause.text)
        # The pooled connection read where it is held, which takes no I/O: get_raw_connection runs that same read in
        # a new greenlet, and each greenlet maps and unmaps a frame stack of its own (strace: an mmap and a munmap
        # per call). Only a connection that must be checked out again needs the async call.
        pooled = pooled_connection(connection)
        if pooled is None:
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

    def transient(self, exc: BaseException) -> bool:
        if super().transient(exc):
            return True
        if isinstance(exc, asyncpg.PostgresError):  # raised by fetch_rows, on asyncpg's own connection
            return str(exc.sqlstate)[:2] in TRANSIENT_SQLSTATE_CLASSES
        if not isinstance(exc, sa_exc.DBAPIError):
            return False
        sqlstate = getattr(exc.orig, "sqlstate", None)
        if exc.statement is None and sqlstate == NOT_ACCEPTING_CONNECTIONS:  # refused while connecting
            return True
        return exc.connection_invalidated or (isinstance(sqlstate, str) and sqlstate[:2] in TRANSIENT_SQLSTATE_CLASSES)
