"""``create_app()``: the one place the application is assembled."""

from __future__ import annotations

import gc
import itertools
import logging
from datetime import timedelta
from functools import partial
from pathlib import Path

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.plugins import PluginProtocol
from litestar.security.jwt import JWTAuth
from litestar.types import BeforeMessageSendHookHandler
from sqlalchemy import exc as sa_exc

from tally import __version__
from tally.catalog.controller import CatalogController
from tally.catalog_file import load_catalog, read_catalog_file
from tally.config import Settings
from tally.credits.controller import GrantController
from tally.db import dialects
from tally.db.engine import create_engine, session_closer
from tally.db.migrate import missing_database, schema_problem
from tally.db.replica import ReadReplica
from tally.db.terms import TermsListener
from tally.health import HealthController
from tally.http.allow_header import allow_header_fix
from tally.http.auth import (
    ALGORITHM,
    Principal,
    TallyToken,
    check_permission,
    check_permissions_are_checked,
    generate_secret,
    principal_from_token,
)
from tally.http.middleware import middleware
from tally.http.openapi import ClosedStructSchemaPlugin
from tally.http.problems import problem_details_plugin, validation_problem
from tally.http.rate_limit import limiter_from
from tally.http.strict_input import StrictRequest
from tally.logs import echo_request_id, logging_config
from tally.metrics import MetricsPlugin
from tally.periods.closer import PeriodCloser
from tally.periods.controller import PeriodController
from tally.plans.controller import PlanController, TenantPlanController
from tally.providers import dependencies
from tally.reservations.controller import ReservationController
from tally.ui import template_config, usage_pages
from tally.usage.controller import UsageController
from tally.usage.reading import READ_CONNECTION
from tally.webhooks.controller import WebhookController
from tally.webhooks.delivery import Deliverer

logger = logging.getLogger("tally")
_APPS = itertools.count()

# Any database failure at start-up: readiness reports it (503) rather than the app failing to start.
NOT_USABLE_YET: tuple[type[Exception], ...] = (sa_exc.SQLAlchemyError, OSError, TimeoutError)

API_DESCRIPTION = """\
Tally records metered usage exactly once and answers how much of each feature a tenant used in a
period. Every `/api/v1` route needs `Authorization: Bearer <JWT>` (HS256); errors are RFC 9457
problem details (`application/problem+json`).
"""


def freeze_startup_objects() -> None:
    """Once per process, after the first app has started: what exists then (modules, the app, SQLAlchemy's and
    Litestar's structures) lives as long as the process, so the garbage collector stops scanning it
    (``gc.freeze``). A full collection, which came every few hundred requests, then scans only what came since:
    it was the slowest answers' delay."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.collect()
        gc.freeze()


_frozen = False


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app from ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings.from_env()
    secret = settings.jwt_secret or generate_secret()
    engine = create_engine(settings.database_url, pool_size=settings.db_pool_size, timeout=settings.db_timeout_seconds)
    # Each app its own state keys: advanced-alchemy registers every config's keys in a class-level set and finds a
    # free name by recursing once per earlier app of the process, which overflows after about a thousand apps
    # (a test suite builds one per test).
    n = next(_APPS)
    db = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        set_default_exception_handler=False,
        session_scope_key=f"_sqlalchemy_db_session_{n}",
        before_send_handler=session_closer(f"_sqlalchemy_db_session_{n}"),
        engine_app_state_key=f"db_engine_{n}",
        session_maker_app_state_key=f"session_maker_class_{n}",
    )
    auth = JWTAuth[Principal](
        token_secret=secret,
        algorithm=ALGORITHM,
        retrieve_user_handler=principal_from_token,
        token_cls=TallyToken.accepting(settings.jwt_previous_secret, settings.jwt_previous_secret_until),
        exclude=["^/health", "^/schema", "^/usage"],  # the usage pages check their cookie themselves
        openapi_security_scheme_name="BearerToken",
        description="HS256 JWT with claims sub, exp, role and tenant_id (absent for the platform role).",
    )

    async def check_schema() -> None:
        """Say at start-up when the database is not migrated (``tally serve`` refuses to start then; under a bare
        ``uvicorn`` this line and a 503 from /health/ready are what an operator sees: a failing start-up hook
        would print Litestar's traceback instead)."""
        try:
            problem = missing_database(engine)
            if problem is None:
                async with engine.connect() as connection:
                    problem = await schema_problem(connection)
        except NOT_USABLE_YET as exc:  # the process stays up, and recovers by itself
            logger.warning("database not usable at start-up (%s); /health/ready says why", type(exc).__name__)
            return
        if problem:
            logger.error("not ready: %s", problem)

    async def load_catalog_file() -> None:
        if settings.catalog_file:
            catalog = read_catalog_file(Path(settings.catalog_file))
            async with db.get_session() as session:
                await load_catalog(session, catalog.features, catalog.plans)
            logger.info("catalog file loaded: %d features, %d plans", len(catalog.features), len(catalog.plans))

    # Webhook deliveries run in each serving process: several processes share the outbox through the database.
    deliverer = (
        Deliverer(
            engine,
            allow_private=settings.webhook_allow_private,
            retry_for=timedelta(hours=settings.webhook_retry_hours),
            retry_base=timedelta(seconds=settings.webhook_retry_base_seconds),
            poll_seconds=settings.webhook_poll_seconds,
            timeout=timedelta(seconds=settings.webhook_timeout_seconds),
            lease=timedelta(seconds=settings.webhook_lease_seconds),
        )
        if settings.webhook_delivery_enabled
        else None
    )

    # Reads that may be a little behind go to a streaming standby while it keeps up (see tally.db.replica).
    replica = (
        ReadReplica(
            settings.database_read_url,
            engine,
            max_lag=settings.read_max_lag_seconds,
            pool_size=settings.db_pool_size,
            timeout=settings.db_timeout_seconds,
        )
        if settings.database_read_url
        else None
    )
    # Periods whose grace has passed are recorded closed by every serving process (see tally.periods.closer).
    closer = (
        PeriodCloser(engine, poll_seconds=settings.period_close_poll_seconds, totals_source=settings.totals_source)
        if settings.period_close_enabled
        else None
    )
    # Plan terms cached in the process while it hears of every change (PostgreSQL's LISTEN; see tally.db.terms).
    dialect = dialects.for_url(settings.database_url)
    terms = TermsListener(engine, timeout=settings.db_timeout_seconds) if dialect.notifies else None
    # Started and stopped with the app.
    background = [work for work in (deliverer, replica, closer, terms) if work is not None]
    read_connection = replica.connect if replica is not None else partial(dialect.connect, engine)

    plugins: list[PluginProtocol] = [
        SQLAlchemyPlugin(config=db),
        problem_details_plugin(settings.retry_after_seconds, settings.max_body_bytes),
        ClosedStructSchemaPlugin(),
    ]
    if settings.metrics_enabled:
        plugins.append(MetricsPlugin(engine, port=settings.metrics_port))
    limiter = limiter_from(
        settings.rate_limit_reads,
        settings.rate_limit_writes,
        settings.rate_limit_window_seconds,
        settings.rate_limit_store,
        engine,
    )
    fix_allow, learn_routes = allow_header_fix()
    before_send: list[BeforeMessageSendHookHandler] = [echo_request_id, fix_allow]
    if settings.otel_enabled:
        from tally.tracing import tracing  # the otel extra: imported only when asked for

        otel_plugin, name_span = tracing(engine)
        plugins.append(otel_plugin)
        before_send.append(name_span)
    app = Litestar(
        route_handlers=[
            HealthController,
            CatalogController,
            UsageController,
            PlanController,
            TenantPlanController,
            PeriodController,
            GrantController,
            ReservationController,
            WebhookController,
            usage_pages(auth),
        ],
        middleware=middleware(authentication=auth.middleware, limiter=limiter, metrics=settings.metrics_enabled),
        template_config=template_config(),
        plugins=plugins,
        request_class=StrictRequest,
        exception_handlers={ValidationException: validation_problem},
        before_request=check_permission,  # each route's permission (``requires``)
        before_send=before_send,
        on_startup=[check_schema, load_catalog_file, *(work.start for work in background), freeze_startup_objects],
        # Background work stops first, then the pool closes its connections. advanced-alchemy's own dispose looks
        # the engine up under its default state key, which each app here renames (see above), so it never ran.
        on_shutdown=[*(work.stop for work in reversed(background)), engine.dispose],
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False), **dependencies()},
        # For the providers that would otherwise run beside db_session, and the read routes' connections.
        state=State({"settings": settings, READ_CONNECTION: read_connection}),
        request_max_body_size=settings.max_body_bytes,
        openapi_config=OpenAPIConfig(
            title="Tally",
            version=__version__,
            description=API_DESCRIPTION,
            path="/schema",
            components=Components(
                security_schemes={
                    "BearerToken": SecurityScheme(type="http", scheme="bearer", bearer_format="JWT"),
                }
            ),
            # JWTAuth's middleware is a step of Tally's; its on_app_init, which would add it first, is not used.
            security=[auth.security_requirement],
            use_handler_docstrings=False,
        ),
        logging_config=logging_config(settings.log_level),
    )
    learn_routes(app)
    check_permissions_are_checked(app)
    return app
