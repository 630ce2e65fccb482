"""Every route answers 503 problem details with Retry-After, never a 500, while the database cannot serve
it: unreachable, on both databases (an exhausted pool: tests/e2e/test_pool_exhaustion.py). Repository methods of
advanced-alchemy wrap SQLAlchemy's errors in their own; those must still count as "not now"."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tally.app import create_app
from tally.config import Settings
from tests.conftest import (
    FEATURES_URL,
    PLATFORM,
    TEST_SECRET,
    _admin,
    assert_problem,
    events_url,
    fresh_postgres_database,
    totals_url,
)

TENANT = uuid.uuid4()
ROUTES = [
    ("GET", "/health/ready", None),
    ("GET", FEATURES_URL, None),
    ("PUT", f"{FEATURES_URL}/api_calls", {"unit": "requests"}),
    ("POST", events_url(TENANT), {"events": [{"feature_key": "api_calls", "quantity": 1, "idempotency_key": "k"}]}),
    ("GET", totals_url(TENANT), None),
    ("GET", f"{totals_url(TENANT)}?window_size=day", None),
    ("GET", f"{totals_url(TENANT)}?group_by=model", None),
    ("GET", events_url(TENANT), None),
    ("POST", f"{events_url(TENANT)}/k/void", {"reason": "test"}),
]


async def assert_every_route_unavailable(client: AsyncTestClient[Litestar]) -> None:
    for method, url, body in ROUTES:
        response = await client.request(method, url, json=body, headers=PLATFORM)
        problem = assert_problem(response, 503)
        assert problem["type"] == "urn:tally:problem:database-unavailable", (method, url, problem)
        assert int(response.headers["retry-after"]) >= 1, (method, url)


@pytest.mark.anyio
@pytest.mark.parametrize(
    "database_url",
    [
        "sqlite+aiosqlite:///{tmp}/no-such-directory/tally.db",
        "postgresql+asyncpg://postgres@127.0.0.1:1/tally",  # nothing listens on port 1
    ],
    ids=["sqlite", "postgres"],
)
async def test_unreachable_database(database_url: str, tmp_path: Path) -> None:
    settings = Settings(database_url=database_url.format(tmp=tmp_path), jwt_secret=TEST_SECRET, db_timeout_seconds=1)
    async with AsyncTestClient(app=create_app(settings)) as client:
        await assert_every_route_unavailable(client)


@pytest.mark.anyio
@pytest.mark.postgres
async def test_a_database_that_refuses_connections(tmp_path: Path) -> None:
    """Maintenance: ``ALTER DATABASE … ALLOW_CONNECTIONS false`` makes every new connection fail with SQLSTATE
    55000 ("not currently accepting connections"). That is "not now" (503), where it used to be a 500."""
    with fresh_postgres_database("tally_refusing") as url:
        name = url.rsplit("/", 1)[1]
        await _admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS false")
        try:
            settings = Settings(database_url=url, jwt_secret=TEST_SECRET, db_timeout_seconds=1)
            async with AsyncTestClient(app=create_app(settings)) as client:
                await assert_every_route_unavailable(client)
        finally:
            await _admin(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true")
