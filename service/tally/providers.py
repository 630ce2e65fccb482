"""Every service as a route or page receives it, built in one place: which session (or, for the readers, which
connection) each one stands on has one answer here. ``create_app`` registers them once, for the whole app.

Each provider takes at most one dependency (a session, or the reader): Litestar resolves two dependencies of one level
concurrently in an anyio task group, which cost a totals read about 5% of its CPU; the settings come from the
app's state, which is no dependency.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta

from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from sqlalchemy.ext.asyncio import AsyncSession

from tally.catalog.service import CatalogService
from tally.config import Settings
from tally.credits.service import GrantService
from tally.periods.service import PeriodService
from tally.plans.entitlements import Entitlements
from tally.plans.service import PlanService
from tally.reservations.service import ReservationService
from tally.usage.reading import UsageReader, reading
from tally.usage.recording import UsageRecorder
from tally.webhooks.service import WebhookService


def recorder(session: AsyncSession, settings: Settings) -> UsageRecorder:
    skew = timedelta(seconds=settings.future_skew_seconds)
    return UsageRecorder(session, future_skew=skew, totals_source=settings.totals_source)


async def provide_recorder(db_session: NamedDependency[AsyncSession], state: State) -> UsageRecorder:
    return recorder(db_session, state.settings)


async def provide_reader(state: State) -> AsyncIterator[UsageReader]:
    """``usage``: a reader on one pooled connection of the read routes (``tally.usage.reading.reading``), given back
    when the handler returns. No session: the totals and the entitlement check run their statements on the
    connection itself, which cost less CPU than a session's checkout, ORM execution and close; a read that needs the
    ORM makes a session on that connection (see ``UsageReader``)."""
    async with reading(state) as usage:
        yield usage


async def provide_entitlements(usage: NamedDependency[UsageReader]) -> Entitlements:
    """On the reader's connection: a replica's, if any. The hard limits' check while usage is recorded reads on the
    primary, inside the write's transaction."""
    return Entitlements(usage)


async def provide_plans(db_session: NamedDependency[AsyncSession]) -> PlanService:
    return PlanService(db_session)


async def provide_periods(db_session: NamedDependency[AsyncSession], state: State) -> PeriodService:
    return PeriodService(db_session, totals_source=state.settings.totals_source)


async def provide_catalog(db_session: NamedDependency[AsyncSession]) -> CatalogService:
    return CatalogService(db_session)


async def provide_grants(db_session: NamedDependency[AsyncSession], state: State) -> GrantService:
    return GrantService(db_session, totals_source=state.settings.totals_source)


async def provide_reservations(recorder: NamedDependency[UsageRecorder]) -> ReservationService:
    """On the recorder's session: a commit records its usage in the hold's transaction."""
    return ReservationService(recorder)


async def provide_webhooks(db_session: NamedDependency[AsyncSession], state: State) -> WebhookService:
    return WebhookService(db_session, allow_private=state.settings.webhook_allow_private)


def dependencies() -> dict[str, Provide]:
    """The app's services by the names handlers ask for. ``usage`` (the read routes, the usage page) is a reader
    on a connection of the app state's ``READ_CONNECTION``: a read replica's when there is one, else the primary's."""
    return {
        "recorder": Provide(provide_recorder),
        "usage": Provide(provide_reader),
        "entitlements": Provide(provide_entitlements),
        "plans": Provide(provide_plans),
        "periods": Provide(provide_periods),
        "catalog": Provide(provide_catalog),
        "webhooks": Provide(provide_webhooks),
        "grants": Provide(provide_grants),
        "reservations": Provide(provide_reservations),
    }
