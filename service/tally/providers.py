"""Every service as a route or page receives it, built in one place: which session each one stands on has one
answer here. ``create_app`` registers them once, for the whole app.

Each provider takes one dependency (a session, or the reader): Litestar resolves two dependencies of one level
concurrently in an anyio task group, which cost a totals read about 5% of its CPU; the settings come from the
app's state, which is no dependency.
"""

from __future__ import annotations

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
from tally.usage.reading import UsageReader
from tally.usage.recording import UsageRecorder
from tally.webhooks.service import WebhookService


def recorder(session: AsyncSession, settings: Settings) -> UsageRecorder:
    skew = timedelta(seconds=settings.future_skew_seconds)
    return UsageRecorder(session, future_skew=skew, totals_source=settings.totals_source)


def reader(session: AsyncSession, settings: Settings) -> UsageReader:
    """A reader as every read path builds it (routes, the usage page, ``tally usage export``)."""
    return UsageReader(session, totals_source=settings.totals_source)


async def provide_recorder(db_session: NamedDependency[AsyncSession], state: State) -> UsageRecorder:
    return recorder(db_session, state.settings)


async def provide_reader(db_session: NamedDependency[AsyncSession], state: State) -> UsageReader:
    return reader(db_session, state.settings)


async def provide_replica_reader(read_session: NamedDependency[AsyncSession], state: State) -> UsageReader:
    """``usage`` with a read replica: a reader on the replica's session (the primary's while it lags)."""
    return reader(read_session, state.settings)


async def provide_entitlements(usage: NamedDependency[UsageReader]) -> Entitlements:
    """On the reader's session: a replica's, if any. The hard limits' check while usage is recorded reads on the
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


def dependencies(*, read_replica: bool) -> dict[str, Provide]:
    """The app's services by the names handlers ask for. ``usage`` (every read route, the usage page) is a reader
    on a read replica's session when there is one, else on the primary's ``db_session`` at no extra level."""
    return {
        "recorder": Provide(provide_recorder),
        "usage": Provide(provide_replica_reader if read_replica else provide_reader),
        "entitlements": Provide(provide_entitlements),
        "plans": Provide(provide_plans),
        "periods": Provide(provide_periods),
        "catalog": Provide(provide_catalog),
        "webhooks": Provide(provide_webhooks),
        "grants": Provide(provide_grants),
        "reservations": Provide(provide_reservations),
    }
