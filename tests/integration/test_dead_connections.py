"""Pooled connections whose backends were terminated between requests (PostgreSQL): the pool is not pinged on
every checkout, so a dead connection is refused when it is checked out and replaced once; the next request is
answered as if nothing happened. When no new connection can be made either, the answer is a 503, never a 500,
and nothing of a refused batch is stored."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest
from advanced_alchemy.extensions.litestar import async_default_handler_maker
from advanced_alchemy.extensions.litestar._utils import get_aa_scope_state, set_aa_scope_state
from litestar import Litestar
from litestar.testing import AsyncTestClient
from litestar.types import Message, Scope
from sqlalchemy import exc as sa_exc
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.pool import NullPool

from tally.app import create_app
from tally.config import Settings
from tally.db.engine import session_closer
from tests.conftest import (
    PLATFORM,
    POSTGRES_ADMIN_URL,
    TEST_SECRET,
    _admin,
    assert_problem,
    events_url,
    fresh_postgres_database,
    totals_url,
)

pytestmark = pytest.mark.postgres
TENANT = uuid.uuid4()
WINDOW = {"period_start": "2026-01-01T00:00:00Z", "period_end": "2026-02-01T00:00:00Z"}


def batch(key: str, quantity: int) -> dict[str, object]:
    event = {"feature_key": "api_calls", "quantity": quantity, "idempotency_key": key}
    return {"events": [{**event, "timestamp": "2026-01-10T12:00:00Z"}]}


async def run(url: str, *statements: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def terminate_backends(database: str) -> int:
    engine = create_async_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :name"),
                {"name": database},
            )
            return sum(1 for (killed,) in result if killed)
    finally:
        await engine.dispose()


@pytest.fixture
async def database() -> AsyncIterator[tuple[str, str]]:
    """A fresh database and its URL for a role of its own (not a superuser, so a connection limit binds it)."""
    role = f"tally_app_{uuid.uuid4().hex[:8]}"
    with fresh_postgres_database("tally_dead") as url:
        await _admin(f"CREATE ROLE {role} LOGIN")
        try:
            await run(url, f"GRANT ALL ON ALL TABLES IN SCHEMA public TO {role}")
            yield url, url.replace("postgres@", f"{role}@", 1)
        finally:
            await terminate_backends(url.rsplit("/", 1)[1])
            await run(url, f"DROP OWNED BY {role}")
            await _admin(f"DROP ROLE IF EXISTS {role}")


async def total(client: AsyncTestClient[Litestar]) -> int:
    response = await client.get(totals_url(TENANT), params=WINDOW, headers=PLATFORM)
    assert response.status_code == 200, response.text
    return int(response.json()[0]["quantity"])


@pytest.mark.anyio
async def test_backends_terminated_between_requests(database: tuple[str, str]) -> None:
    admin_url, app_url = database
    name, role = admin_url.rsplit("/", 1)[1], app_url.split("://", 1)[1].split("@", 1)[0]
    app = create_app(Settings(database_url=app_url, jwt_secret=TEST_SECRET, db_pool_size=2, db_timeout_seconds=2))
    async with AsyncTestClient(app=app) as client:
        created = await client.put("/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=PLATFORM)
        assert created.status_code == 201, created.text
        assert (await client.post(events_url(TENANT), json=batch("a", 5), headers=PLATFORM)).status_code == 200
        assert await total(client) == 5

        # Every pooled connection dies while the app is idle: the next requests get new ones, no error.
        assert await terminate_backends(name) > 0
        assert await total(client) == 5
        assert (await client.post(events_url(TENANT), json=batch("b", 7), headers=PLATFORM)).status_code == 200
        assert (await client.get("/health/ready")).status_code == 200
        assert await total(client) == 12

        # They die again and no new connection can be made: the one retry fails too, and the answer is a 503.
        await _admin(f"ALTER ROLE {role} CONNECTION LIMIT 0")
        try:
            assert await terminate_backends(name) > 0
            read = await client.get(totals_url(TENANT), params=WINDOW, headers=PLATFORM)
            write = await client.post(events_url(TENANT), json=batch("c", 11), headers=PLATFORM)
            for response in (read, write):
                assert_problem(response, 503)
                assert int(response.headers["retry-after"]) >= 1
        finally:
            await _admin(f"ALTER ROLE {role} CONNECTION LIMIT -1")

        # The database is back: the app recovers by itself, and the refused batch was not stored.
        assert await total(client) == 12
        again = await client.post(events_url(TENANT), json=batch("c", 11), headers=PLATFORM)
        assert again.status_code == 200
        assert again.json() == {"accepted": 1, "duplicates": 0}
        assert await total(client) == 23


@pytest.mark.anyio
async def test_a_session_whose_connection_died_in_a_transaction_closes_without_failing_the_response(
    database: tuple[str, str],
) -> None:
    """The request's session is closed as its response starts (advanced-alchemy's handler). When its connection
    died under an open transaction, that close raises from the ROLLBACK it sends, after the response started
    (Litestar would then send a bare 500 instead of the answer). Tally's handler lets the answer go out."""
    admin_url, app_url = database
    name = admin_url.rsplit("/", 1)[1]
    engine = create_async_engine(app_url, isolation_level="AUTOCOMMIT")
    key = "_test_session"
    try:

        async def session_in_a_dead_transaction() -> Scope:
            session = AsyncSession(engine)
            await session.connection(execution_options={"isolation_level": "READ COMMITTED"})  # a write's transaction
            await session.execute(text("SELECT 1"))
            assert await terminate_backends(name) > 0
            scope: Scope = {"type": "http", "state": {}}  # type: ignore[typeddict-item]
            set_aa_scope_state(scope, key, session)
            return scope

        start: Message = {"type": "http.response.start", "status": 409, "headers": []}
        # The failure mode is real: advanced-alchemy's own handler raises here.
        with pytest.raises(sa_exc.DBAPIError):
            await async_default_handler_maker(session_scope_key=key)(start, await session_in_a_dead_transaction())
        scope = await session_in_a_dead_transaction()
        await session_closer(key)(start, scope)
        assert get_aa_scope_state(scope, key) is None  # closed and forgotten, as the default handler does
        assert engine.sync_engine.pool.checkedout() == 0  # the dead connection went back (and was dropped)
    finally:
        await engine.dispose()
