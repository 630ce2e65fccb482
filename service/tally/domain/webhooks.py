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
    PERIOD_CLOSED = "period.closed"
    CREDITS_LOW = "credits.low"
    CREDITS_DEPLETED = "credits.depleted"


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
    events: Annotated[
        list[WebhookEventType],
        Meta(
            min_length=1,
            max_length=len(WebhookEventType),
            description="The messages it receives: `usage.threshold_crossed` (usage alerts), `period.closed` (a "
            "billing period's final totals), `credits.low` and `credits.depleted` (a grant balance's alerts).",
        ),
    ] = msgspec.field(default_factory=lambda: [WebhookEventType.USAGE_THRESHOLD_CROSSED])
    tenant_id: (
        Annotated[
            UUID,
            Meta(description="Only this tenant's alerts go to the endpoint; omitted or null: every tenant's."),
        ]
        | None
    ) = None


MAX_GRACE_SECONDS = 7 * 24 * 3600
DEFAULT_GRACE_SECONDS = 24 * 3600


class WebhookSecretRotationIn(msgspec.Struct, kw_only=True, frozen=True, forbid_unknown_fields=True):
    """Body of ``POST /webhook-endpoints/{id}/rotate-secret``; ``{}`` takes the default grace period."""

    grace_period_seconds: Annotated[
        int,
        Meta(
            ge=0,
            le=MAX_GRACE_SECONDS,
            description="How long the current secret keeps signing beside the new one (default 24 hours, at most "
            "7 days; 0: it stops at once).",
        ),
    ] = DEFAULT_GRACE_SECONDS


class WebhookEndpoint(msgspec.Struct, kw_only=True, frozen=True):
    """A receiver of usage alerts (its secret is shown only when it is created or rotated)."""

    id: UUID
    url: str
    description: str | None
    events: list[WebhookEventType]
    tenant_id: Annotated[
        UUID | None, Meta(description="The one tenant whose alerts it receives; null: every tenant's.")
    ]
    previous_secret_expires_at: Annotated[
        datetime | None,
        Meta(description="Until then, after a rotation, deliveries are also signed with the previous secret."),
    ]
    created_at: datetime


SECRET_DESCRIPTION = "`whsec_…`: verifies the `webhook-signature` header. Shown only here."  # noqa: S105 (not a secret: its description)


class WebhookEndpointCreated(WebhookEndpoint, kw_only=True, frozen=True):
    secret: Annotated[str, Meta(description=SECRET_DESCRIPTION)]


class WebhookSecretRotation(msgspec.Struct, kw_only=True, frozen=True):
    """The answer of a rotation: the endpoint's new secret, and until when the previous one still signs."""

    endpoint_id: UUID
    secret: Annotated[str, Meta(description=SECRET_DESCRIPTION)]
    previous_secret_expires_at: Annotated[
        datetime,
        Meta(
            description="Until this instant every delivery's `webhook-signature` carries a signature made with the "
            "previous secret as well as one with the new secret."
        ),
    ]


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


class CreditsCrossed(msgspec.Struct, kw_only=True, frozen=True):
    """The ``data`` of a ``credits.low`` or ``credits.depleted`` message: a tenant's remaining credits of a feature
    fell below ``threshold`` (0 for ``credits.depleted``: they reached 0)."""

    tenant_id: UUID
    feature_key: str
    threshold: int
    credits_remaining: int
    granted: int


class CreditsMessage(msgspec.Struct, kw_only=True, frozen=True):
    type: WebhookEventType
    timestamp: datetime
    data: CreditsCrossed
