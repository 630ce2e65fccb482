"""Credit alerts: ``credits.low`` when a tenant's remaining credits of a feature fall below a threshold (a grant's
``notify_below`` or its plan limit's ``notify_credits_below``), ``credits.depleted`` when they reach 0, each exactly
once per crossing, into the webhook outbox.

Looked at after every change that moves balances (a batch, a void, a grant created or voided), in a transaction of
its own under the feature's credits lock: the state rows (``credit_alert``) say which side of each threshold the
balance was on, so a crossing is sent once however many writers see it, and a balance that rises again re-arms it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.repositories import AlertRepository, CreditAlertRepository, GrantRepository, TenantPlanRepository
from tally.db.transaction import Transaction
from tally.domain.webhooks import CreditsCrossed, CreditsMessage, DeliveryStatus, WebhookEventType
from tally.metering import limits
from tally.metering.periods import zone
from tally.metering.totals import TotalsSource
from tally.usage.credits import CreditBalances, allowance_of, terms_of

DEPLETED = 0  # the threshold of ``credits.depleted``


class CreditAlerts:
    def __init__(self, session: AsyncSession, totals_source: TotalsSource = "buckets") -> None:
        self.session = session
        self.totals_source = totals_source
        self.transaction = Transaction(session)

    async def check(self, tenant_id: UUID, feature_keys: Iterable[str], now: datetime) -> None:
        """Record the crossings of ``feature_keys`` that have grants (ends the session's transaction first)."""
        await self.transaction.rollback()
        grants = GrantRepository(session=self.session)
        wanted = await grants.granted_features(tenant_id, set(feature_keys))
        if not wanted:
            return
        terms = await TenantPlanRepository(session=self.session).terms(tenant_id)
        tz = zone(terms.timezone) if terms else UTC
        applying = limits.effective(terms.plan_limits, terms.overrides) if terms else {}
        for key in sorted(wanted):
            await self.transaction.rollback()
            await self.transaction.begin_write()
            await self.transaction.lock_limits([f"{tenant_id}/{key}/credits"])
            records = await grants.grants(tenant_id, [key], voided=False)
            limit = applying.get(key)
            thresholds = {DEPLETED, *(r.notify_below for r in records if r.notify_below)}
            if limit is not None and limit.notify_credits_below:
                thresholds.add(limit.notify_credits_below)
            found = [terms_of(r) for r in records]
            balances = CreditBalances(self.session, self.totals_source)
            credits = await balances.burn_down(tenant_id, key, found, allowance_of(limit, tz), now)
            active = credits.active(now)
            left, granted = credits.credits_remaining(now), sum(g.amount for g in active)
            started = any(g.effective_at <= now for g in found)
            await self._record(tenant_id, key, sorted(thresholds), left, granted, started, now)
            await self.transaction.commit()

    async def _record(
        self, tenant_id: UUID, key: str, thresholds: list[int], left: int, granted: int, started: bool, now: datetime
    ) -> None:
        states = CreditAlertRepository(self.session)
        outbox = AlertRepository(self.session)
        rows = await states.states(tenant_id, key)
        for threshold in thresholds:
            below = started and left <= 0 if threshold == DEPLETED else left < threshold
            row = rows.get(threshold)
            if row is not None and row.below == below:
                continue
            await states.put(tenant_id, key, threshold, below, now, row)
            if not below:
                continue
            kind = WebhookEventType.CREDITS_DEPLETED if threshold == DEPLETED else WebhookEventType.CREDITS_LOW
            data = CreditsCrossed(
                tenant_id=tenant_id, feature_key=key, threshold=threshold, credits_remaining=left, granted=granted
            )
            payload = msgspec.json.encode(CreditsMessage(type=kind, timestamp=now, data=data)).decode()
            message_id = f"msg_{uuid.uuid4().hex}"
            await outbox.add_deliveries(
                [
                    {
                        "tenant_id": tenant_id,
                        "id": uuid.uuid4(),
                        "endpoint_id": endpoint_id,
                        "message_id": message_id,
                        "event_type": kind.value,
                        "payload": payload,
                        "status": DeliveryStatus.PENDING.value,
                        "attempts": [],
                        "next_attempt_at": now,
                        "created_at": now,
                    }
                    for endpoint_id in await outbox.subscribed(kind.value, tenant_id)
                ]
            )
