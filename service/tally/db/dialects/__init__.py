"""Everything that differs between the databases Tally runs on, one module per database.

Each ``Dialect`` says how its engine is made, how a write transaction starts, the catalog and limit locks, the
batch insert that reports new rows, the bucket upsert, reading a value out of a JSON column, byte-order sorting,
and which errors mean "not now" (a 503) rather than "never". It is chosen once, from the URL when the engine is
made (``for_url``) and from the session's engine in a repository's constructor (``of``); nothing else in the code
asks which database it talks to. Column types are ``tally.db.types``; URLs ``tally.db.urls``.

A third database is one more module here plus its entry in ``DIALECTS`` and ``tally.db.urls`` (and its driver in
pyproject.toml, its migrations checked, its tests): see docs/architecture.md.
"""

from __future__ import annotations

from sqlalchemy import Dialect as SQLAlchemyDialect
from sqlalchemy.ext.asyncio import AsyncConnection

from tally.db import urls
from tally.db.dialects.base import Dialect, LostConnection, Reads, RecordTables, Session, engine_of
from tally.db.dialects.postgresql import PostgreSQLDialect
from tally.db.dialects.sqlite import SQLiteDialect

DIALECTS: dict[str, Dialect] = {d.name: d for d in (SQLiteDialect(), PostgreSQLDialect())}


def for_url(url: str) -> Dialect:
    """The dialect of a database URL; ValueError naming the accepted schemes for any other."""
    return DIALECTS[urls.kind_of(url)]


def named(sqlalchemy_dialect: SQLAlchemyDialect) -> Dialect:
    return DIALECTS[sqlalchemy_dialect.name]


def of(session: Reads) -> Dialect:
    """The dialect of the engine ``session`` (or a connection) is bound to."""
    # A connection's engine's: asking the connection itself would make a pooled.Leased one's Connection.
    return named(session.sync_engine.dialect if isinstance(session, AsyncConnection) else session.get_bind().dialect)


def transient(exc: BaseException) -> bool:
    """``exc``, or the error it was raised from (advanced-alchemy wraps SQLAlchemy's errors in its own), means
    the database cannot serve us right now, by any dialect's rules."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (OSError, TimeoutError)) or any(d.transient(seen) for d in DIALECTS.values()):
            return True
        seen = seen.__cause__
    return False


__all__ = [
    "DIALECTS",
    "Dialect",
    "LostConnection",
    "PostgreSQLDialect",
    "Reads",
    "RecordTables",
    "SQLiteDialect",
    "Session",
    "engine_of",
    "for_url",
    "named",
    "of",
    "transient",
]
