"""Messages into the outbox, inside the transaction of what they report: threshold crossings with the usage that
crossed them, a period's final totals with its close."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

import msgspec

from tally.db.dialects import Session
from tally.db.repositories import AlertRepository
from tally.domain.periods import PeriodClosedData
from tally.domain.webhooks import AlertMessage, DeliveryStatus, ThresholdCrossed, WebhookEventType
from tally.metering.limits import WatchedPeriod


class Crossing(msgspec.Struct, frozen=True):
    """A period's usage has reached one of its thresholds."""

    period: WatchedPeriod
    threshold_percent: int
    used: int


def message_id() -> str:
    """A Standard Webhooks message id: the ``webhook-id`` of every attempt of every endpoint's delivery."""
    return f"msg_{uuid.uuid4().hex}"


class AlertOutbox:
    def __init__(self, session: Session) -> None:
        self.alerts = AlertRepository(session)

    async def record(self, tenant_id: UUID, crossings: Sequence[Crossing], at: datetime) -> int:
        """Write an alert for each crossing not recorded before, and a pending delivery of it to every subscribed
        endpoint (the platform-wide ones and the tenant's own), due now; returns how many alerts were new. The
        caller commits (or rolls back) them with the usage."""
        if not crossings:
            return 0
        rows = [
            {
                "tenant_id": tenant_id,
                "feature_key": c.period.feature_key,
                "period_start": c.period.start,
                "threshold_percent": c.threshold_percent,
                "message_id": message_id(),
                "payload": _payload(tenant_id, c, at),
                "created_at": at,
            }
            for c in sorted(crossings, key=lambda c: (c.period.feature_key, c.period.start, c.threshold_percent))
        ]
        new = await self.alerts.add_new(rows)
        endpoints = await self.alerts.subscribed(WebhookEventType.USAGE_THRESHOLD_CROSSED, tenant_id) if new else []
        await self.alerts.add_deliveries(
            [
                {
                    "tenant_id": tenant_id,
                    "id": uuid.uuid4(),
                    "endpoint_id": endpoint_id,
                    "message_id": alert["message_id"],
                    "event_type": WebhookEventType.USAGE_THRESHOLD_CROSSED.value,
                    "payload": alert["payload"],
                    "status": DeliveryStatus.PENDING.value,
                    "attempts": [],
                    "next_attempt_at": at,
                    "created_at": at,
                }
                for alert in new
                for endpoint_id in endpoints
            ]
        )
        return len(new)


def _payload(tenant_id: UUID, crossing: Crossing, at: datetime) -> str:
    period = crossing.period
    data = ThresholdCrossed(
        tenant_id=tenant_id,
        feature_key=period.feature_key,
        threshold_percent=crossing.threshold_percent,
        limit=period.limit,
        used=crossing.used,
        period_start=period.start,
        period_end=period.end,
    )
    message = AlertMessage(type=WebhookEventType.USAGE_THRESHOLD_CROSSED, timestamp=at, data=data)
    return msgspec.json.encode(message).decode()


class PeriodClosedMessage(msgspec.Struct, kw_only=True, frozen=True):
    type: WebhookEventType
    timestamp: datetime
    data: PeriodClosedData


async def record_period_closed(session: Session, closed: Sequence[PeriodClosedData], at: datetime) -> None:
    """A ``period.closed`` delivery of each closed period to every subscribed endpoint, due now, in the caller's
    transaction (the close's: the period's row is what makes the message exactly once)."""
    if not closed:
        return
    alerts = AlertRepository(session)
    endpoints = await alerts.subscribed(WebhookEventType.PERIOD_CLOSED, closed[0].tenant_id)
    deliveries = []
    for data in closed:
        payload = msgspec.json.encode(
            PeriodClosedMessage(type=WebhookEventType.PERIOD_CLOSED, timestamp=data.closed_at, data=data)
        ).decode()
        message = message_id()
        deliveries += [
            {
                "tenant_id": data.tenant_id,
                "id": uuid.uuid4(),
                "endpoint_id": endpoint_id,
                "message_id": message,
                "event_type": WebhookEventType.PERIOD_CLOSED.value,
                "payload": payload,
                "status": DeliveryStatus.PENDING.value,
                "attempts": [],
                "next_attempt_at": at,
                "created_at": at,
            }
            for endpoint_id in endpoints
        ]
    await alerts.add_deliveries(deliveries)
