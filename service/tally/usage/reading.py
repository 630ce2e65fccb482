"""Reading usage: totals, the event listing and its export. Read-only by construction: a reader holds no
transaction and no write repository, so a reader on a read replica's session cannot write.

Totals read whole buckets plus the raw events at a window's ragged edges, so their cost does not grow with the
number of events (see ``tally.metering.buckets`` and ``tally.db.repositories.totals``).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any
from uuid import UUID

import msgspec
from litestar.datastructures import State
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from tally.config import Settings
from tally.db.models import UsageEventRecord
from tally.db.repositories import (
    DistinctRepository,
    FeatureRepository,
    SketchRepository,
    TotalsRepository,
    UsageEventRepository,
    period_terms,
)
from tally.db.repositories.totals import CatalogRow
from tally.domain.errors import UnknownFeature
from tally.domain.usage import UsageEvent, UsageEventPage, UsageTotal
from tally.http.cursors import encode_cursor
from tally.metering import totals
from tally.metering.billing import PeriodTerms
from tally.metering.buckets import DIMENSION_BUCKETS, USAGE_BUCKETS
from tally.metering.events import EventQuery
from tally.metering.sketches import SKETCH_GRAINS, Estimates
from tally.metering.totals import GroupValues, Plan, TotalsQuery, TotalsSource
from tally.usage.events import event_out

Connect = Callable[[], AbstractAsyncContextManager[AsyncConnection]]
READ_CONNECTION = "read_connection"
"""The app state's key of the read routes' ``Connect``: the primary's engine, or the read replica's choice."""


def reader(reads: AsyncSession | AsyncConnection, settings: Settings) -> UsageReader:
    """A reader as every read path builds it (routes, the usage page, ``tally usage export``)."""
    return UsageReader(reads, totals_source=settings.totals_source)


def reading(state: State) -> Reading:
    """A reader on one pooled connection of the app's read routes (a replica's, when there is one), given back on
    exit: ``async with reading(state) as usage``. The ``usage`` dependency is this; the hottest reads (totals, the
    entitlement check) enter it in their handler instead, which saves Litestar's dependency resolution and clean-up
    around it: 5% of a totals read's instructions (callgrind)."""
    return Reading(state[READ_CONNECTION], state.settings)


class Reading:
    """``reading``'s context: a class, not an ``asynccontextmanager`` generator, as the hot reads enter one per
    request and the generator's machinery was a percent of a totals read's instructions (callgrind)."""

    __slots__ = ("connect", "entered", "settings", "usage")

    def __init__(self, connect: Connect, settings: Settings) -> None:
        self.connect = connect
        self.settings = settings

    async def __aenter__(self) -> UsageReader:
        self.entered = self.connect()
        self.usage = reader(await self.entered.__aenter__(), self.settings)
        return self.usage

    async def __aexit__(self, *exc_info: Any) -> None:
        try:
            await self.usage.close()
        finally:
            await self.entered.__aexit__(*exc_info)


class UsageReader:
    """Answers totals and lists events, on whatever it is given: a session, or a read route's one pooled connection
    (a replica's, for the read routes, where there is one).

    On a connection, the hot reads (totals, the closed periods' terms, and what the entitlement check reads) run
    on it with no session at all; the few reads that need the ORM (the catalog's features for several windows,
    event pages, the usage page's grants and holds) get a session made on that same connection when first asked
    for, so a request still holds exactly one connection."""

    def __init__(self, session: AsyncSession | AsyncConnection, totals_source: TotalsSource = "buckets") -> None:
        self.reads = session
        self.totals_source = totals_source

    @cached_property
    def session(self) -> AsyncSession:
        """The session of the ORM reads: the one given, or one on the given connection."""
        if isinstance(self.reads, AsyncConnection):
            return AsyncSession(bind=self.reads, expire_on_commit=False)
        return self.reads

    async def close(self) -> None:
        """Close the session this reader made on its connection, if it made one (the connection is its owner's)."""
        if isinstance(self.reads, AsyncConnection) and "session" in self.__dict__:
            await self.session.close()

    # Made on first use: a totals read needs one repository of the three.
    @cached_property
    def features(self) -> FeatureRepository:
        return FeatureRepository(session=self.session)

    @cached_property
    def events(self) -> UsageEventRepository:
        return UsageEventRepository(session=self.session)

    @cached_property
    def totals_repository(self) -> TotalsRepository:
        return TotalsRepository(session=self.reads)

    @cached_property
    def distinct(self) -> DistinctRepository:
        return DistinctRepository(session=self.reads)

    @cached_property
    def sketches(self) -> SketchRepository:
        return SketchRepository(session=self.reads)

    async def billing_terms(self, tenant_id: UUID) -> PeriodTerms:
        """What decides the tenant's closed billing periods (its zone, grace and last recorded close)."""
        return await period_terms(self.reads, tenant_id, cached=True)

    async def list_events(self, tenant_id: UUID, query: EventQuery, limit: int) -> UsageEventPage:
        """Events oldest first (then by key), voided ones included, ``limit`` at a time. An unknown
        ``feature_key`` is a 400, as it is for totals."""
        await self._check_feature(query.feature_key)
        rows = await self.events.page(tenant_id, query, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].timestamp, rows[-1].idempotency_key) if more else None
        return UsageEventPage(items=[event_out(r) for r in rows], next_cursor=next_cursor)

    async def export_events(
        self, tenant_id: UUID, query: EventQuery, page_size: int
    ) -> AsyncIterator[list[UsageEvent]]:
        """Every event the listing would show for ``query``, in its order, ``page_size`` at a time: the keyset
        pages of the listing, so memory does not grow with the period.

        The checks and the first page run now, before a response starts (a bad filter is a 400, a database that
        is down a 503, not a cut-off file); the other pages are read as the returned iterator is consumed."""
        await self._check_feature(query.feature_key)
        first = await self.events.page(tenant_id, query, page_size)
        return self._event_pages(first, tenant_id, query, page_size)

    async def _event_pages(
        self, rows: list[UsageEventRecord], tenant_id: UUID, query: EventQuery, page_size: int
    ) -> AsyncIterator[list[UsageEvent]]:
        # An HTTP export outlives its request's connection (given back before the response starts): the later pages
        # are read on a session of their own on the same engine (a session is usable after close, and takes a
        # connection again), and the connection they took is released at the end.
        session = (
            AsyncSession(bind=self.reads.engine, expire_on_commit=False)
            if isinstance(self.reads, AsyncConnection)
            else self.session
        )
        events = UsageEventRepository(session=session)
        try:
            while rows:
                yield [event_out(r) for r in rows]
                if len(rows) < page_size:
                    return
                query = query.after_row(rows[-1].timestamp, rows[-1].idempotency_key)
                rows = await events.page(tenant_id, query, page_size)
        finally:
            await session.close()

    async def _check_feature(self, feature_key: str | None) -> None:
        """An unknown ``feature_key`` filter is a 400, as it is for totals: a typo is not an empty answer."""
        if feature_key is not None and not await self.features.exists(feature_key=feature_key):
            raise UnknownFeature.field("feature_key", f"unknown feature: '{feature_key}'")

    async def totals(self, tenant_id: UUID, query: TotalsQuery) -> list[UsageTotal]:
        """One ``UsageTotal`` per selected feature (all features when none are named) and window, sorted by
        (feature_key, window_start), each computed with its feature's aggregation; with a grouping, one per
        combination of grouped values too, of the events its filters keep. A total whose window lies inside
        closed billing periods says it is ``final``."""
        found = await self._totals(tenant_id, query)
        now = datetime.now(UTC)
        # As known at an instant, a figure is a view of the past, not a final one. A first window that has not
        # ended yet: none is final.
        if not found or query.as_of is not None or query.windows[0][1] > now:
            return found
        through = (await period_terms(self.reads, tenant_id, cached=True)).closed_through(now)
        if through is None or query.windows[0][1] > through:
            return found
        return [msgspec.structs.replace(t, final=True) if t.window_end <= through else t for t in found]

    async def totals_and_credits(
        self, tenant_id: UUID, query: TotalsQuery, now: datetime
    ) -> tuple[list[UsageTotal], dict[str, tuple[int, bool]]]:
        """The totals of a one-window ungrouped query as they are now (``totals`` without the ``final`` label),
        and per feature the sum of its live holds at ``now`` and whether it has live grants: all an entitlement
        check reads besides the grants themselves, in one statement."""
        assert len(query.windows) == 1
        assert not query.grouping
        assert query.as_of is None
        found, rows = await self._one_window(tenant_id, query, self.totals_source, credits_at=now)
        return found, {row.feature_key: (row.held, row.granted) for row in rows}

    async def _totals(self, tenant_id: UUID, query: TotalsQuery) -> list[UsageTotal]:
        # Totals as known at an instant come from the raw events: buckets hold only the present.
        source: TotalsSource = "events" if query.as_of is not None else self.totals_source
        if len(query.windows) == 1:
            return (await self._one_window(tenant_id, query, source))[0]
        grouping, as_of = query.grouping, query.as_of
        repository, by, filters = self.totals_repository, grouping.group_by, grouping.filters
        table = DIMENSION_BUCKETS if grouping else USAGE_BUCKETS
        features = await self.features.features(query.feature_keys)
        totals.check_known(query.feature_keys, (f.feature_key for f in features))
        grouping.check_declared((f.feature_key, f.dimensions) for f in features)
        if not features:
            return []
        totals.check_row_count(len(features), len(query.windows))
        plan = Plan(query.windows, source, table.grains)
        feature_keys = [f.feature_key for f in features] if grouping else query.wanted
        partials = await repository.partials(tenant_id, feature_keys, plan.ranges, table, by, filters, as_of)
        distinct = await self._distinct_counts(tenant_id, query, features, source)
        return totals.window_rows(query, features, plan, partials, distinct)

    async def _one_window(
        self, tenant_id: UUID, query: TotalsQuery, source: TotalsSource, credits_at: datetime | None = None
    ) -> tuple[list[UsageTotal], list[CatalogRow]]:
        """A one-window query's totals, and the catalog rows they were made of (see ``TotalsRepository.one_window``
        for ``credits_at``)."""
        grouping = query.grouping
        table = DIMENSION_BUCKETS if grouping else USAGE_BUCKETS
        ranges = totals.ranges_of(query.windows[0], source, table.grains)
        rows = await self.totals_repository.one_window(
            tenant_id, query.wanted, ranges, table, grouping.group_by, grouping.filters, query.as_of, credits_at
        )
        return totals.one_window_rows(query, rows, await self._distinct_counts(tenant_id, query, rows, source)), rows

    async def _distinct_counts(
        self, tenant_id: UUID, query: TotalsQuery, features: Sequence[Any], source: TotalsSource
    ) -> dict[tuple[str, int, GroupValues], int]:
        """The distinct counts of ``features`` that count distinct values (``Feature``s or catalog rows), per
        (feature, window, grouped values): exact ones counted by the database, approximate ones estimated from
        their sketches and the raw events' values at ragged window edges."""
        counted = totals.counted_features(features)
        if not counted:
            return {}
        by, filters, as_of = query.grouping.group_by, query.grouping.filters, query.as_of
        approximate = {f.feature_key for f in features if f.approximate}
        exact = [(key, unique_by) for key, unique_by in counted if key not in approximate]
        sketched = [(key, unique_by) for key, unique_by in counted if key in approximate]
        found: dict[tuple[str, int, GroupValues], int] = {}
        if exact:
            ranges = totals.window_ranges(query.windows, source, DIMENSION_BUCKETS.grains)
            found.update(await self.distinct.counts(tenant_id, exact, ranges, by, filters, as_of))
        if sketched:
            totals.check_counted_grouping(query.grouping, sketched)
            plan = Plan(query.windows, source, SKETCH_GRAINS)
            estimates = Estimates()
            buckets = [r for r, _ in plan.ranges if r.grain_seconds]
            keys = [key for key, _ in sketched]
            for row in await self.sketches.read(tenant_id, keys, buckets, by, filters) if buckets else []:
                estimates.add_sketch((row.feature_key, plan.window_of(0, row.at), row.group), row.sketch)
            edges = [(r, window) for r, window in plan.ranges if not r.grain_seconds and window is not None]
            if edges:
                for value in await self.distinct.values(tenant_id, sketched, edges, by, filters, as_of):
                    estimates.add_value((value.feature_key, value.window, value.group), value.value)
            found.update(estimates.counts())
        return found
