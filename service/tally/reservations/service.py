"""Reservation use cases: hold (idempotent by ``reservation_id``), commit, release, list."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from uuid import UUID

from tally.db.models import ReservationRecord
from tally.db.repositories import ReservationRepository, TenantPlanRepository
from tally.db.transaction import Transaction
from tally.domain.errors import IdempotencyConflict, LimitExceeded, NotFound
from tally.domain.plans import Enforcement, Limit
from tally.domain.reservations import CommitIn, Reservation, ReservationIn, ReservationPage, ReservationState
from tally.domain.usage import UsageBatch, UsageEventIn
from tally.http.cursors import decode_cursor, encode_cursor
from tally.metering import limits
from tally.metering.limits import WatchedPeriod
from tally.metering.periods import rfc3339, zone
from tally.metering.totals import TotalsQuery
from tally.usage.credits import CreditBalances, allowance_of, check_summing, limit_members
from tally.usage.reading import UsageReader
from tally.usage.recording import UsageRecorder


class ReservationService:
    """On the primary's session: the recorder's, so a commit's usage and the hold's end are one transaction."""

    def __init__(self, recorder: UsageRecorder) -> None:
        self.recorder = recorder
        self.session = recorder.session

    @cached_property
    def transaction(self) -> Transaction:
        return Transaction(self.session)

    @cached_property
    def reservations(self) -> ReservationRepository:
        return ReservationRepository(session=self.session)

    async def hold(self, tenant_id: UUID, spec: ReservationIn, now: datetime) -> tuple[Reservation, bool]:
        """Hold ``spec.quantity`` and commit, when allowance and credits minus usage and the other live holds
        cover it under a rejecting limit (else 409 ``limit-exceeded``); without one, always. The same id with the
        same content again is the stored hold (False), with other content a 409."""
        await self.transaction.begin_write()
        await check_summing(self.session, spec.feature_key, "holds")
        stored = await self.reservations.reservation(tenant_id, spec.reservation_id)
        if stored is not None:
            same = (stored.feature_key, stored.quantity, stored.expires_in_seconds) == (
                spec.feature_key,
                spec.quantity,
                spec.expires_in_seconds,
            )
            answer = reservation_out(stored, now)
            await self.transaction.rollback()
            if not same:
                raise IdempotencyConflict.field(
                    "reservation_id", f"'{spec.reservation_id}' was already held with other content"
                )
            return answer, False
        terms = await TenantPlanRepository(session=self.session).terms(tenant_id)
        limit = limits.effective(terms.plan_limits, terms.overrides).get(spec.feature_key) if terms else None
        if terms is not None and limit is not None and limit.enforcement is Enforcement.REJECT:
            await self._check_capacity(tenant_id, spec, limit, terms.timezone, now)
        record = ReservationRecord(
            tenant_id=tenant_id,
            reservation_id=spec.reservation_id,
            feature_key=spec.feature_key,
            quantity=spec.quantity,
            expires_in_seconds=spec.expires_in_seconds,
            state=ReservationState.HELD.value,
            created_at=now,
            expires_at=now + timedelta(seconds=spec.expires_in_seconds),
        )
        await self.reservations.add_reservation(record)
        await self.transaction.commit()
        return reservation_out(record, now), True

    async def _check_capacity(
        self, tenant_id: UUID, spec: ReservationIn, limit: Limit, timezone: str, now: datetime
    ) -> None:
        """Under the locks a batch of the feature takes (its current period's, and its credits' when it has
        grants), so holds and batches are judged one after the other: refuse the hold (409) when it does not fit."""
        tz = zone(timezone)
        start, end = limits.period_bounds(now, limit.period, tz)
        period = WatchedPeriod(spec.feature_key, start, end, limit.limit, limit.period, True, ())
        balances = CreditBalances(self.session, self.recorder.totals_source)
        grants = (await balances.grants(tenant_id, [spec.feature_key])).get(spec.feature_key)
        credit_lock = [f"{tenant_id}/{spec.feature_key}/credits"] if grants else []
        await self.transaction.lock_limits([period.lock_key(tenant_id), *credit_lock])
        reserved = (await self.reservations.reserved(tenant_id, [spec.feature_key], now)).get(spec.feature_key, 0)
        if grants:
            credits = await balances.burn_down(tenant_id, spec.feature_key, grants, allowance_of(limit, tz), now, [now])
            used = credits.burn.period_usage.get(start, 0)
            left = credits.credits_remaining(now)
            fits = credits.covers(spec.quantity, reserved, now)
        else:
            query = TotalsQuery(feature_keys=(spec.feature_key,), windows=((start, end),))
            (total,) = await UsageReader(self.session, self.recorder.totals_source).totals(tenant_id, query)
            used, left = total.quantity, 0
            fits = used + reserved + spec.quantity <= limit.limit
        if not fits:
            await self.transaction.rollback()
            members = limit_members(period, used, left, reserved)
            raise LimitExceeded.field(
                "quantity",
                f"feature '{spec.feature_key}' has {members['remaining']} left of its limit of {limit.limit} per "
                f"{limit.period.value} (used {used}, credits left {left}, held by other reservations {reserved}, "
                f"until {rfc3339(end)}): nothing was held",
            ).with_members(**members)

    async def commit(self, tenant_id: UUID, reservation_id: str, spec: CommitIn, now: datetime) -> Reservation:
        """Record the real usage as one usage event, whatever the limits say, and end the hold, in one transaction.
        The same commit again is the stored one; a different one on a committed hold is a 409."""
        await self.transaction.begin_write()
        record = await self._locked(tenant_id, reservation_id)
        if record.state == ReservationState.COMMITTED.value:
            same = (record.committed_event, record.committed_quantity) == (spec.idempotency_key, spec.quantity)
            answer = reservation_out(record, now)
            await self.transaction.rollback()
            if not same:
                raise IdempotencyConflict.field(
                    "idempotency_key", f"reservation '{reservation_id}' was committed with other usage already"
                )
            return answer
        before = reservation_out(record, now).state
        event = UsageEventIn(
            feature_key=record.feature_key,
            quantity=spec.quantity,
            idempotency_key=spec.idempotency_key,
            timestamp=spec.timestamp,
            dimensions=spec.dimensions,
        )
        await self.recorder.record_committed(tenant_id, UsageBatch(events=[event]), now)
        record.state, record.ended_at = ReservationState.COMMITTED.value, now
        record.committed_event, record.committed_quantity = spec.idempotency_key, spec.quantity
        record.ended_before_commit = None if before is ReservationState.HELD else before.value
        await self.reservations.flush()
        answer = reservation_out(record, now)
        await self.transaction.commit()
        await self.recorder.credit_alerts.check(tenant_id, [record.feature_key], now)
        return answer

    async def release(self, tenant_id: UUID, reservation_id: str, now: datetime) -> Reservation:
        """End a live hold without usage; a hold that has ended already stays as it is."""
        await self.transaction.begin_write()
        record = await self._locked(tenant_id, reservation_id)
        if reservation_out(record, now).state is ReservationState.HELD:
            record.state, record.ended_at = ReservationState.RELEASED.value, now
            await self.reservations.flush()
        answer = reservation_out(record, now)
        await self.transaction.commit()
        return answer

    async def _locked(self, tenant_id: UUID, reservation_id: str) -> ReservationRecord:
        record = await self.reservations.reservation(tenant_id, reservation_id, for_update=True)
        if record is None:
            raise NotFound.field("reservation_id", f"no reservation '{reservation_id}' for this tenant")
        return record

    async def page(
        self, tenant_id: UUID, state: ReservationState | None, cursor: str | None, limit: int, now: datetime
    ) -> ReservationPage:
        """Reservations newest first, ``limit`` at a time."""
        after = decode_cursor(cursor) if cursor else None
        rows = await self.reservations.page(tenant_id, state.value if state else None, now, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, rows[-1].reservation_id) if more else None
        return ReservationPage(items=[reservation_out(r, now) for r in rows], next_cursor=next_cursor)


def reservation_out(record: ReservationRecord, now: datetime) -> Reservation:
    """The hold as answered: a held one past its lifetime is ``expired``."""
    state = ReservationState(record.state)
    if state is ReservationState.HELD and record.expires_at.astimezone(UTC) <= now:
        state = ReservationState.EXPIRED
    return Reservation(
        reservation_id=record.reservation_id,
        feature_key=record.feature_key,
        quantity=record.quantity,
        state=state,
        created_at=record.created_at,
        expires_at=record.expires_at,
        committed_event=record.committed_event,
        committed_quantity=record.committed_quantity,
        ended_before_commit=ReservationState(record.ended_before_commit) if record.ended_before_commit else None,
    )
