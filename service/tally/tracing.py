"""OpenTelemetry traces, off unless ``TALLY_OTEL_ENABLED=true`` (needs the ``otel`` extra).

Litestar's ``OpenTelemetryPlugin`` makes one server span per request; the SQLAlchemy instrumentation adds a
child span per statement. Spans go to the process's global tracer provider: one the operator configured (for
example by running under ``opentelemetry-instrument``) is used as it is; otherwise Tally installs the SDK's
provider exporting OTLP over HTTP, which reads the standard ``OTEL_*`` variables (``OTEL_EXPORTER_OTLP_ENDPOINT``,
``OTEL_SERVICE_NAME``, ...).

A server span is named by the route template (``GET /api/v1/billing/tenants/{tenant_id}/usage-totals``), never
the raw path: names stay few, and a tenant id does not become one.
"""

from __future__ import annotations

import os
from typing import Any

from litestar.plugins.opentelemetry import OpenTelemetryConfig, OpenTelemetryPlugin
from litestar.types import BeforeMessageSendHookHandler, Message, Scope
from opentelemetry import metrics, trace
from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer
from opentelemetry.sdk.resources import Resource
from opentelemetry.semconv.attributes.http_attributes import HTTP_ROUTE
from sqlalchemy.ext.asyncio import AsyncEngine


def tracing(engine: AsyncEngine) -> tuple[OpenTelemetryPlugin, BeforeMessageSendHookHandler]:
    """The plugin that traces requests, and the ``before_send`` hook that names their spans; ``engine``'s
    statements are traced from now on."""
    provider = trace.get_tracer_provider()
    if isinstance(provider, trace.ProxyTracerProvider):  # nobody configured the SDK in this process
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        sdk = TracerProvider(resource=Resource.create({} if _service_named() else {"service.name": "tally"}))
        sdk.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        trace.set_tracer_provider(sdk)
        provider = trace.get_tracer_provider()
    # The engine's tracer by hand: SQLAlchemyInstrumentor().instrument(engine=...) would also patch SQLAlchemy's
    # create_engine for the whole process, and instruments only once per process (tests build many apps).
    connections = metrics.get_meter("tally").create_up_down_counter("db.client.connections.usage")
    EngineTracer(provider.get_tracer("tally.db"), engine.sync_engine, connections)  # type: ignore[no-untyped-call]
    config = OpenTelemetryConfig(
        tracer_provider=provider,
        scope_span_details_extractor=_method_only,
        exclude_spans=["receive", "send"],
    )
    return OpenTelemetryPlugin(config), _name_span_by_route


def _service_named() -> bool:
    """Whether the operator named the service (Resource.create would let our default win over their name)."""
    attributes = os.environ.get("OTEL_RESOURCE_ATTRIBUTES", "")
    return bool(os.environ.get("OTEL_SERVICE_NAME")) or "service.name=" in attributes


def _method_only(scope: Scope) -> tuple[str, dict[str, Any]]:
    # The route is not known yet when the span starts (routing comes later): the method, renamed at the answer.
    return str(scope.get("method", "HTTP")), {}


async def _name_span_by_route(message: Message, scope: Scope) -> None:
    if message["type"] == "http.response.start" and (template := scope.get("path_template")):
        span = trace.get_current_span()
        span.update_name(f"{scope.get('method')} {template}")
        span.set_attribute(HTTP_ROUTE, template)
