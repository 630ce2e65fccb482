"""Plan terms and closed periods' terms cached in each serving process, forgotten whenever PostgreSQL says a plan,
an assignment or a closed period changed.

Every change to ``plan``, ``tenant_plan`` or ``billing_period`` notifies the ``tally_terms`` channel (statement
triggers, migrations 0014 and 0015), whoever makes it. ``TermsListener`` keeps one connection of its own listening
to it and empties the process's ``TermsCache`` on every notification; the process that made the change also empties
it right after its commit, before it answers. No timer: the cache is right as soon as the notification arrives.

Only while the listener is connected are terms kept at all: when its connection is lost, notifications may be
missed, so the cache is emptied and reads go to the database until the listener is back (and empties it again). A
read that raced a change cannot keep what it read: each entry is stored only if no notification arrived while it was
being read (``generation``). SQLite has no notifications; without a listener every read goes to the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Hashable
from typing import Any, Final, TypeVar, cast
from weakref import WeakKeyDictionary

import asyncpg
from sqlalchemy import Engine, event
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from tally.db import dialects
from tally.db.dialects import Session

logger = logging.getLogger("tally")

T = TypeVar("T")

CHANNEL = "tally_terms"
CACHED_TENANTS = 10_000
MISSING: Final = object()
"""What ``TermsCache.get`` answers when it has nothing to say (a tenant without a plan is cached as None)."""


class TermsCache:
    """Each tenant's terms as last read, while the listener is connected: its plan terms (None: no plan) by its
    id, its closed periods' terms by ``("periods", id)``."""

    _of_engine: WeakKeyDictionary[Engine, TermsCache] = WeakKeyDictionary()

    def __init__(self) -> None:
        self._terms: dict[Hashable, Any] = {}
        self.generation = 0
        self.listening = False
        self.last_heard = ""
        """The payload of the last notification: the writers send none, a test its marker."""

    @classmethod
    def of(cls, engine: Engine) -> TermsCache | None:
        """The cache of the engine's process (None: no listener, the engine's terms are never cached)."""
        return cls._of_engine.get(engine)

    @classmethod
    def attach(cls, engine: Engine) -> TermsCache:
        cache = cls._of_engine.get(engine)
        if cache is None:
            cache = cls._of_engine[engine] = cls()
        return cache

    def get(self, key: Hashable) -> Any:
        """The cached terms of ``key``, or MISSING."""
        return self._terms.get(key, MISSING) if self.listening else MISSING

    def put(self, key: Hashable, terms: Any, generation: int) -> None:
        """Keep ``terms``, read since ``generation`` (``self.generation`` before the read), unless a change was
        heard since: then they may be the old ones."""
        if self.listening and generation == self.generation:
            if len(self._terms) >= CACHED_TENANTS:  # bounded: emptied when full, like the verified tokens
                self._terms.clear()
            self._terms[key] = terms

    def forget(self) -> None:
        self.generation += 1
        self._terms.clear()

    def heard(self, payload: str) -> None:
        self.forget()
        self.last_heard = payload

    def set_listening(self, listening: bool) -> None:
        self.forget()
        self.listening = listening


async def read_through(engine: Engine, key: Hashable, read: Callable[[], Awaitable[T]]) -> T:
    """``read()``'s answer, kept under ``key`` in the cache of ``engine``'s process while it listens (without a
    listener, read every time)."""
    cache = TermsCache.of(engine)
    if cache is None:
        return await read()
    found = cache.get(key)
    if found is not MISSING:
        return cast("T", found)
    generation = cache.generation
    answer = await read()
    cache.put(key, answer, generation)
    return answer


def forget_after_commit(session: Session) -> None:
    """Empty this process's cache right after ``session`` commits (a writer of plans, assignments or closed periods
    calls it): its own next request must not wait for the notification."""
    bind = session.get_bind()
    cache = TermsCache.of(bind) if isinstance(bind, Engine) else None
    if cache is not None and isinstance(session, AsyncSession):
        event.listen(session.sync_session, "after_commit", lambda _: cache.forget(), once=True)


class TermsListener:
    """The background work that keeps ``TermsCache.of(engine)`` listening (started and stopped with the app)."""

    def __init__(self, engine: AsyncEngine, *, timeout: float, retry_seconds: float = 1.0) -> None:
        self.cache = TermsCache.attach(engine.sync_engine)
        self.url, self.dialect = engine.url, dialects.named(engine.dialect)
        self.timeout, self.retry_seconds = timeout, retry_seconds
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self._run(), name="plan terms listener")

    async def stop(self) -> None:
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _run(self) -> None:
        while True:
            try:
                await self._listen()
            except (TimeoutError, OSError, asyncpg.PostgresError, asyncpg.InterfaceError) as exc:
                logger.warning("plan terms listener: %s; terms are read from the database meanwhile", exc)
            await asyncio.sleep(self.retry_seconds)

    async def _listen(self) -> None:
        """Listen until the connection is lost; the cache keeps terms only meanwhile."""
        connection: asyncpg.Connection = await self.dialect.connect_alone(self.url, connect_seconds=self.timeout)
        lost = asyncio.Event()
        try:
            connection.add_termination_listener(lambda _: lost.set())
            await connection.add_listener(CHANNEL, lambda *args: self.cache.heard(args[-1]))
            self.cache.set_listening(True)
            await lost.wait()
            logger.warning("plan terms listener: connection lost; terms are read from the database meanwhile")
        finally:
            self.cache.set_listening(False)
            if not connection.is_closed():
                connection.terminate()
