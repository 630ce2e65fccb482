"""Webhook endpoints, usage alerts (the crossings) and the delivery outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from advanced_alchemy.repository import SQLAlchemyAsyncRepository
from sqlalchemy import case, delete, func, insert, or_, select, tuple_, update

from tally.db import dialects
from tally.db.dialects import Session
from tally.db.models import UsageAlertRecord, WebhookDeliveryRecord, WebhookEndpointRecord
from tally.domain.webhooks import DeliveryStatus


class WebhookEndpointRepository(SQLAlchemyAsyncRepository[WebhookEndpointRecord]):
    model_type = WebhookEndpointRecord

    async def endpoints(self) -> list[WebhookEndpointRecord]:
        """Every endpoint, oldest first."""
        stmt = select(WebhookEndpointRecord).order_by(WebhookEndpointRecord.created_at, WebhookEndpointRecord.id)
        return list((await self.session.scalars(stmt)).all())

    async def remove(self, endpoint_id: UUID) -> bool:
        """Delete the endpoint and its deliveries (nothing is sent to it any more); whether it existed."""
        await self.session.execute(
            delete(WebhookDeliveryRecord).where(WebhookDeliveryRecord.endpoint_id == endpoint_id)
        )
        result = await self.session.execute(
            delete(WebhookEndpointRecord).where(WebhookEndpointRecord.id == endpoint_id)
        )
        return bool(getattr(result, "rowcount", 0))

    async def rotate(self, endpoint_id: UUID, secret: str, previous_until: datetime) -> WebhookEndpointRecord | None:
        """Make ``secret`` the endpoint's secret and its current one the previous secret, signing until
        ``previous_until`` (a previous secret of an earlier rotation is dropped); None when there is no such
        endpoint. One statement: both databases read ``secret`` on the right-hand side as it was before it."""
        r = WebhookEndpointRecord
        stmt = (
            update(r)
            .where(r.id == endpoint_id)
            .values(previous_secret=r.secret, previous_secret_expires_at=previous_until, secret=secret)
            .returning(r)
        )
        return (await self.session.scalars(stmt)).one_or_none()


class AlertRepository:
    """Usage alerts and their deliveries, written in the transaction of the usage that crossed a threshold."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.dialect = dialects.of(session)

    async def add_new(self, alerts: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
        """Insert the alerts whose (tenant, feature, period start, threshold) is new; return those. A concurrent
        transaction inserting the same key makes this one wait and skip it."""
        table = UsageAlertRecord.__table__
        keys = ["tenant_id", "feature_key", "period_start", "threshold_percent"]
        stmt = self.dialect.insert_new(table, keys).returning(table.c.message_id)  # type: ignore[arg-type]
        new = set((await self.session.scalars(stmt, list(alerts))).all())
        return [a for a in alerts if a["message_id"] in new]

    async def add_deliveries(self, deliveries: Sequence[dict[str, Any]]) -> None:
        if deliveries:
            await self.session.execute(insert(WebhookDeliveryRecord), list(deliveries))

    async def recent(self, tenant_id: UUID, limit: int) -> list[tuple[UsageAlertRecord, list[str]]]:
        """The tenant's latest ``limit`` alerts, newest first (of one batch, the higher threshold first), each with
        the statuses of its deliveries (one per endpoint it was sent to; none when no endpoint was subscribed)."""
        a, d = UsageAlertRecord, WebhookDeliveryRecord
        order = (a.created_at.desc(), a.threshold_percent.desc(), a.feature_key)
        stmt = select(a).where(a.tenant_id == tenant_id).order_by(*order).limit(limit)
        alerts = list((await self.session.scalars(stmt)).all())
        statuses: dict[str, list[str]] = {alert.message_id: [] for alert in alerts}
        if alerts:
            rows = await self.session.execute(
                select(d.message_id, d.status).where(d.tenant_id == tenant_id, d.message_id.in_(list(statuses)))
            )
            for message_id, status in rows.all():
                statuses[message_id].append(status)
        return [(alert, statuses[alert.message_id]) for alert in alerts]

    async def subscribed(self, event_type: str, tenant_id: UUID) -> list[UUID]:
        """The endpoints that receive ``event_type`` of ``tenant_id``: the platform-wide ones and the tenant's."""
        e = WebhookEndpointRecord
        stmt = select(e.id, e.events).where(or_(e.tenant_id.is_(None), e.tenant_id == tenant_id))
        rows = (await self.session.execute(stmt)).all()
        return [endpoint_id for endpoint_id, events in rows if event_type in events]


class Claimed:
    """A delivery claimed for one attempt, with where it goes and the secrets that sign it (the current one and,
    for a while after a rotation, the previous one)."""

    def __init__(self, record: WebhookDeliveryRecord, endpoint: WebhookEndpointRecord) -> None:
        self.record, self.url = record, endpoint.url
        self.secret, self.previous_secret = endpoint.secret, endpoint.previous_secret
        self.previous_secret_expires_at = endpoint.previous_secret_expires_at

    def secrets(self, at: datetime) -> list[str]:
        """The secrets that sign an attempt made at ``at``: the current one first."""
        previous, until = self.previous_secret, self.previous_secret_expires_at
        return [self.secret] + ([previous] if previous and until is not None and at < until else [])


class DeliveryRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    async def backlog(self, now: datetime) -> tuple[int, int]:
        """How many deliveries are pending, and how many of them are due (a read, so an idle worker never opens a
        write transaction; the status index covers it)."""
        r = WebhookDeliveryRecord
        stmt = select(func.count(), func.count(case((r.next_attempt_at <= now, 1)))).where(
            r.status == DeliveryStatus.PENDING.value
        )
        pending, due = (await self.session.execute(stmt)).one()
        return int(pending), int(due)

    async def claim(self, now: datetime, lease_until: datetime, limit: int) -> list[Claimed]:
        """Lease up to ``limit`` due deliveries until ``lease_until``: their next attempt moves there, so no other
        worker takes them meanwhile, and a worker that dies mid-attempt leaves them due again afterwards. On
        PostgreSQL, rows another worker is claiming are skipped (FOR UPDATE SKIP LOCKED) rather than waited for."""
        stmt = (
            select(WebhookDeliveryRecord, WebhookEndpointRecord)
            .join(WebhookEndpointRecord, WebhookEndpointRecord.id == WebhookDeliveryRecord.endpoint_id)
            .where(*_due(now))
            .order_by(WebhookDeliveryRecord.next_attempt_at, WebhookDeliveryRecord.id)
            .limit(limit)
            .with_for_update(skip_locked=True, of=WebhookDeliveryRecord)
        )
        claimed = [Claimed(record, endpoint) for record, endpoint in (await self.session.execute(stmt)).all()]
        for c in claimed:
            c.record.next_attempt_at = lease_until
        await self.session.flush()
        return claimed

    async def record_attempt(
        self,
        tenant_id: UUID,
        delivery_id: UUID,
        attempt: dict[str, Any],
        status: DeliveryStatus,
        next_attempt_at: datetime | None,
    ) -> None:
        record = await self.session.get(WebhookDeliveryRecord, (tenant_id, delivery_id), with_for_update=True)
        if record is None:  # its endpoint was deleted meanwhile
            return
        record.attempts = [*record.attempts, attempt]
        record.status, record.next_attempt_at = status.value, next_attempt_at
        await self.session.flush()

    async def page(
        self,
        endpoint_id: UUID | None,
        status: DeliveryStatus | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[WebhookDeliveryRecord]:
        """Deliveries oldest first (then by id), filtered."""
        r = WebhookDeliveryRecord
        stmt = select(r).order_by(r.created_at, r.id).limit(limit)
        if endpoint_id is not None:
            stmt = stmt.where(r.endpoint_id == endpoint_id)
        if status is not None:
            stmt = stmt.where(r.status == status.value)
        if after is not None:
            stmt = stmt.where(tuple_(r.created_at, r.id) > tuple_(*after))
        return list((await self.session.scalars(stmt)).all())

    async def retry_now(self, delivery_id: UUID, now: datetime) -> WebhookDeliveryRecord | None:
        """Make the delivery pending and due now (a failed one too); None when there is no such delivery."""
        stmt = (
            update(WebhookDeliveryRecord)
            .where(WebhookDeliveryRecord.id == delivery_id)
            .values(status=DeliveryStatus.PENDING.value, next_attempt_at=now)
            .returning(WebhookDeliveryRecord)
        )
        return (await self.session.scalars(stmt)).one_or_none()

    async def counts(self) -> dict[str, int]:
        """Deliveries per status (the metrics)."""
        stmt = select(WebhookDeliveryRecord.status, func.count()).group_by(WebhookDeliveryRecord.status)
        return {status: n for status, n in (await self.session.execute(stmt)).all()}


def _due(now: datetime) -> tuple[Any, ...]:
    return (
        WebhookDeliveryRecord.status == DeliveryStatus.PENDING.value,
        WebhookDeliveryRecord.next_attempt_at <= now,
    )
