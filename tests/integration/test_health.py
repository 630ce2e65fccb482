"""Health probes, and what callers see while the database is unreachable."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient

from tally.app import create_app
from tally.config import Settings
from tally.db.migrate import upgrade
from tally.http.auth import Role
from tests.conftest import (
    FEATURES_URL,
    ONE_DATABASE,
    TEST_SECRET,
    assert_problem,
    bearer,
    events_url,
    fresh_postgres_database,
    in_thread,
    totals_url,
)
from tests.factories import event_body

pytestmark = pytest.mark.anyio

UNREACHABLE = "postgresql+asyncpg://postgres@127.0.0.1:1/none"
RETRY_AFTER = 7
# What must never reach a response body: SQL, driver names, the database's address, a traceback.
LEAKS = ("SELECT", "INSERT", "Traceback", "asyncpg", "sqlalchemy", "127.0.0.1", "Connect", "Errno", "none")


@pytest.fixture
async def offline() -> AsyncIterator[AsyncTestClient[Litestar]]:
    settings = Settings(
        database_url=UNREACHABLE, jwt_secret=TEST_SECRET, db_timeout_seconds=2, retry_after_seconds=RETRY_AFTER
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        yield client


@pytest.mark.parametrize("path", ["/health/live", "/health/ready"])
@ONE_DATABASE
async def test_probes_answer_without_a_token(client, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 200, response.text
    assert response.json() == {"status": "ok"}


async def test_liveness_holds_while_the_database_is_down(offline) -> None:
    response = await offline.get("/health/live")
    assert response.status_code == 200, response.text


def assert_unavailable(response) -> None:
    body = assert_problem(response, 503)
    assert response.headers["retry-after"] == str(RETRY_AFTER)
    for leak in LEAKS:
        assert leak not in str(body), f"{leak!r} leaked into {body}"


async def test_readiness_is_503_while_the_database_is_down(offline) -> None:
    assert_unavailable(await offline.get("/health/ready"))


async def test_api_calls_are_503_while_the_database_is_down(offline) -> None:
    tenant = uuid.uuid4()
    assert_unavailable(await offline.get(totals_url(tenant), headers=bearer(Role.VIEWER, tenant)))
    assert_unavailable(await offline.get(FEATURES_URL, headers=bearer(Role.PLATFORM)))
    assert_unavailable(
        await offline.post(events_url(tenant), json={"events": [event_body()]}, headers=bearer("admin", tenant))
    )


async def test_the_app_stays_up_and_answers_again(offline) -> None:
    """A 503 is not fatal: the same app keeps answering (and the next probe is again a clean 503)."""
    for _ in range(3):
        assert_unavailable(await offline.get("/health/ready"))
    assert (await offline.get("/health/live")).status_code == 200


@pytest.fixture(params=["sqlite", "postgres"])
def unmigrated_url(request: pytest.FixtureRequest, tmp_path) -> Iterator[str]:
    """An empty database: a blank SQLite file, or a PostgreSQL database nobody ran `tally migrate` on."""
    if request.param == "sqlite":
        (tmp_path / "blank.db").touch()
        yield f"sqlite+aiosqlite:///{tmp_path / 'blank.db'}"
        return
    with fresh_postgres_database("tally_blank", migrate=False) as url:
        yield url


async def test_an_unmigrated_database_is_not_ready(unmigrated_url: str) -> None:
    """Under a bare uvicorn the app cannot refuse to start without a traceback; it says why it is not ready."""
    settings = Settings(database_url=unmigrated_url, jwt_secret=TEST_SECRET)
    async with AsyncTestClient(app=create_app(settings)) as client:
        body = assert_problem(await client.get("/health/ready"), 503, "tally migrate")
        assert body["type"] == "urn:tally:problem:schema-not-migrated"
        assert (await client.get("/health/live")).status_code == 200
    in_thread(upgrade, unmigrated_url)
    async with AsyncTestClient(app=create_app(settings)) as client:
        assert (await client.get("/health/ready")).status_code == 200
