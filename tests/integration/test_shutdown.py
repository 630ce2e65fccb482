"""Shutting the app down closes its pooled database connections (the webhook delivery stops first): a process
that stops leaves no connection behind on the server."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.app import create_app
from tally.config import Settings
from tests.conftest import PLATFORM, POSTGRES_ADMIN_URL, TEST_SECRET, totals_url

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]


async def connections_to(database: str) -> int:
    engine = create_async_engine(POSTGRES_ADMIN_URL, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            query = text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = :name AND backend_type = 'client backend'"
            )
            return int((await connection.execute(query, {"name": database})).scalar_one())
    finally:
        await engine.dispose()


async def test_shutdown_closes_the_pools_connections(postgres_url: str) -> None:
    database = postgres_url.rsplit("/", 1)[1]
    before = await connections_to(database)
    app = create_app(Settings(database_url=postgres_url, jwt_secret=TEST_SECRET, webhook_poll_seconds=0.05))
    async with AsyncTestClient(app=app) as client:
        for _ in range(3):
            assert (await client.get(totals_url(uuid.uuid4()), headers=PLATFORM)).status_code == 200
        assert await connections_to(database) > before  # the pool keeps its connections open between requests
    assert await connections_to(database) == before
