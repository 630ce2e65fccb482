"""``create_app()``: the one place the application is assembled."""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from advanced_alchemy.extensions.litestar import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.openapi import OpenAPIConfig
from litestar.openapi.spec import Components, SecurityScheme
from litestar.security.jwt import JWTAuth
from litestar.types import Middleware

from tally import __version__
from tally.allow_header import allow_header_fix
from tally.auth import ALGORITHM, Principal, TallyToken, generate_secret, principal_from_token
from tally.catalog.controller import CatalogController
from tally.catalog.service import CatalogService, read_catalog_file
from tally.config import Settings
from tally.db.engine import create_engine
from tally.errors import problem_details_plugin
from tally.health import HealthController
from tally.logs import echo_request_id, logging_config, request_id_middleware
from tally.metrics import MetricsPlugin
from tally.plans.controller import PlanController, TenantPlanController
from tally.rate_limit import limiter_from
from tally.ui import template_config, usage_pages
from tally.usage.controller import UsageController

logger = logging.getLogger("tally")

API_DESCRIPTION = """\
Tally records metered usage exactly once and answers how much of each feature a tenant used in a
period. Every `/api/v1` route needs `Authorization: Bearer <JWT>` (HS256); errors are RFC 9457
problem details (`application/problem+json`).
"""


def first_middleware(middleware: Middleware) -> Callable[[AppConfig], AppConfig]:
    def on_app_init(app_config: AppConfig) -> AppConfig:
        app_config.middleware.insert(0, middleware)
        return app_config

    return on_app_init


def create_app(settings: Settings | None = None) -> Litestar:
    """Build the app from ``settings`` (read from the environment when omitted)."""
    settings = settings or Settings.from_env()
    secret = settings.jwt_secret or generate_secret()
    engine = create_engine(settings)
    db = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        set_default_exception_handler=False,
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

    async def load_catalog_file() -> None:
        if settings.catalog_file:
            catalog = read_catalog_file(Path(settings.catalog_file))
            async with db.get_session() as session:
                await CatalogService(session).load(catalog.features, catalog.plans)
            logger.info("catalog file loaded: %d features, %d plans", len(catalog.features), len(catalog.plans))

    plugins = [SQLAlchemyPlugin(config=db), problem_details_plugin(settings.retry_after_seconds)]
    if settings.metrics_enabled:
        plugins.append(MetricsPlugin(engine, port=settings.metrics_port))
    limiter = limiter_from(settings.rate_limit_reads, settings.rate_limit_writes, settings.rate_limit_window_seconds)
    fix_allow, learn_routes = allow_header_fix()
    app = Litestar(
        route_handlers=[
            HealthController,
            CatalogController,
            UsageController,
            PlanController,
            TenantPlanController,
            usage_pages(auth),
        ],
        middleware=[limiter.middleware()] if limiter else [],
        template_config=template_config(),
        plugins=plugins,
        # The request id middleware goes first, before JWTAuth's (which auth.on_app_init puts first).
        on_app_init=[auth.on_app_init, first_middleware(request_id_middleware)],
        before_send=[echo_request_id, fix_allow],
        on_startup=[load_catalog_file],
        dependencies={"settings": Provide(lambda: settings, sync_to_thread=False)},
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
            use_handler_docstrings=False,
        ),
        logging_config=logging_config(settings.log_level),
    )
    learn_routes(app)
    return app
