"""Liveness and readiness, open to everyone (no token): what a load balancer or orchestrator polls."""

from __future__ import annotations

import asyncio

from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.config import Settings
from tally.db.engine import ping
from tally.domain.models import Health
from tally.openapi_docs import problems


class HealthController(Controller):
    path = "/health"
    tags = ["health"]
    opt = {"exclude_from_auth": True}
    security = [{}]  # an empty requirement: these routes need no token (the API's bearer scheme is global)

    @get("/live", operation_id="health_live", summary="The process is running")
    async def live(self) -> Health:
        return Health(status="ok")

    @get(
        "/ready",
        operation_id="health_ready",
        summary="The database answers",
        description="200 when a trivial query succeeds within the database timeout, else 503 problem details.",
        responses=problems(),
    )
    async def ready(self, db_engine: NamedDependency[AsyncEngine], settings: NamedDependency[Settings]) -> Health:
        # An unreachable database or the timeout raises; tally.errors answers those with 503.
        async with asyncio.timeout(settings.db_timeout_seconds):
            await ping(db_engine)
        return Health(status="ok")
