"""Grant use cases: create (idempotent by ``grant_id``), list with live balances, void."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cached_property
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import CreditGrantRecord
from tally.db.repositories import GrantRepository, TenantPlanRepository
from tally.db.transaction import Transaction
from tally.domain.credits import Grant, GrantIn, GrantState
from tally.domain.errors import IdempotencyConflict, InvalidInput, NotFound
from tally.metering import limits
from tally.metering.credits import GrantTerms, burn_order
from tally.metering.periods import as_utc, zone
from tally.metering.totals import TotalsSource
from tally.usage.credit_alerts import CreditAlerts
from tally.usage.credits import CreditBalances, allowance_of, check_summing, terms_of

MAX_BACKDATING = timedelta(days=730)
"""How far back a grant may start: its burn-down reads every period since (a daily limit: one window a day)."""
LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def _instant(value: datetime, field: str) -> datetime:
    """``value`` in UTC, before the year 9000 (a 400 naming ``field`` otherwise)."""
    try:
        instant = as_utc(value)
    except OverflowError:  # e.g. 0001-01-01T00:00:00+01:00: no such UTC instant
        raise InvalidInput.field(field, f"'{value.isoformat()}' is out of range") from None
    if instant >= LATEST:
        raise InvalidInput.field(field, f"must be before {LATEST.year}")
    return instant


class GrantService:
    def __init__(self, session: AsyncSession, totals_source: TotalsSource = "buckets") -> None:
        self.session = session
        self.totals_source = totals_source

    @cached_property
    def transaction(self) -> Transaction:
        return Transaction(self.session)

    @cached_property
    def grants(self) -> GrantRepository:
        return GrantRepository(session=self.session)

    async def create(self, tenant_id: UUID, spec: GrantIn, by: str, now: datetime) -> tuple[Grant, bool]:
        """Store a grant and commit; the same ``grant_id`` with the same content again is the stored grant (False),
        with other content a 409."""
        effective_at = _instant(spec.effective_at, "effective_at") if spec.effective_at is not None else now
        if effective_at < now - MAX_BACKDATING:
            raise InvalidInput.field(
                "effective_at", f"may be at most {MAX_BACKDATING.days} days before now (a grant covers usage from then)"
            )
        expires_at = _instant(spec.expires_at, "expires_at") if spec.expires_at is not None else None
        if expires_at is not None and expires_at <= effective_at:
            raise InvalidInput.field("expires_at", "must be after effective_at (default: now)")
        await self.transaction.begin_write()
        await self.transaction.lock_limits([f"{tenant_id}/grant/{spec.grant_id}"])
        await check_summing(self.session, spec.feature_key, "credits")
        stored = await self.grants.grant(tenant_id, spec.grant_id)
        if stored is not None:
            stored_content = (
                stored.feature_key,
                stored.amount,
                stored.priority,
                stored.expires_at,
                stored.note,
                stored.notify_below,
            )
            same = stored_content == (
                spec.feature_key,
                spec.amount,
                spec.priority,
                expires_at,
                spec.note,
                spec.notify_below,
            ) and (spec.effective_at is None or stored.effective_at == effective_at)
            await self.transaction.rollback()
            if not same:
                raise IdempotencyConflict.field(
                    "grant_id", f"'{spec.grant_id}' was already granted with other content (grants are never edited)"
                )
            return await self.grant(tenant_id, spec.grant_id, now), False
        record = CreditGrantRecord(
            tenant_id=tenant_id,
            grant_id=spec.grant_id,
            feature_key=spec.feature_key,
            amount=spec.amount,
            priority=spec.priority,
            effective_at=effective_at,
            expires_at=expires_at,
            note=spec.note,
            notify_below=spec.notify_below,
            created_at=now,
            created_by=by,
        )
        await self.grants.add_grant(record)
        await self.transaction.commit()
        await CreditAlerts(self.session, self.totals_source).check(tenant_id, [spec.feature_key], now)
        return await self.grant(tenant_id, spec.grant_id, now), True

    async def void(self, tenant_id: UUID, grant_id: str, reason: str, by: str, now: datetime) -> Grant:
        """Void a grant and commit (a voided grant stays as it is): the usage it covered moves to the next grants."""
        await self.transaction.begin_write()
        await self.transaction.lock_limits([f"{tenant_id}/grant/{grant_id}"])
        record = await self.grants.grant(tenant_id, grant_id)
        if record is None:
            raise NotFound.field("grant_id", f"no grant '{grant_id}' for this tenant")
        feature_key = record.feature_key
        if record.voided_at is None:
            await self.grants.void(record, now, by, reason)
        await self.transaction.commit()
        await CreditAlerts(self.session, self.totals_source).check(tenant_id, [feature_key], now)
        return await self.grant(tenant_id, grant_id, now)

    async def grant(self, tenant_id: UUID, grant_id: str, now: datetime) -> Grant:
        record = await self.grants.grant(tenant_id, grant_id)
        if record is None:
            raise NotFound.field("grant_id", f"no grant '{grant_id}' for this tenant")
        listed = await self.list_grants(tenant_id, record.feature_key, None, now)
        return next(g for g in listed if g.grant_id == grant_id)

    async def list_grants(
        self, tenant_id: UUID, feature_key: str | None, state: GrantState | None, now: datetime
    ) -> list[Grant]:
        """The tenant's grants with their balances now, by feature, in burn-down order (voided ones last)."""
        records = await self.grants.grants(tenant_id, None if feature_key is None else [feature_key])
        terms = await TenantPlanRepository(session=self.session).terms(tenant_id)
        tz = zone(terms.timezone) if terms else UTC
        applying = limits.effective(terms.plan_limits, terms.overrides) if terms else {}
        balances = CreditBalances(self.session, self.totals_source)
        used: dict[str, int] = {}
        for key in sorted({r.feature_key for r in records}):
            live = [terms_of(r) for r in records if r.feature_key == key and r.voided_at is None]
            if live:
                credits = await balances.burn_down(tenant_id, key, live, allowance_of(applying.get(key), tz), now)
                used.update(credits.burn.used)
        found = [grant_out(r, used.get(r.grant_id, 0), now) for r in records]
        found.sort(key=lambda g: (g.feature_key, g.state is GrantState.VOIDED, _burn_order(g)))
        return [g for g in found if state is None or g.state is state]


def grant_out(record: CreditGrantRecord, used: int, now: datetime) -> Grant:
    """The grant as answered: a voided one has nothing used or left."""
    remaining = record.amount - used
    if record.voided_at is not None:
        state, used, remaining = GrantState.VOIDED, 0, 0
    elif now < record.effective_at:
        state = GrantState.SCHEDULED
    elif record.expires_at is not None and record.expires_at <= now:
        state = GrantState.EXPIRED
    elif remaining <= 0:
        state = GrantState.DEPLETED
    else:
        state = GrantState.ACTIVE
    return Grant(
        grant_id=record.grant_id,
        feature_key=record.feature_key,
        amount=record.amount,
        priority=record.priority,
        effective_at=record.effective_at,
        expires_at=record.expires_at,
        note=record.note,
        notify_below=record.notify_below,
        state=state,
        used=used,
        remaining=remaining,
        created_at=record.created_at,
        voided_at=record.voided_at,
        void_reason=record.void_reason,
    )


def _burn_order(grant: Grant) -> tuple[int, bool, datetime, datetime, str]:
    """``burn_order`` of an answered grant."""
    return burn_order(
        GrantTerms(grant.grant_id, grant.amount, grant.priority, grant.effective_at, grant.expires_at, grant.created_at)
    )
