"""The async engine, made as the database's dialect wants it (see ``tally.db.dialects``), and the closing of each
request's session."""

from __future__ import annotations

import logging

from advanced_alchemy.extensions.litestar import async_default_handler_maker
from litestar.types import BeforeMessageSendHookHandler, Message, Scope
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.db import urls
from tally.db.dialects import for_url, transient

logger = logging.getLogger("tally.db")


def create_engine(url: str, *, pool_size: int = 10, timeout: float = 5.0) -> AsyncEngine:
    """The engine of ``url`` (``postgresql://`` taken as PostgreSQL through asyncpg), as its dialect makes it."""
    url = urls.with_driver(url)
    return for_url(url).create_engine(url, pool_size=pool_size, timeout=timeout)


def session_closer(session_scope_key: str) -> BeforeMessageSendHookHandler:
    """advanced-alchemy's own handler that closes the request's session as its response starts, for a connection
    that died under an open transaction (a 409 or 503 whose transaction was still open when the backend was
    killed).

    ``close()`` sends that transaction's ROLLBACK, and SQLAlchemy raises when the connection is gone. It does so
    after the response has started, and Litestar then replaces the decided answer with a bare 500. The database
    rolled the transaction back when the backend died, and SQLAlchemy has already dropped the connection. So the
    answer stands: the session is closed again, which now succeeds, and the response goes out.
    """
    close = async_default_handler_maker(session_scope_key=session_scope_key)

    async def handler(message: Message, scope: Scope) -> None:
        try:
            await close(message, scope)
        except Exception as exc:
            if not transient(exc):
                raise
            logger.warning("the request's database connection was lost as its session closed (%s)", type(exc).__name__)
            await close(message, scope)

    return handler
