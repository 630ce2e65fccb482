"""Usage alerts and webhooks: request and response structs (no I/O)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated
from uuid import UUID

import msgspec
from msgspec import Meta

from tally.domain.keys import NO_NUL

MAX_URL = 2048
MAX_WEBHOOK_DESCRIPTION = 500
URL_PATTERN = r"^https?://[^\x00-\x20/?#]+([/?#][^\x00-\x20]*)?$"
"""An http(s) URL with a host and no space or control character; what it names is checked by the service."""


class WebhookEventType(StrEnum):
    USAGE_THRESHOLD_CROSSED = "usage.threshold_crossed"


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"


class WebhookEndpointIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """A receiver of usage alerts."""

    url: Annotated[
        str,
        Meta(
            min_length=1,
            max_length=MAX_URL,
            pattern=URL_PATTERN,
            description="An `https` or `http` URL. Loopback, private and link-local targets are refused unless "
            "`TALLY_WEBHOOK_ALLOW_PRIVATE=true`.",
        ),
    ]
    description: Annotated[str, Meta(max_length=MAX_WEBHOOK_DESCRIPTION, pattern=NO_NUL)] | None = None
    events: Annotated[list[WebhookEventType], Meta(min_length=1, max_length=1)] = msgspec.field(
        default_factory=lambda: [WebhookEventType.USAGE_THRESHOLD_CROSSED]
    )


class WebhookEndpoint(msgspec.Struct, kw_only=True, frozen=True):
    """A receiver of usage alerts (its secret is shown only when it is created)."""

    id: UUID
    url: str
    description: str | None
    events: list[WebhookEventType]
    created_at: datetime


class WebhookEndpointCreated(WebhookEndpoint, kw_only=True, frozen=True):
    secret: Annotated[str, Meta(description="`whsec_…`: verifies the `webhook-signature` header. Shown only here.")]


class DeliveryAttempt(msgspec.Struct, kw_only=True, frozen=True):
    at: datetime
    status_code: int | None
    """The receiver's HTTP status; null when there was no answer (see ``error``)."""
    error: str | None


class WebhookDelivery(msgspec.Struct, kw_only=True, frozen=True):
    """One message to one endpoint: its attempts and, while pending, when the next one is due."""

    id: UUID
    endpoint_id: UUID
    webhook_id: Annotated[str, Meta(description="The `webhook-id` header of every attempt.")]
    event_type: WebhookEventType
    status: DeliveryStatus
    attempts: list[DeliveryAttempt]
    next_attempt_at: datetime | None


class WebhookDeliveryPage(msgspec.Struct, kw_only=True, frozen=True):
    """Deliveries, newest first; pass ``next_cursor`` back as ``cursor`` for the next page."""

    items: list[WebhookDelivery]
    next_cursor: str | None


class ThresholdCrossed(msgspec.Struct, kw_only=True, frozen=True):
    """The ``data`` of a ``usage.threshold_crossed`` message."""

    tenant_id: UUID
    feature_key: str
    threshold_percent: int
    limit: int
    used: int
    period_start: datetime
    period_end: datetime


class RecentAlert(msgspec.Struct, kw_only=True, frozen=True):
    """A tenant's threshold crossing as the usage page lists it, with its deliveries' statuses."""

    crossed: ThresholdCrossed
    created_at: datetime
    deliveries: list[DeliveryStatus]


class AlertMessage(msgspec.Struct, kw_only=True, frozen=True):
    type: WebhookEventType
    timestamp: datetime
    data: ThresholdCrossed
