"""Shared fixtures: real databases (SQLite and PostgreSQL), an app per test, signed tokens.

PostgreSQL tests use ``TALLY_TEST_POSTGRES_URL`` (default: the local server, user postgres). Without a
reachable server they are skipped locally, but fail under CI (``CI=true``), where they must run.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from httpx import Response
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.app import create_app
from tally.config import Settings
from tally.db.migrate import upgrade
from tally.http.auth import Role, issue_token

TEST_SECRET = "test-secret-0123456789abcdef-0123456789"
POSTGRES_ADMIN_URL = os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
TABLES = (
    "billing_period",
    "credit_alert",
    "reservation",
    "credit_grant",
    "rate_limit_counter",
    "webhook_delivery",
    "usage_alert",
    "webhook_endpoint",
    "tenant_plan",
    "plan",
    "usage_sketch",
    "usage_dimension_bucket",
    "usage_bucket",
    "usage_event",
    "feature",
)


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def in_thread(fn, *args):  # type: ignore[no-untyped-def]
    """Run blocking setup (Alembic runs its own event loop) away from any running loop."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(fn, *args).result()


async def _admin(statement: str) -> None:
    engine = create_async_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def postgres_unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is required under CI: {reason}")
    pytest.skip(f"PostgreSQL not reachable: {reason}")


@contextmanager
def fresh_postgres_database(prefix: str, *, migrate: bool = True) -> Iterator[str]:
    """A new PostgreSQL database named ``prefix`` plus a random suffix, migrated unless ``migrate`` is false,
    dropped afterwards."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        in_thread(asyncio.run, _admin(f"CREATE DATABASE {name}"))
    except OSError as exc:
        postgres_unavailable(str(exc))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    try:
        if migrate:
            in_thread(upgrade, url)
        yield url
    finally:
        in_thread(asyncio.run, _admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh, migrated PostgreSQL database for this test session, dropped afterwards."""
    with fresh_postgres_database("tally_test") as url:
        yield url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    path: Path = tmp_path_factory.mktemp("sqlite") / "tally.db"
    url = f"sqlite+aiosqlite:///{path}"
    in_thread(upgrade, url)
    return url


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Every test using this runs once on SQLite and once on PostgreSQL (unless marked ``ONE_DATABASE``)."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture(autouse=True)
def app_log_lines_stay_with_their_test() -> Iterator[None]:
    """The app's request lines are written by a thread of their own a moment after they are logged (see
    ``tally.logs.BatchedStderrHandler``), into the stderr of the moment the app was made: pytest's capture.
    Flushed at the end of each test, they are that test's captured output (shown only if it fails), not the
    next test's, nor printed by pytest after the last test."""
    yield
    for handler in logging.getLogger("tally.access").handlers:
        handler.flush()


# For a test whose answer is decided before any SQL statement runs (a token or role refused, input refused at the
# edge, a probe, the app's own routes): a second database would check nothing more. Anything that checks what is
# stored, or how a statement behaves, runs on both.
ONE_DATABASE = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)


# Tests that start servers of several worker processes (or several servers that must all be up) share one xdist
# group: they run one after the other on one worker, beside the other worker's short tests. They once ran alone (the
# whole run paused for them): uvicorn's supervisor killed a worker that had not answered its health check within
# 5 s, which a worker still importing missed beside other tests. `tally serve` and the tests' servers of several
# workers now give it 30 s (tests/e2e/conftest.py), so the other core need not stand idle.
MULTI_PROCESS = pytest.mark.xdist_group("multi-process")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked ``long``, and the multi-process group (about a minute on one worker), go first, so that under
    xdist the other worker runs the short ones beside them instead of waiting for one at the end."""

    def place(item: pytest.Item) -> int:
        group = item.get_closest_marker("xdist_group")
        first = item.get_closest_marker("long") or (group is not None and group.args == MULTI_PROCESS.mark.args)
        return 0 if first else 1

    items.sort(key=place)  # a stable sort: nothing else moves


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


EMPTY_TABLES = "".join(f"DELETE FROM {table};" for table in TABLES)


async def clear(database_url: str) -> None:
    """Empty every table of ``database_url``: one script sent through the driver (asyncpg's simple query, SQLite's
    executescript), in one round trip rather than a statement each."""
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            driver = (await connection.get_raw_connection()).driver_connection
            if engine.dialect.name == "sqlite":
                await driver.executescript(f"BEGIN;{EMPTY_TABLES}COMMIT;")
            else:
                await driver.execute(EMPTY_TABLES)  # several statements without arguments: one transaction
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def apps() -> dict[str, Litestar]:
    """The default app of each database, built once per session (per xdist worker) and kept here."""
    return {}


@pytest.fixture
async def app(database_url: str, apps: dict[str, Litestar]) -> Litestar:
    """The app with the default settings on ``database_url``, whose tables are emptied first.

    Built once per database and reused: building a Litestar app (registering every route) costs more than most
    tests here. Each test's ``client`` runs the app's whole lifespan anew (start-up checks, the webhook delivery
    task) in an event loop of its own. Tests that need other settings build their own app with ``create_app``.
    """
    await clear(database_url)
    if database_url not in apps:
        app = create_app(Settings(database_url=database_url, jwt_secret=TEST_SECRET))
        # The pool's connections belong to one test's event loop, so they must be closed when its lifespan ends.
        # advanced-alchemy 1.12 disposes the engine then only under its default state key, which create_app
        # renames: dispose it here, after the app's own shutdown hooks (the delivery task stops first).
        for config in app.plugins.get(SQLAlchemyPlugin).config:
            app.on_shutdown.append(config.get_engine().dispose)
        apps[database_url] = app
    return apps[database_url]


@pytest.fixture
async def client(app: Litestar) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async with AsyncTestClient(app=app) as client:
        yield client


def bearer(role: Role | str, tenant_id: uuid.UUID | None = None, *, secret: str = TEST_SECRET) -> dict[str, str]:
    # Two hours: PLATFORM below is issued when the suite is imported, and must outlive the whole suite.
    token = issue_token(secret, Role(role), tenant_id, subject="test", ttl=timedelta(hours=2))
    return {"Authorization": f"Bearer {token}"}


PLATFORM = bearer(Role.PLATFORM)


# --- HTTP helpers shared by the integration tests -------------------------------------------------

FEATURES_URL = "/api/v1/billing/features"
PROBLEM_FIELDS = frozenset({"type", "title", "status", "detail"})


def events_url(tenant_id: uuid.UUID | str) -> str:
    return f"/api/v1/billing/tenants/{tenant_id}/usage-events"


def totals_url(tenant_id: uuid.UUID | str) -> str:
    return f"/api/v1/billing/tenants/{tenant_id}/usage-totals"


async def put_features(client: AsyncTestClient[Litestar], *keys: str, unit: str = "requests") -> None:
    """Create (or update) catalog features as the platform role."""
    for key in keys:
        response = await client.put(f"{FEATURES_URL}/{key}", json={"unit": unit}, headers=bearer(Role.PLATFORM))
        assert response.status_code in (200, 201), response.text


async def post_events(
    client: AsyncTestClient[Litestar],
    tenant_id: uuid.UUID | str,
    events: list[dict[str, object]],
    headers: dict[str, str] | None = None,
) -> Response:
    """POST a batch of already-serialised events (as the platform role unless ``headers`` say otherwise)."""
    return await client.post(events_url(tenant_id), json={"events": events}, headers=headers or bearer(Role.PLATFORM))


async def record(client: AsyncTestClient[Litestar], tenant_id: uuid.UUID, *events: dict[str, object]) -> dict[str, int]:
    """POST ``events`` as one batch, expect 200 and return ``{"accepted": ..., "duplicates": ...}``."""
    response = await post_events(client, tenant_id, list(events))
    assert response.status_code == 200, response.text
    body: dict[str, int] = response.json()
    return body


async def quantities(client: AsyncTestClient[Litestar], tenant_id: uuid.UUID | str, **params: object) -> dict[str, int]:
    """``feature_key -> quantity`` of a usage-totals answer (read as the platform role)."""
    response = await client.get(totals_url(tenant_id), params=params, headers=bearer(Role.PLATFORM))
    assert response.status_code == 200, response.text
    return {row["feature_key"]: row["quantity"] for row in response.json()}


def assert_problem(response: Response, status: int, *names: str) -> dict[str, object]:
    """``response`` is RFC 9457 problem details with ``status`` whose ``detail`` mentions every one of ``names``."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json"), response.headers
    body: dict[str, object] = response.json()
    assert body.keys() >= PROBLEM_FIELDS, body
    assert body["status"] == status
    for field in ("type", "title", "detail"):
        assert isinstance(body[field], str), body
        assert body[field], body
    for name in names:
        assert name in body["detail"], f"{name!r} not named in detail {body['detail']!r}"
    return body
