"""Recording usage: a batch stored exactly once under its limits, with its buckets and alerts; voids.

The recorder validates, orders locks and owns the write transaction; every statement is a repository's. Raw
events and their buckets are written in one transaction, so a committed event is in both or neither.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from functools import cached_property
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.repositories import (
    BucketRepository,
    FeatureRepository,
    PeriodRepository,
    ReservationRepository,
    SketchRepository,
    TotalsRepository,
    UsageEventRepository,
    tenant_terms,
)
from tally.db.transaction import Transaction
from tally.domain.catalog import Aggregation
from tally.domain.errors import IdempotencyConflict, InvalidInput, NotFound, UnknownFeature
from tally.domain.keys import MAX_DIMENSION_VALUE
from tally.domain.plans import Limit
from tally.domain.problems import FieldError
from tally.domain.usage import IngestResult, UsageBatch, UsageEvent
from tally.metering import limits, totals
from tally.metering.aggregations import State, value
from tally.metering.buckets import DIMENSION_BUCKETS, USAGE_BUCKETS
from tally.metering.events import NewEvent, dimension_set
from tally.metering.limits import WatchedPeriod
from tally.metering.periods import as_utc, in_words, rfc3339, zone
from tally.metering.sketches import sketch_cells
from tally.metering.totals import TotalsQuery, TotalsSource
from tally.usage import closed_periods, hard_limits
from tally.usage.credit_alerts import CreditAlerts
from tally.usage.credits import CreditBalances, FeatureCredits, allowance_of
from tally.usage.events import event_out
from tally.usage.hard_limits import PeriodCheck
from tally.usage.reading import UsageReader
from tally.webhooks.outbox import AlertOutbox, Crossing


class UsageRecorder:
    """Records and voids usage, on the primary's session."""

    def __init__(
        self,
        session: AsyncSession,
        future_skew: timedelta = timedelta(minutes=5),
        totals_source: TotalsSource = "buckets",
    ) -> None:
        self.session = session
        self.future_skew = future_skew
        self.totals_source = totals_source
        self.transaction = Transaction(session)
        self.features = FeatureRepository(session=session)
        self.events = UsageEventRepository(session=session)
        self.buckets = BucketRepository(session=session)
        self.periods = PeriodRepository(session)

    # Made on first use: a batch without limits needs none of these.
    @cached_property
    def outbox(self) -> AlertOutbox:
        return AlertOutbox(self.session)

    @cached_property
    def totals_repository(self) -> TotalsRepository:
        return TotalsRepository(session=self.session)

    @cached_property
    def sketches(self) -> SketchRepository:
        return SketchRepository(session=self.session)

    @cached_property
    def credit_alerts(self) -> CreditAlerts:
        return CreditAlerts(self.session, self.totals_source)

    @cached_property
    def reservations(self) -> ReservationRepository:
        return ReservationRepository(session=self.session)

    @cached_property
    def credit_balances(self) -> CreditBalances:
        return CreditBalances(self.session, self.totals_source)

    async def record(self, tenant_id: UUID, batch: UsageBatch, received_at: datetime) -> IngestResult:
        """Store a batch atomically; events already known under their key are duplicates, not counted."""
        events = self._prepare(batch, received_at)
        await self.transaction.begin_write()
        result, grown = await self.store(tenant_id, batch, events, received_at)
        await self.transaction.commit()
        if grown:
            await self._record_distinct_crossings(tenant_id, grown, received_at)
        # Also for a batch of duplicates: a retry after a failure here records what was missed.
        await self.credit_alerts.check(tenant_id, {e.feature_key for e in events}, received_at)
        return result

    async def record_committed(self, tenant_id: UUID, batch: UsageBatch, received_at: datetime) -> IngestResult:
        """Store a reservation's committed usage in the caller's write transaction, whatever the limits say: work
        that was done is always recorded (it shows as over the limit)."""
        result, _ = await self.store(tenant_id, batch, self._prepare(batch, received_at), received_at, enforce=False)
        return result

    async def store(
        self, tenant_id: UUID, batch: UsageBatch, events: list[NewEvent], received_at: datetime, *, enforce: bool = True
    ) -> tuple[IngestResult, list[WatchedPeriod]]:
        """A batch's statements in the caller's write transaction; the periods of distinct counts it grew."""
        await self.transaction.lock_catalog(exclusive=False)
        dimensioned = await self._check_features(events)
        await self._check_open_periods(tenant_id, events, received_at)
        sketched = await self.features.sketched(dimensioned) if dimensioned else {}
        watched, counted, credited = await self._watched_limits(tenant_id, events, received_at)
        # Sorted keys: concurrent batches that share keys take their row locks in the same order.
        events.sort(key=lambda e: e.idempotency_key)
        # The new events and their buckets at once (one statement on PostgreSQL). An approximate distinct count keeps
        # sketches instead of a dimension bucket row per counted value. A refusal below rolls it all back.
        inserted = await self.events.record_new(tenant_id, events, received_at, dimensioned - sketched.keys())
        known = [e for e in events if e.idempotency_key not in inserted]
        if known:
            await self._check_duplicates(tenant_id, known)
        if watched and enforce:
            await self._check_limits(tenant_id, watched, inserted, credited, received_at)
        if watched:
            await self.outbox.record(tenant_id, _crossings(watched, inserted), received_at)
        new = [e for e in events if e.idempotency_key in inserted]
        # After the usage_bucket upsert: its row locks order the writers of each sketch cell (SketchRepository).
        await self.sketches.add(tenant_id, sketch_cells(new, sketched))
        grown = [p for p, added in counted.items() if any(e.idempotency_key in inserted for e in added)]
        return IngestResult(accepted=len(inserted), duplicates=len(batch.events) - len(inserted)), grown

    def _prepare(self, batch: UsageBatch, received_at: datetime) -> list[NewEvent]:
        """Normalise timestamps to UTC, refuse future ones, fold identical repeats inside the batch."""
        latest = received_at + self.future_skew
        by_key: dict[str, NewEvent] = {}
        errors: list[FieldError] = []
        for i, e in enumerate(batch.events):
            try:
                timestamp = as_utc(e.timestamp) if e.timestamp is not None else received_at
            except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: no such UTC instant
                errors.append(FieldError(field=f"events[{i}].timestamp", message=f"'{e.timestamp}' is out of range"))
                continue
            if timestamp > latest:
                errors.append(
                    FieldError(
                        field=f"events[{i}].timestamp",
                        message=f"{rfc3339(timestamp)} is more than {in_words(self.future_skew)} ahead of the "
                        f"server's clock ({rfc3339(received_at)}): send the time the usage happened, or leave "
                        "timestamp out to mean now",
                    )
                )
                continue
            dimensions = e.dimensions  # none: the decoded empty dict, not one more per event (each feeds the GC)
            if dimensions:
                bad_values = [
                    FieldError(
                        field=f"events[{i}].dimensions.{key}",
                        message=f"must be 1 to {MAX_DIMENSION_VALUE} characters, got {len(value)}",
                    )
                    for key, value in dimensions.items()
                    if not 1 <= len(value) <= MAX_DIMENSION_VALUE
                ]
                if bad_values:
                    errors += bad_values
                    continue
                dimensions = dict(sorted(dimensions.items()))
            event = NewEvent(
                i,
                e.idempotency_key,
                e.feature_key,
                e.quantity,
                timestamp,
                e.timestamp is not None,
                received_at,
                dimensions,
                dimension_set(dimensions),
            )
            first = by_key.setdefault(e.idempotency_key, event)
            if first is not event and not first.same_content(e.feature_key, e.quantity, timestamp, dimensions):
                errors.append(
                    FieldError(
                        field=f"events[{i}].idempotency_key",
                        message=f"'{e.idempotency_key}' is used by events[{first.index}] with different content",
                    )
                )
        if errors:
            raise InvalidInput.fields(errors)
        return list(by_key.values())

    async def _check_features(self, events: Sequence[NewEvent]) -> set[str]:
        """Every event's feature exists and declares the event's dimension keys. Returns the features of the
        batch that declare dimensions."""
        declared = await self.features.declared_dimensions({e.feature_key for e in events})
        unknown = [
            FieldError(field=f"events[{e.index}].feature_key", message=f"unknown feature '{e.feature_key}'")
            for e in events
            if e.feature_key not in declared
        ]
        if unknown:
            raise UnknownFeature.fields(unknown)
        undeclared = [
            FieldError(
                field=f"events[{e.index}].dimensions.{key}",
                message=f"feature '{e.feature_key}' declares no dimension '{key}'"
                + (f" (it declares: {', '.join(sorted(declared[e.feature_key]))})" if declared[e.feature_key] else ""),
            )
            for e in events
            for key in e.dimensions
            if key not in declared[e.feature_key]
        ]
        if undeclared:
            raise InvalidInput.fields(undeclared)
        return {key for key, dimensions in declared.items() if dimensions}

    async def _watched_limits(
        self, tenant_id: UUID, events: Sequence[NewEvent], now: datetime
    ) -> tuple[dict[WatchedPeriod, PeriodCheck], dict[WatchedPeriod, list[NewEvent]], dict[str, FeatureCredits]]:
        """The periods of the tenant's rejecting or notifying limits that the batch adds to, locked (PostgreSQL:
        one advisory lock per tenant, feature and period), each with its events and its usage read after the lock:
        a concurrent batch of the same period has committed by then, and the next waits for this one, so each
        sees the usage before it exactly (a rejection is exact, and no crossing goes unseen). Batches without
        such a limit take no lock. Apart, unlocked: the notifying periods of distinct counts, whose value cannot be
        folded event by event; their thresholds are checked after the commit (``_record_distinct_crossings``).

        A rejecting limit's feature with credit grants also takes its credits' lock (grants span periods) and reads
        the grants' burn-down (``tally.usage.credits``), which judges its events instead of the period alone."""
        terms = await tenant_terms(self.session, tenant_id)
        if terms is None:
            return {}, {}, {}
        tz = zone(terms.timezone)
        effective = limits.effective(terms.plan_limits, terms.overrides)
        periods = limits.watched_periods(events, effective, tz)
        if not periods:
            return {}, {}, {}
        distinct = await self._distinct_counts(effective)
        counted = {p: found for p, found in periods.items() if p.feature_key in distinct}
        periods = {p: found for p, found in periods.items() if p.feature_key not in distinct}
        rejecting = {p.feature_key for p in periods if p.rejects}
        grants = await self.credit_balances.grants(tenant_id, rejecting) if rejecting else {}
        credit_locks = [f"{tenant_id}/{key}/credits" for key in grants]
        await self.transaction.lock_limits([p.lock_key(tenant_id) for p in periods] + credit_locks)
        credited = {}
        for key, found in grants.items():
            times = [e.timestamp for e in events if e.feature_key == key]
            allowance = allowance_of(effective[key], tz)
            credited[key] = await self.credit_balances.burn_down(tenant_id, key, found, allowance, now, times)
        by_window: dict[tuple[datetime, datetime], list[WatchedPeriod]] = {}
        for period in periods:
            by_window.setdefault((period.start, period.end), []).append(period)
        checks = {}
        for (start, end), group in by_window.items():
            used = await self._period_states(tenant_id, [p.feature_key for p in group], start, end)
            for period in group:
                checks[period] = PeriodCheck(periods[period], *used[period.feature_key])
        return checks, counted, credited

    async def _distinct_counts(self, effective: dict[str, Limit]) -> set[str]:
        """The features with a notifying limit that count distinct values."""
        notifying = {key for key, limit in effective.items() if limit.notify_at_percent}
        if not notifying:
            return set()
        features = await self.features.features(notifying)
        return {key for key, _ in totals.counted_features(features)}

    async def _record_distinct_crossings(self, tenant_id: UUID, periods: Sequence[WatchedPeriod], at: datetime) -> None:
        """After a batch's commit: the thresholds that distinct counts' periods have reached, from each period's
        count as ``usage-totals`` answers it, into the outbox in a transaction of their own. The outbox keeps one
        alert per (tenant, feature, period, threshold), so concurrent batches that both see a crossing record it
        once; the last batch to commit reads after every earlier commit, so no crossing goes unseen (were this step
        lost, the feature's next batch records it)."""
        reader = UsageReader(self.session, self.totals_source)
        crossings = []
        for period in periods:
            query = TotalsQuery(feature_keys=(period.feature_key,), windows=((period.start, period.end),))
            (total,) = await reader.totals(tenant_id, query)
            crossings += [Crossing(period, p, total.quantity) for p in limits.reached(period, total.quantity)]
        await self.transaction.rollback()  # ends the reads' transaction (SQLite) before the write's
        if crossings:
            await self.transaction.begin_write()
            await self.outbox.record(tenant_id, crossings, at)
            await self.transaction.commit()

    async def _period_states(
        self, tenant_id: UUID, feature_keys: list[str], start: datetime, end: datetime
    ) -> dict[str, tuple[Aggregation, State | None]]:
        """Each feature's aggregation and its state over ``[start, end)``: the one-window totals read."""
        ranges = totals.ranges_of((start, end), self.totals_source, USAGE_BUCKETS.grains)
        rows = await self.totals_repository.one_window(tenant_id, feature_keys, ranges, USAGE_BUCKETS)
        return {row.feature_key: (row.aggregation, row.state) for row in rows}

    async def _check_limits(
        self,
        tenant_id: UUID,
        watched: dict[WatchedPeriod, PeriodCheck],
        inserted: set[str],
        credited: dict[str, FeatureCredits],
        now: datetime,
    ) -> None:
        """Refuse the whole batch (409) when its new events do not fit a rejecting limit (``hard_limits``), live
        reservations counting as usage now."""
        rejecting = {p.feature_key for p in watched if p.rejects}
        reserved = await self.reservations.reserved(tenant_id, rejecting, now) if rejecting else {}
        refusal = hard_limits.refusal(watched, inserted, credited, reserved, now)
        if refusal is not None:
            await self.transaction.rollback()
            raise refusal

    async def _check_open_periods(self, tenant_id: UUID, events: Sequence[NewEvent], now: datetime) -> None:
        """Refuse the whole batch (409) when an event is dated inside a closed period (``closed_periods``)."""
        await self.transaction.lock_periods(tenant_id, exclusive=False)
        refusal = await closed_periods.late_events(self.periods, self.events, tenant_id, events, now)
        if refusal is not None:
            await self.transaction.rollback()
            raise refusal

    async def _check_duplicates(self, tenant_id: UUID, known: Sequence[NewEvent]) -> None:
        """A key already stored must carry the same content; otherwise the whole batch is refused (409). A
        voided event keeps its key: re-sending it is a duplicate, not a new event."""
        stored = await self.events.stored_content(tenant_id, [e.idempotency_key for e in known])
        conflicts = [
            FieldError(
                field=f"events[{e.index}].idempotency_key",
                message=f"'{e.idempotency_key}' was already recorded with another feature_key, quantity, timestamp or "
                "dimensions",
            )
            for e in known
            if not e.same_content(*stored[e.idempotency_key])
        ]
        if conflicts:
            await self.transaction.rollback()
            raise IdempotencyConflict.fields(conflicts)

    async def void(self, tenant_id: UUID, idempotency_key: str, reason: str, by: str, now: datetime) -> UsageEvent:
        """Remove an event from every total, keeping it (and its key) with the void's audit record. Voiding
        a voided event changes nothing and answers it as it is."""
        await self.transaction.begin_write()
        await self.transaction.lock_catalog(exclusive=False)
        await self.transaction.lock_periods(tenant_id, exclusive=False)
        event = await self.events.get_for_update(tenant_id, idempotency_key)
        if event is None:
            raise NotFound.field("idempotency_key", f"no event '{idempotency_key}' was recorded for this tenant")
        if event.voided_at is None:
            await self._check_void_open(tenant_id, event.timestamp, now)
            await self.events.mark_voided(event, at=now, by=by, reason=reason)
            await self.buckets.rebuild(tenant_id, event, USAGE_BUCKETS)  # locks the rows the sketches need
            if (await self.features.declared_dimensions([event.feature_key])).get(event.feature_key):
                sketched = await self.features.sketched([event.feature_key])
                if event.feature_key in sketched:
                    await self.sketches.rebuild(tenant_id, event, sketched[event.feature_key])
                else:
                    await self.buckets.rebuild(tenant_id, event, DIMENSION_BUCKETS)
        answer = event_out(event)
        await self.transaction.commit()
        await self.credit_alerts.check(tenant_id, [answer.feature_key], now)
        return answer

    async def _check_void_open(self, tenant_id: UUID, timestamp: datetime, now: datetime) -> None:
        """A void of an event dated inside a closed period is refused (409): its period's totals are final."""
        refusal = await closed_periods.closed_void(self.periods, tenant_id, timestamp, now)
        if refusal is not None:
            await self.transaction.rollback()
            raise refusal


def _crossings(watched: dict[WatchedPeriod, PeriodCheck], inserted: set[str]) -> list[Crossing]:
    """Every threshold that a period's usage has reached with the batch's new events (a batch of duplicates
    crosses nothing). Thresholds reached before are listed again: the outbox's key keeps each once."""
    crossings = []
    for period, check in watched.items():
        new = [e for e in check.events if e.idempotency_key in inserted]
        if not new or not period.thresholds:
            continue
        state = limits.folded(check.used, new)
        used = value(check.aggregation, state) if state is not None else 0
        crossings += [Crossing(period, p, used) for p in limits.reached(period, used)]
    return crossings
