"""Per-tenant rate limits (``TALLY_RATE_LIMIT_*``): off by default; reads and writes counted apart, per tenant.

Windows are a day long, so that no test's requests straddle a window's end in practice.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY

from tally.app import create_app
from tally.config import ConfigError, Settings
from tally.http.auth import Role
from tests.conftest import (
    TEST_SECRET,
    assert_problem,
    bearer,
    clear,
    events_url,
    post_events,
    put_features,
    quantities,
    totals_url,
)

pytestmark = pytest.mark.anyio

DAY = 86400


@pytest.fixture
async def limited(database_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of an app allowing 3 reads and 2 writes per tenant and day."""
    await clear(database_url)
    settings = Settings(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        rate_limit_reads=3,
        rate_limit_writes=2,
        rate_limit_window_seconds=DAY,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        await put_features(client, "api_calls")
        yield client


def event(key: str, quantity: int = 1) -> dict[str, object]:
    return {"feature_key": "api_calls", "quantity": quantity, "idempotency_key": key}


def assert_rate_limited(response, name: str, limit: int) -> None:
    body = assert_problem(response, 429, name, str(limit))
    assert body["type"] == "urn:tally:problem:rate-limited"
    assert 1 <= int(response.headers["retry-after"]) <= DAY
    assert response.headers["ratelimit-policy"] == f'"{name}";q={limit};w={DAY}'
    assert re.fullmatch(rf'"{name}";r=0;t=\d+', response.headers["ratelimit"]), response.headers


async def test_no_limit_by_default(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    for i in range(25):
        assert (await post_events(client, tenant, [event(f"k{i}")])).status_code == 200
        response = await client.get(totals_url(tenant), headers=bearer(Role.PLATFORM))
        assert response.status_code == 200
        assert "ratelimit" not in response.headers


async def test_reads_over_the_limit_are_429_with_retry_after(limited) -> None:
    tenant = uuid.uuid4()
    headers = bearer(Role.VIEWER, tenant)
    remaining = []
    for url in (totals_url(tenant), events_url(tenant), totals_url(tenant)):
        response = await limited.get(url, headers=headers)
        assert response.status_code == 200, response.text
        assert response.headers["ratelimit-policy"] == f'"reads";q=3;w={DAY}'
        remaining.append(response.headers["ratelimit"].split(";")[1])
    assert remaining == ["r=2", "r=1", "r=0"]
    limited_before = REGISTRY.get_sample_value("tally_rate_limited_total") or 0
    assert_rate_limited(await limited.get(totals_url(tenant), headers=headers), "reads", 3)
    assert REGISTRY.get_sample_value("tally_rate_limited_total") == limited_before + 1
    assert_rate_limited(await limited.get(events_url(tenant), headers=bearer(Role.PLATFORM)), "reads", 3)
    # Per tenant: another tenant reads on; writes have their own quota.
    other = uuid.uuid4()
    assert (await limited.get(totals_url(other), headers=bearer(Role.VIEWER, other))).status_code == 200
    assert (await post_events(limited, tenant, [event("w1")])).status_code == 200


async def test_writes_over_the_limit_are_429_and_store_nothing(limited) -> None:
    tenant = uuid.uuid4()
    for i in range(2):
        response = await post_events(limited, tenant, [event(f"k{i}", 10)], headers=bearer(Role.ADMIN, tenant))
        assert response.status_code == 200, response.text
    refused = await post_events(limited, tenant, [event("k2", 1000)], headers=bearer(Role.ADMIN, tenant))
    assert_rate_limited(refused, "writes", 2)
    void = await limited.post(f"{events_url(tenant)}/k0/void", json={"reason": "x"}, headers=bearer(Role.PLATFORM))
    assert_rate_limited(void, "writes", 2)
    assert await quantities(limited, tenant) == {"api_calls": 20}


async def test_refused_requests_spend_no_quota_of_the_tenant_in_the_path(limited) -> None:
    """A token of tenant A (403) or no token (401) on tenant B's routes cannot use up B's quota."""
    victim, attacker = uuid.uuid4(), uuid.uuid4()
    for _ in range(10):
        assert (await limited.get(totals_url(victim), headers=bearer(Role.VIEWER, attacker))).status_code == 403
        assert (await limited.get(totals_url(victim))).status_code == 401
        forbidden = await post_events(limited, victim, [event("x")], headers=bearer(Role.ADMIN, attacker))
        assert forbidden.status_code == 403
    assert (
        (await limited.get(totals_url(victim), headers=bearer(Role.VIEWER, victim)))
        .headers["ratelimit"]
        .startswith('"reads";r=2;')
    )
    assert (await post_events(limited, victim, [event("y")], headers=bearer(Role.ADMIN, victim))).status_code == 200


@pytest.mark.parametrize(
    ("variable", "value"),
    [("TALLY_RATE_LIMIT_READS", "0"), ("TALLY_RATE_LIMIT_WRITES", "-1"), ("TALLY_RATE_LIMIT_WINDOW_SECONDS", "0")],
)
def test_bad_rate_limit_settings_stop_the_start(variable: str, value: str) -> None:
    with pytest.raises(ConfigError, match=variable):
        Settings.from_env({"TALLY_JWT_SECRET": TEST_SECRET, variable: value})


def two_apps(database_url: str, store: str | None) -> tuple[Litestar, Litestar]:
    """Two apps on one database, as two worker processes (or hosts) are: each its own limiter."""
    settings = Settings(
        database_url=database_url,
        jwt_secret=TEST_SECRET,
        rate_limit_reads=3,
        rate_limit_window_seconds=DAY,
        rate_limit_store=store,  # type: ignore[arg-type]
    )
    return create_app(settings), create_app(settings)


@pytest.mark.parametrize("store", [None, "database", "process"])
async def test_processes_share_the_limit_through_the_database(
    database_url: str, store: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    """The database store (PostgreSQL's default, SQLite's on request) counts for every process together: 3 reads
    between two apps; the process store (SQLite's default) lets each app admit 3, and says so at start-up."""
    await clear(database_url)
    with caplog.at_level("WARNING", logger="tally.http.rate_limit"):
        first, second = two_apps(database_url, store)
    shared = (store or ("database" if database_url.startswith("postgresql") else "process")) == "database"
    assert any("per process" in r.getMessage() for r in caplog.records) == (not shared)
    tenant = uuid.uuid4()
    headers = bearer(Role.VIEWER, tenant)
    async with AsyncTestClient(app=first) as a, AsyncTestClient(app=second) as b:
        statuses = [
            (await client.get(totals_url(tenant), headers=headers)).status_code for client in (a, b, a, b, a, b)
        ]
    assert statuses == ([200, 200, 200, 429, 429, 429] if shared else [200] * 6)


async def test_a_database_that_cannot_count_leaves_each_process_its_own_limit() -> None:
    """Fail open to the process's counters, counted by a metric: a database outage must not refuse every tenant
    with 429 (the route itself then answers 503)."""
    settings = Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/tally",  # nothing listens on port 1
        jwt_secret=TEST_SECRET,
        db_timeout_seconds=1,
        rate_limit_reads=2,
        rate_limit_window_seconds=DAY,
    )
    tenant = uuid.uuid4()
    errors_before = REGISTRY.get_sample_value("tally_rate_limit_store_errors_total") or 0
    async with AsyncTestClient(app=create_app(settings)) as client:
        statuses = [
            (await client.get(totals_url(tenant), headers=bearer(Role.VIEWER, tenant))).status_code for _ in range(3)
        ]
    assert statuses == [503, 503, 429]
    assert REGISTRY.get_sample_value("tally_rate_limit_store_errors_total") == errors_before + 3


def test_an_unknown_rate_limit_store_stops_the_start() -> None:
    with pytest.raises(ConfigError, match="TALLY_RATE_LIMIT_STORE"):
        Settings.from_env({"TALLY_JWT_SECRET": TEST_SECRET, "TALLY_RATE_LIMIT_STORE": "redis"})
