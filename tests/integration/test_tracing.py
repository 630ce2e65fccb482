"""OpenTelemetry (the ``otel`` extra): off by default; when on, a request makes a server span named by its
route, with a child span per database statement, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid

import pytest
from litestar.testing import AsyncTestClient
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from tally.app import create_app
from tally.config import Settings
from tests.conftest import ONE_DATABASE, TEST_SECRET, bearer, clear, put_features, record, totals_url

pytestmark = pytest.mark.anyio

TENANT = uuid.uuid4()


@pytest.fixture(scope="session")
def spans() -> InMemorySpanExporter:
    """The process's tracer provider (settable once per process), keeping finished spans in memory, as an operator's
    SDK set-up would export them."""
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    return exporter


async def totals_request(database_url: str, spans: InMemorySpanExporter, **settings: bool) -> list:
    """The spans finished while a totals request was answered, by an app made with ``settings``."""
    await clear(database_url)
    app = create_app(Settings(database_url=database_url, jwt_secret=TEST_SECRET, **settings))
    async with AsyncTestClient(app=app) as client:
        await put_features(client, "api_calls")
        await record(client, TENANT, {"feature_key": "api_calls", "quantity": 3, "idempotency_key": "k1"})
        spans.clear()
        response = await client.get(totals_url(TENANT), headers=bearer("viewer", TENANT))
        assert response.status_code == 200, response.text
    return list(spans.get_finished_spans())


async def test_a_totals_request_makes_a_server_span_with_database_spans(
    database_url: str, spans: InMemorySpanExporter
) -> None:
    finished = await totals_request(database_url, spans, otel_enabled=True)
    servers = [s for s in finished if s.kind is SpanKind.SERVER]
    assert [s.name for s in servers] == ["GET /api/v1/billing/tenants/{tenant_id}/usage-totals"]
    server = servers[0]
    assert server.attributes is not None
    assert server.attributes["http.route"] == "/api/v1/billing/tenants/{tenant_id}/usage-totals"
    statements = [s for s in finished if s.kind is SpanKind.CLIENT]
    assert statements, [s.name for s in finished]
    assert all(s.context.trace_id == server.context.trace_id for s in statements)
    assert any("SELECT" in str((s.attributes or {}).get("db.statement", "")) for s in statements)


@ONE_DATABASE
async def test_tracing_is_off_by_default(database_url: str, spans: InMemorySpanExporter) -> None:
    assert Settings().otel_enabled is False
    assert await totals_request(database_url, spans) == []
