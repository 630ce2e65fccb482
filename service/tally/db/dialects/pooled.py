"""A PostgreSQL engine's pooled connections for reads, taken and given back without SQLAlchemy's greenlets where the
pool needs no I/O, and the pool's watch for closed connections that replaces ``pool_pre_ping``.

``engine.connect()`` runs the pool's checkout in a new greenlet and its checkin in another (behind a task and a
shield): each greenlet maps and unmaps a Python frame stack of its own (strace: two mmap and two munmap per read),
and the pair was a tenth of a totals read's instructions (callgrind). Yet with an idle connection in the pool a
checkout does no I/O, nor does a checkin to a pool with room (asyncpg's connection is in autocommit: the pool's
reset is a rollback with nothing to roll back). ``Pooled`` runs those two as the synchronous calls they are;
whatever would need I/O (waiting for a connection, making one, replacing a closed one, closing an overflow
connection) takes SQLAlchemy's greenlet path as before.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any
from weakref import WeakKeyDictionary

from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlalchemy.pool import ConnectionPoolEntry, PoolProxiedConnection, QueuePool
from sqlalchemy.util.concurrency import in_greenlet

# Per engine: how many more reads check out through SQLAlchemy's greenlet, which makes connections anew, before
# ``Pooled`` checks out synchronously again (see ``watch_pool``).
_REPAIRS: WeakKeyDictionary[Engine, int] = WeakKeyDictionary()


class _MustReplace(Exception):
    """``Pooled``'s synchronous checkout met a closed connection."""


def watch_pool(engine: AsyncEngine) -> None:
    """Instead of pool_pre_ping, which is a round trip on every checkout: a backend that was terminated, or a server
    that went away, closes the socket, and asyncpg marks the connection closed as soon as the event loop sees it. A
    closed one is refused at checkout, and the pool replaces it with a new connection once (a failure to connect
    then is a 503). A connection that dies unseen fails its first statement: a 503."""
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "checkout")
    def _refuse_closed(_: DBAPIConnection, record: ConnectionPoolEntry, __: Any) -> None:
        if record.driver_connection is None or record.driver_connection.is_closed():
            if not in_greenlet():  # Pooled's own checkout: SQLAlchemy drops it, the greenlet path replaces it
                raise _MustReplace
            raise sa_exc.DisconnectionError("the pooled connection was closed")

    # A connection dropped (invalidated) goes back to the pool without its driver connection, to be made anew at a
    # later checkout: I/O, so Pooled's own checkout must not meet it. Until it has been through the greenlet path,
    # the reads take that path: the pool is a queue, so as many checkouts as it holds reach it.
    @event.listens_for(sync_engine, "checkin")
    def _repair_dropped(dbapi_connection: DBAPIConnection | None, _: ConnectionPoolEntry) -> None:
        if dbapi_connection is None:
            _REPAIRS[sync_engine] = sync_engine.pool.size()  # type: ignore[attr-defined]  # a QueuePool


class Leased(AsyncConnection):
    """An ``AsyncConnection`` whose SQLAlchemy ``Connection`` is made only when something asks for it (the ORM
    reads, an invalidation). A hot read needs only the pooled connection under it (``pooled``): making the
    ``Connection`` around it (its events joined, its proxy registered) and closing it was about 3% of a totals
    read's CPU. Subclassed rather than wrapped so that every reader of an ``AsyncConnection`` takes it as one."""

    __slots__ = ("_made", "fairy")

    def __init__(self, engine: AsyncEngine, fairy: PoolProxiedConnection) -> None:
        self.fairy = fairy
        self._made: Connection | None = None
        super().__init__(engine)

    @property
    def sync_connection(self) -> Connection | None:
        if self._made is None:
            self._made = self._assign_proxied(Connection(self.sync_engine, self.fairy))
        return self._made

    @sync_connection.setter
    def sync_connection(self, made: Connection | None) -> None:  # AsyncConnection's __init__ sets None
        self._made = made

    def in_transaction(self) -> bool:
        return self._made is not None and self._made.in_transaction()

    def pooled(self) -> PoolProxiedConnection | None:
        """The pooled connection, when reading it takes no I/O (see ``pooled_connection``)."""
        return self.fairy if self._made is None else _held(self._made)


def pooled_connection(connection: AsyncConnection) -> PoolProxiedConnection | None:
    """The pooled connection under ``connection``, read without I/O: None when it must be checked out anew (after
    an invalidation), which ``AsyncConnection.get_raw_connection`` does in a greenlet of its own."""
    return connection.pooled() if isinstance(connection, Leased) else _held(connection.sync_connection)


def _held(sync: Connection | None) -> PoolProxiedConnection | None:
    return sync.connection if sync is not None and not (sync.closed or sync.invalidated) else None


class Pooled:
    """``async with Pooled(engine) as connection``: one pooled connection of ``engine`` (watched by ``watch_pool``)
    for a read, given back on exit. A class rather than an ``asynccontextmanager`` generator: one is entered per
    read, and the generator's machinery costs a percent of a totals read."""

    __slots__ = ("connection", "engine", "fallback")

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.fallback: AsyncConnection | None = None

    async def __aenter__(self) -> AsyncConnection:
        sync_engine, fairy = self.engine.sync_engine, None
        pool = sync_engine.pool
        assert isinstance(pool, QueuePool)  # create_engine's
        if repairs := _REPAIRS.get(sync_engine, 0):
            _REPAIRS[sync_engine] = repairs - 1
        elif pool.checkedin():
            # _MustReplace: the idle connection was closed (SQLAlchemy drops it, see watch_pool). MissingGreenlet:
            # I/O nothing here foresaw; SQLAlchemy gave back what it had taken, so the greenlet path is still right.
            with suppress(_MustReplace, sa_exc.MissingGreenlet):
                fairy = sync_engine.raw_connection()
        if fairy is None:
            self.fallback = self.engine.connect()
            return await self.fallback.__aenter__()
        self.connection = Leased(self.engine, fairy)
        return self.connection

    async def __aexit__(self, *exc_info: Any) -> None:
        if self.fallback is not None:
            await self.fallback.__aexit__(*exc_info)
            return
        connection, pool = self.connection, self.engine.sync_engine.pool
        assert isinstance(pool, QueuePool)
        room = pool.checkedin() < pool.size()  # given back to a full pool, an overflow connection is closed: I/O
        if connection._made is None and room:
            connection.fairy.close()  # only the driver's connection was used, in autocommit: nothing to roll back
            return
        sync = connection.sync_connection
        assert sync is not None
        if sync.closed or sync.invalidated or sync.in_transaction() or not room:
            await connection.__aexit__(*exc_info)  # SQLAlchemy's own exit, safe from cancellation
        else:
            sync.close()
