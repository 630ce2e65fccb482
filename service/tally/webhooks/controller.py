"""HTTP routes of webhook endpoints and their deliveries (platform role only)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from uuid import UUID

from litestar import Controller, get, post
from litestar import delete as http_delete  # a bare delete( reads as SQL to the layer check (test_layers.py)
from litestar.di import NamedDependency
from litestar.params import JSONBody, Parameter

from tally.domain.webhooks import (
    DeliveryStatus,
    WebhookDelivery,
    WebhookDeliveryPage,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookSecretRotation,
    WebhookSecretRotationIn,
)
from tally.http.auth import Permission, requires
from tally.http.openapi import problems
from tally.http.params import Cursor
from tally.webhooks.service import WebhookService

MAX_DELIVERIES_PAGE = 100
# On each handler, not the controller: a controller's ``opt`` also reaches Litestar's OPTIONS handlers, which run
# without authentication.
MANAGE = requires(Permission.MANAGE_WEBHOOKS)
# Ids are ``{…:str}`` in the paths and UUIDs in the handlers: a bad id is a 400 naming it (a ``:uuid`` path
# parameter would answer 404, no route matching).


class WebhookController(Controller):
    path = "/api/v1/billing"
    tags = ["webhooks"]

    @post(
        "/webhook-endpoints",
        opt=MANAGE,
        operation_id="create_webhook_endpoint",
        summary="Add a webhook endpoint",
        description=(
            "Usage alerts (`usage.threshold_crossed`) are posted to `url`, signed per Standard Webhooks with the "
            "`secret` of the answer, which is shown only here. Loopback, private and link-local targets are a 400 "
            "unless the server allows them. An endpoint receives the alerts recorded after it was added: every "
            "tenant's, or only those of `tenant_id` when it is given."
        ),
        status_code=201,
        responses=problems(400, 401, 403, 429, body=True),
    )
    async def create_endpoint(
        self, webhooks: NamedDependency[WebhookService], data: JSONBody[WebhookEndpointIn]
    ) -> WebhookEndpointCreated:
        return await webhooks.create_endpoint(data, datetime.now(UTC))

    @get(
        "/webhook-endpoints",
        opt=MANAGE,
        operation_id="list_webhook_endpoints",
        summary="List the webhook endpoints",
        description="Every endpoint, oldest first, without its secret.",
        responses=problems(401, 403, 429),
    )
    async def list_endpoints(self, webhooks: NamedDependency[WebhookService]) -> list[WebhookEndpoint]:
        return await webhooks.list_endpoints()

    @http_delete(
        "/webhook-endpoints/{endpoint_id:str}",
        opt=MANAGE,
        operation_id="delete_webhook_endpoint",
        summary="Delete a webhook endpoint",
        description="Nothing more is sent to it; its deliveries are deleted with it. 404: no such endpoint.",
        status_code=204,
        responses=problems(400, 401, 403, 404, 429),
    )
    async def delete_endpoint(
        self,
        webhooks: NamedDependency[WebhookService],
        endpoint_id: Annotated[UUID, Parameter(description="The endpoint to delete.")],
    ) -> None:
        await webhooks.delete_endpoint(endpoint_id)

    @post(
        "/webhook-endpoints/{endpoint_id:str}/rotate-secret",
        opt=MANAGE,
        operation_id="rotate_webhook_endpoint_secret",
        summary="Rotate a webhook endpoint's secret",
        description=(
            "Answers the endpoint's new `secret` (shown only here). Until `previous_secret_expires_at` (the grace "
            "period, default 24 hours) every delivery carries two signatures in `webhook-signature`, one per "
            "secret, so receivers can switch to the new secret at any time in between. Pending deliveries are "
            "kept. A second rotation within the grace period drops the oldest secret. 404: no such endpoint."
        ),
        status_code=200,
        responses=problems(400, 401, 403, 404, 429),
    )
    async def rotate_secret(
        self,
        webhooks: NamedDependency[WebhookService],
        endpoint_id: Annotated[UUID, Parameter(description="The endpoint whose secret to rotate.")],
        data: JSONBody[WebhookSecretRotationIn],
    ) -> WebhookSecretRotation:
        return await webhooks.rotate_secret(endpoint_id, data, datetime.now(UTC))

    @get(
        "/webhook-deliveries",
        opt=MANAGE,
        operation_id="list_webhook_deliveries",
        summary="The webhook delivery log",
        description=(
            "Deliveries oldest first, each with its attempts (`status_code` null: no answer, see `error`) and, "
            "while `pending`, when the next attempt is due."
        ),
        responses=problems(400, 401, 403, 429),
    )
    async def list_deliveries(
        self,
        webhooks: NamedDependency[WebhookService],
        endpoint_id: Annotated[UUID | None, Parameter(description="Only this endpoint's deliveries.")] = None,
        status: Annotated[DeliveryStatus | None, Parameter(description="Only deliveries in this status.")] = None,
        cursor: Cursor = None,
        limit: Annotated[int, Parameter(ge=1, le=MAX_DELIVERIES_PAGE, description="Deliveries per page.")] = 50,
    ) -> WebhookDeliveryPage:
        return await webhooks.deliveries_page(endpoint_id, status, cursor, limit)

    @post(
        "/webhook-deliveries/{delivery_id:str}/retry",
        opt=MANAGE,
        operation_id="retry_webhook_delivery",
        summary="Send a delivery again now",
        description=(
            "Makes the delivery `pending` and due now, a `failed` one too; the delivery task sends it within a "
            "round (202). 404 when there is no such delivery."
        ),
        status_code=202,
        responses=problems(400, 401, 403, 404, 429),
    )
    async def retry_delivery(
        self,
        webhooks: NamedDependency[WebhookService],
        delivery_id: Annotated[UUID, Parameter(description="The delivery to send again.")],
    ) -> WebhookDelivery:
        return await webhooks.retry(delivery_id, datetime.now(UTC))
