"""Prometheus metrics: they move as requests are served, follow the naming conventions, and never carry a
tenant id. Counters are shared by every app of the test process, so the tests compare before and after."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from tally.app import create_app
from tally.config import Settings
from tally.db.engine import create_engine
from tally.metrics import PoolCollector
from tests.conftest import ONE_DATABASE, TEST_SECRET, bearer, events_url, post_events, put_features, record, totals_url
from tests.e2e.conftest import free_port
from tests.factories import UsageEventFactory, event_json
from tests.prometheus import value

pytestmark = pytest.mark.anyio

EVENTS_PATH = "/api/v1/billing/tenants/{tenant_id}/usage-events"
UUID_PATTERN = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.IGNORECASE)


async def scrape(client: AsyncTestClient[Litestar]) -> str:
    response = await client.get("/metrics")  # no token: the scraper has none
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain"), response.headers
    return response.text


async def test_requests_and_events_are_counted(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    events = [event_json(e) for e in UsageEventFactory.batch(3)]
    before = await scrape(client)

    assert await record(client, tenant, *events) == {"accepted": 3, "duplicates": 0}
    assert await record(client, tenant, *events[:2]) == {"accepted": 0, "duplicates": 2}
    forbidden = await client.post(events_url(tenant), json={"events": events}, headers=bearer("viewer", tenant))
    assert forbidden.status_code == 403
    after = await scrape(client)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    ok = {"method": "POST", "path": EVENTS_PATH, "status_code": "200"}
    assert moved("tally_requests_total", **ok) == 2
    assert moved("tally_request_duration_seconds_count", **ok) == 2
    assert moved("tally_requests_total", path=EVENTS_PATH, status_code="403") == 1
    assert moved("tally_events_accepted_total") == 3
    assert moved("tally_events_duplicate_total") == 2


async def test_no_tenant_id_in_any_label(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    events = [event_json(e) for e in UsageEventFactory.batch(2)]
    await record(client, tenant, *events)
    other = await post_events(client, tenant, events, headers=bearer("admin", uuid.uuid4()))
    assert other.status_code == 403
    assert (await post_events(client, "not-a-uuid", events)).status_code == 400
    text = await scrape(client)
    assert str(tenant) not in text
    assert "not-a-uuid" not in text
    assert not UUID_PATTERN.search(text), UUID_PATTERN.search(text)
    paths = {s.labels["path"] for f in text_string_to_metric_families(text) for s in f.samples if "path" in s.labels}
    assert EVENTS_PATH in paths, paths


@ONE_DATABASE
async def test_metric_names_follow_the_conventions(client) -> None:
    await client.get("/health/live")
    await client.get(totals_url(uuid.uuid4()))  # a 401
    families = {f.name: f for f in text_string_to_metric_families(await scrape(client)) if f.name.startswith("tally")}
    expected = {
        "tally_requests": "counter",
        "tally_request_duration_seconds": "histogram",
        "tally_events_accepted": "counter",
        "tally_events_duplicate": "counter",
        "tally_database_errors": "counter",
        "tally_unauthorized": "counter",
        "tally_jwt_previous_secret_accepted": "counter",
        "tally_db_pool_checked_out_connections": "gauge",
        "tally_db_pool_idle_connections": "gauge",
        "tally_webhook_deliveries_pending": "gauge",
        "tally_webhook_deliveries_delivered": "counter",
        "tally_webhook_deliveries_failed": "counter",
        "tally_webhook_attempt_duration_seconds": "histogram",
    }
    assert {name: families[name].type for name in expected if name in families} == expected
    for name, family in families.items():
        assert re.fullmatch(r"tally_[a-z][a-z0-9_]*[a-z0-9]", name), name
        if family.type == "counter":
            assert all(s.name in (f"{name}_total", f"{name}_created") for s in family.samples), family.samples
        if family.type == "histogram":
            assert name.endswith("_seconds"), name
        if family.type == "gauge":
            assert not name.endswith("_total"), name


@ONE_DATABASE
async def test_unauthorized_requests_are_counted(client) -> None:
    before = value(await scrape(client), "tally_unauthorized_total")
    assert (await client.get(totals_url(uuid.uuid4()))).status_code == 401
    assert value(await scrape(client), "tally_unauthorized_total") - before == 1


async def test_pool_gauges_read_the_apps_pool(client) -> None:
    assert (await client.get("/health/ready")).status_code == 200  # takes a connection and returns it
    # The app's background work (webhook delivery, the period close) may hold a connection for a moment of its own:
    # the gauge reads 0 once it is between rounds.
    for _ in range(50):
        text = await scrape(client)
        if value(text, "tally_db_pool_checked_out_connections") == 0:
            break
        await asyncio.sleep(0.1)
    assert value(text, "tally_db_pool_checked_out_connections") == 0
    assert value(text, "tally_db_pool_idle_connections") >= 1


async def test_pool_collector_counts_connections_in_use(database_url: str) -> None:
    # The app's pool belongs to the test client's event loop; this engine's to the test's, so it can be held here.
    engine = create_engine(database_url)
    registry = CollectorRegistry()
    collector = PoolCollector()
    collector.engine = engine
    registry.register(collector)
    try:
        async with engine.connect() as connection:
            await connection.exec_driver_sql("SELECT 1")
            assert registry.get_sample_value("tally_db_pool_checked_out_connections") == 1
        assert registry.get_sample_value("tally_db_pool_checked_out_connections") == 0
        assert registry.get_sample_value("tally_db_pool_idle_connections") == 1
    finally:
        await engine.dispose()


async def test_database_errors_are_counted() -> None:
    settings = Settings(
        database_url="postgresql+asyncpg://postgres@127.0.0.1:1/none", jwt_secret=TEST_SECRET, db_timeout_seconds=2
    )
    async with AsyncTestClient(app=create_app(settings)) as offline:
        before = value(await scrape(offline), "tally_database_errors_total")
        assert (await offline.get("/health/ready")).status_code == 503
        text = await scrape(offline)  # the scrape itself needs no database
    assert value(text, "tally_database_errors_total") - before == 1
    assert value(text, "tally_requests_total", path="/health/ready", status_code="503") >= 1


@ONE_DATABASE
async def test_metrics_disabled_means_no_route(database_url: str) -> None:
    app = create_app(Settings(database_url=database_url, jwt_secret=TEST_SECRET, metrics_enabled=False))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get("/health/live")).status_code == 200
        assert (await client.get("/metrics")).status_code == 404


@pytest.fixture
async def on_own_port(database_url: str) -> AsyncIterator[tuple[AsyncTestClient[Litestar], int]]:
    port = free_port()
    app = create_app(Settings(database_url=database_url, jwt_secret=TEST_SECRET, metrics_port=port))
    async with AsyncTestClient(app=app) as client:
        yield client, port


@ONE_DATABASE
async def test_metrics_on_their_own_port(on_own_port) -> None:
    client, port = on_own_port
    assert (await client.get("/health/live")).status_code == 200
    assert (await client.get("/metrics")).status_code == 404
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert response.status_code == 200
    assert value(response.text, "tally_requests_total", path="/health/live") >= 1
