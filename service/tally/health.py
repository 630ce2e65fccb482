"""Liveness and readiness, open to everyone (no token): what a load balancer or orchestrator polls."""

from __future__ import annotations

import asyncio

import msgspec
from litestar import Controller, get
from litestar.di import NamedDependency
from sqlalchemy.ext.asyncio import AsyncEngine

from tally.config import Settings
from tally.db.migrate import schema_problem
from tally.domain.errors import SchemaNotMigrated
from tally.http.openapi import problems


class Health(msgspec.Struct, kw_only=True, frozen=True):
    status: str


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
        summary="The database answers and is migrated",
        description=(
            "200 when the database answers within the database timeout and its schema is at the code's revision, "
            "else 503 problem details (`urn:tally:problem:database-unavailable` or "
            "`urn:tally:problem:schema-not-migrated`)."
        ),
        responses=problems(),
    )
    async def ready(self, db_engine: NamedDependency[AsyncEngine], settings: NamedDependency[Settings]) -> Health:
        # An unreachable database or the timeout raises; tally.http.problems answers those with 503.
        async with asyncio.timeout(settings.db_timeout_seconds), db_engine.connect() as connection:
            problem = await schema_problem(connection)
        if problem:
            raise SchemaNotMigrated(problem)
        return Health(status="ok")
