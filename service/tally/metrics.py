"""Prometheus metrics: what the app counts, and how they are served (``/metrics`` or a port of their own).

Requests are counted by Tally's middleware (``request_started``), labelled with the route *template*
(``/api/v1/billing/tenants/{tenant_id}/usage-totals``), never the raw path, which holds a tenant id. No
metric here has a tenant label. Counters live in this module, shared by every app of the process; the
database pool is read when scraped.

With several worker processes each keeps its own numbers; set ``PROMETHEUS_MULTIPROC_DIR`` (see
docs/operations.md) to have them summed across workers by prometheus_client's multiprocess mode.
"""

from __future__ import annotations

import errno
import logging
import os
from collections.abc import Iterator
from wsgiref.simple_server import WSGIServer

from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol
from litestar.plugins.prometheus import PrometheusController
from litestar.types import HTTPScope
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, multiprocess, start_http_server
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from tally.domain.usage import IngestResult

logger = logging.getLogger("tally.metrics")

PREFIX = "tally"
# Latency buckets in seconds: totals answer in about 2 ms and a 1,000-event batch in tens of ms, finer
# than prometheus_client's default buckets (which start at 5 ms) can tell apart.
LATENCY_BUCKETS: list[str | float] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

EVENTS_ACCEPTED = Counter("tally_events_accepted_total", "Usage events newly stored")
EVENTS_DUPLICATE = Counter("tally_events_duplicate_total", "Usage events received again under a known key, not counted")
DATABASE_ERRORS = Counter(
    "tally_database_errors_total", "Requests answered 503 because the database was unreachable or timed out"
)
RATE_LIMITED = Counter("tally_rate_limited_total", "Requests answered 429 because a tenant's rate limit was used up")
RATE_LIMIT_STORE_ERRORS = Counter(
    "tally_rate_limit_store_errors_total",
    "Rate-limited requests counted in their process because the database could not count them (shared limits off)",
)
UNAUTHORIZED = Counter("tally_unauthorized_total", "Requests answered 401 (no, invalid or expired bearer token)")
PREVIOUS_SECRET_ACCEPTED = Counter(
    "tally_jwt_previous_secret_accepted_total",
    "Bearer tokens accepted only thanks to TALLY_JWT_PREVIOUS_SECRET (a secret rotation's grace period)",
)

# Webhooks. Counters for what this process did (summed over workers in multiprocess mode); the pending gauge is
# the outbox's backlog as the delivery task last read it (every round, TALLY_WEBHOOK_POLL_SECONDS at most): a
# gauge set by the task rather than a scrape-time collector, because the database is async and a collector is
# not (and multiprocess mode would drop a collector). Every process reads the same table, so the most recent
# value of any process is the answer.
WEBHOOK_ATTEMPTS = Counter(
    "tally_webhook_attempts_total",
    "Webhook delivery attempts, by outcome: delivered (a 2xx), rejected (another status), timeout, unreachable",
    ["outcome"],
)
WEBHOOK_ATTEMPT_SECONDS = Histogram(
    "tally_webhook_attempt_duration_seconds",
    "Time from sending a webhook attempt to its answer (or to giving up on it)",
    buckets=LATENCY_BUCKETS,
)
WEBHOOKS_DELIVERED = Counter("tally_webhook_deliveries_delivered_total", "Webhook deliveries that got their 2xx")
WEBHOOKS_FAILED = Counter(
    "tally_webhook_deliveries_failed_total", "Webhook deliveries given up after their retry window (status failed)"
)
WEBHOOKS_PENDING = Gauge(
    "tally_webhook_deliveries_pending",
    "Webhook deliveries waiting for a successful attempt, as the delivery task last counted them",
    multiprocess_mode="mostrecent",
)


def count_webhook_attempt(outcome: str, seconds: float) -> None:
    WEBHOOK_ATTEMPTS.labels(outcome=outcome).inc()
    WEBHOOK_ATTEMPT_SECONDS.observe(seconds)


# The request metrics, with the names, labels and meaning of Litestar's PrometheusMiddleware (see request_started).
LABELS = ("method", "path", "status_code", "app_name")
METRICS_PATH = "/metrics"  # the scrape itself is not counted
REQUESTS = Counter(f"{PREFIX}_requests_total", "Total requests", LABELS)
REQUEST_TIME = Histogram(
    f"{PREFIX}_request_duration_seconds", "Request duration, in seconds", LABELS, buckets=LATENCY_BUCKETS
)
IN_PROGRESS = Gauge(
    f"{PREFIX}_requests_in_progress", "Total requests currently in progress", LABELS, multiprocess_mode="livesum"
)
ERRORS = Counter(f"{PREFIX}_requests_error_total", "Total errors in requests", LABELS)


def request_started(scope: HTTPScope) -> tuple[str, str] | None:
    """Count a request a route answers as in progress; its (method, route template), or None for the scrape
    itself (not counted). ``request_answered`` ends it. Called by ``tally.http.middleware``, after the token check
    and the rate limit: a request refused with 401 or 429 is counted by those refusals' own metrics.

    The metrics are ``tally_requests_total``, ``tally_request_duration_seconds`` (until the last body message is
    sent), ``tally_requests_in_progress`` and ``tally_requests_error_total`` (status >= 500), labelled by method,
    route template, status and app name: those of Litestar's ``PrometheusMiddleware``, counted by hand because
    that one cost a totals read about 5% of its CPU in a py-spy profile (per request it builds a ``Request``, two
    label dictionaries and four label lookups under prometheus_client's lock). Here each label combination's
    children are kept in a dictionary, so a request costs two dictionary lookups and the observations."""
    if scope["path_template"] == METRICS_PATH:
        return None
    route = (scope["method"], scope["path_template"])
    _in_progress(route).inc()
    return route


def request_answered(route: tuple[str, str], status: int, seconds: float) -> None:
    _in_progress(route).dec()
    requests, request_time, errors = _answered(route, status)
    requests.inc()
    request_time.observe(seconds)
    if errors is not None:
        errors.inc()


_IN_PROGRESS: dict[tuple[str, str], Gauge] = {}
_ANSWERED: dict[tuple[str, str, int], tuple[Counter, Histogram, Counter | None]] = {}


def _in_progress(route: tuple[str, str]) -> Gauge:
    child = _IN_PROGRESS.get(route)
    if child is None:
        child = _IN_PROGRESS[route] = IN_PROGRESS.labels(*route, 200, PREFIX)  # as Litestar's: status always 200
    return child


def _answered(route: tuple[str, str], status: int) -> tuple[Counter, Histogram, Counter | None]:
    key = (*route, status)
    children = _ANSWERED.get(key)
    if children is None:
        labels = (*route, status, PREFIX)
        children = _ANSWERED[key] = (
            REQUESTS.labels(*labels),
            REQUEST_TIME.labels(*labels),
            ERRORS.labels(*labels) if status >= 500 else None,
        )
    return children


def count_ingestion(result: IngestResult) -> None:
    """Called by the usage route once a batch is committed."""
    EVENTS_ACCEPTED.inc(result.accepted)
    EVENTS_DUPLICATE.inc(result.duplicates)


def multiprocess_mode() -> bool:
    return "PROMETHEUS_MULTIPROC_DIR" in os.environ


class PoolCollector(Collector):
    """The database pool of this process's app, read at scrape time.

    A collector rather than ``Gauge.set_function``: in multiprocess mode a gauge is read from files that
    ``set_function`` never writes, so it would show 0; a collector on the process registry is simply not
    exported there (one process cannot read another's pool).
    """

    engine: AsyncEngine | None = None

    def collect(self) -> Iterator[Metric]:
        pool = self.engine.sync_engine.pool if self.engine is not None else None
        if isinstance(pool, QueuePool):  # the pool of every file or server database (not :memory:)
            yield GaugeMetricFamily(
                "tally_db_pool_checked_out_connections",
                "Database connections currently in use by requests",
                value=pool.checkedout(),
            )
            yield GaugeMetricFamily(
                "tally_db_pool_idle_connections",
                "Open database connections waiting in the pool",
                value=pool.checkedin(),
            )


POOL = PoolCollector()
REGISTRY.register(POOL)


class MetricsController(PrometheusController):
    """``GET /metrics``: open to the scraper (no token), and not part of the API's OpenAPI document."""

    include_in_schema = False
    opt = {"exclude_from_auth": True}


def scraped_registry() -> CollectorRegistry:
    """What a scrape reports: this process's registry, or every worker's numbers in multiprocess mode (the
    choice ``PrometheusController`` makes too)."""
    if not multiprocess_mode():
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
    return registry


class MetricsPlugin(InitPluginProtocol):
    """Adds ``/metrics`` or the metrics port (``TALLY_METRICS_PORT``); requests are counted by the middleware
    (``tally.http.middleware``)."""

    def __init__(self, engine: AsyncEngine, port: int | None = None) -> None:
        self.engine = engine
        self.port = port
        self.server: WSGIServer | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        if self.port is None:
            app_config.route_handlers.append(MetricsController)
        app_config.on_startup.append(self.start)
        app_config.on_shutdown.append(self.stop)
        return app_config

    def start(self) -> None:
        POOL.engine = self.engine
        if self.port is None:
            return
        try:
            self.server, _ = start_http_server(self.port, registry=scraped_registry())
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE or not multiprocess_mode():
                raise
            # Every worker tries; the first one serves the metrics of all of them.
            logger.info("metrics port %d is served by another worker", self.port)

    def stop(self) -> None:
        if POOL.engine is self.engine:
            POOL.engine = None
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
        if multiprocess_mode():
            multiprocess.mark_process_dead(os.getpid())  # type: ignore[no-untyped-call]


# The read replica (TALLY_DATABASE_READ_URL), as this process's lag check last saw it (see tally.db.replica).
READ_REPLICA_LAG = Gauge(
    "tally_read_replica_lag_seconds",
    "How far the read replica's replay was behind the primary at the last check (0: caught up)",
    multiprocess_mode="mostrecent",
)
READ_REPLICA_IN_USE = Gauge(
    "tally_read_replica_in_use",
    "1 while reads go to the read replica, 0 while they go to the primary (behind, down, or not checked yet)",
    multiprocess_mode="mostrecent",
)
READ_FALLBACKS = Counter(
    "tally_read_fallbacks_total", "Reads served by the primary because the read replica was behind or down"
)
