"""Webhook use cases: endpoints (the secret shown once), the delivery log and a manual retry."""

from __future__ import annotations

import base64
import secrets
import uuid
from datetime import datetime, timedelta
from uuid import UUID

import msgspec
from sqlalchemy.ext.asyncio import AsyncSession

from tally.db.models import WebhookDeliveryRecord, WebhookEndpointRecord
from tally.db.repositories import AlertRepository, DeliveryRepository, WebhookEndpointRepository
from tally.db.transaction import Transaction
from tally.domain.errors import InvalidInput, NotFound
from tally.domain.webhooks import (
    AlertMessage,
    DeliveryAttempt,
    DeliveryStatus,
    RecentAlert,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEventType,
    WebhookSecretRotation,
    WebhookSecretRotationIn,
)
from tally.http.cursors import decode_cursor, encode_cursor
from tally.webhooks.targets import check_url


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 24 random bytes in base64."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class WebhookService:
    def __init__(self, session: AsyncSession, allow_private: bool) -> None:
        self.transaction = Transaction(session)
        self.endpoints = WebhookEndpointRepository(session=session, auto_commit=False)
        self.deliveries = DeliveryRepository(session)
        self.alerts = AlertRepository(session)
        self.allow_private = allow_private

    async def create_endpoint(self, spec: WebhookEndpointIn, now: datetime) -> WebhookEndpointCreated:
        check_url(spec.url, allow_private=self.allow_private)
        record = WebhookEndpointRecord(
            id=uuid.uuid4(),
            url=spec.url,
            description=spec.description,
            events=[e.value for e in spec.events],
            secret=new_secret(),
            created_at=now,
            tenant_id=spec.tenant_id,
        )
        await self.transaction.begin_write()
        await self.endpoints.add(record)
        await self.transaction.commit()
        return WebhookEndpointCreated(**msgspec.structs.asdict(_endpoint_out(record)), secret=record.secret)

    async def list_endpoints(self) -> list[WebhookEndpoint]:
        return [_endpoint_out(r) for r in await self.endpoints.endpoints()]

    async def delete_endpoint(self, endpoint_id: UUID) -> None:
        await self.transaction.begin_write()
        removed = await self.endpoints.remove(endpoint_id)
        await self.transaction.commit()
        if not removed:
            raise NotFound.field("endpoint_id", f"no webhook endpoint '{endpoint_id}'")

    async def rotate_secret(
        self, endpoint_id: UUID, spec: WebhookSecretRotationIn, now: datetime
    ) -> WebhookSecretRotation:
        """Give the endpoint a new secret; the current one keeps signing beside it for the grace period. Pending
        deliveries stay in the outbox: each attempt is signed with the secrets of the moment it is made."""
        until = now + timedelta(seconds=spec.grace_period_seconds)
        await self.transaction.begin_write()
        record = await self.endpoints.rotate(endpoint_id, new_secret(), until)
        await self.transaction.commit()
        if record is None:
            raise NotFound.field("endpoint_id", f"no webhook endpoint '{endpoint_id}'")
        return WebhookSecretRotation(endpoint_id=record.id, secret=record.secret, previous_secret_expires_at=until)

    async def deliveries_page(
        self, endpoint_id: UUID | None, status: DeliveryStatus | None, cursor: str | None, limit: int
    ) -> WebhookDeliveryPage:
        after = None
        if cursor is not None:
            created_at, key = decode_cursor(cursor)
            try:
                after = (created_at, UUID(key))
            except ValueError:
                raise InvalidInput.field("cursor", "is not a cursor this API returned") from None
        rows = await self.deliveries.page(endpoint_id, status, after, limit + 1)
        more = len(rows) > limit
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].created_at, str(rows[-1].id)) if more else None
        return WebhookDeliveryPage(items=[delivery_out(r) for r in rows], next_cursor=next_cursor)

    async def recent_alerts(self, tenant_id: UUID, limit: int) -> list[RecentAlert]:
        """The tenant's latest alerts (newest first), read from the messages as they were sent."""
        return [
            RecentAlert(
                crossed=msgspec.json.decode(record.payload, type=AlertMessage).data,
                created_at=record.created_at,
                deliveries=[DeliveryStatus(s) for s in statuses],
            )
            for record, statuses in await self.alerts.recent(tenant_id, limit)
        ]

    async def retry(self, delivery_id: UUID, now: datetime) -> WebhookDelivery:
        """Make the delivery due now, whatever its status; the delivery task sends it on its next round."""
        await self.transaction.begin_write()
        record = await self.deliveries.retry_now(delivery_id, now)
        await self.transaction.commit()
        if record is None:
            raise NotFound.field("delivery_id", f"no webhook delivery '{delivery_id}'")
        return delivery_out(record)


def _endpoint_out(record: WebhookEndpointRecord) -> WebhookEndpoint:
    return WebhookEndpoint(
        id=record.id,
        url=record.url,
        description=record.description,
        events=[WebhookEventType(e) for e in record.events],
        tenant_id=record.tenant_id,
        previous_secret_expires_at=record.previous_secret_expires_at,
        created_at=record.created_at,
    )


def delivery_out(record: WebhookDeliveryRecord) -> WebhookDelivery:
    pending = record.status == DeliveryStatus.PENDING
    return WebhookDelivery(
        id=record.id,
        endpoint_id=record.endpoint_id,
        webhook_id=record.message_id,
        event_type=WebhookEventType(record.event_type),
        status=DeliveryStatus(record.status),
        attempts=msgspec.convert(record.attempts, list[DeliveryAttempt]),
        next_attempt_at=record.next_attempt_at if pending else None,
    )
