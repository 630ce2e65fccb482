from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.webhook_secret_rotation import WebhookSecretRotation
from ...models.webhook_secret_rotation_in import WebhookSecretRotationIn
from ...types import Response


def _get_kwargs(
    endpoint_id: UUID,
    *,
    body: WebhookSecretRotationIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/webhook-endpoints/{endpoint_id}/rotate-secret".format(
            endpoint_id=quote(str(endpoint_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | WebhookSecretRotation | None:
    if response.status_code == 200:
        response_200 = WebhookSecretRotation.from_dict(response.json())

        return response_200

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 404:
        response_404 = Problem.from_dict(response.json())

        return response_404

    if response.status_code == 429:
        response_429 = Problem.from_dict(response.json())

        return response_429

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[Problem | WebhookSecretRotation]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    endpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: WebhookSecretRotationIn,
) -> Response[Problem | WebhookSecretRotation]:
    """Rotate a webhook endpoint's secret

     Answers the endpoint's new `secret` (shown only here). Until `previous_secret_expires_at` (the grace
    period, default 24 hours) every delivery carries two signatures in `webhook-signature`, one per
    secret, so receivers can switch to the new secret at any time in between. Pending deliveries are
    kept. A second rotation within the grace period drops the oldest secret. 404: no such endpoint.

    Args:
        endpoint_id (UUID): The endpoint whose secret to rotate.
        body (WebhookSecretRotationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WebhookSecretRotation]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    endpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: WebhookSecretRotationIn,
) -> Problem | WebhookSecretRotation | None:
    """Rotate a webhook endpoint's secret

     Answers the endpoint's new `secret` (shown only here). Until `previous_secret_expires_at` (the grace
    period, default 24 hours) every delivery carries two signatures in `webhook-signature`, one per
    secret, so receivers can switch to the new secret at any time in between. Pending deliveries are
    kept. A second rotation within the grace period drops the oldest secret. 404: no such endpoint.

    Args:
        endpoint_id (UUID): The endpoint whose secret to rotate.
        body (WebhookSecretRotationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WebhookSecretRotation
    """

    return sync_detailed(
        endpoint_id=endpoint_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    endpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: WebhookSecretRotationIn,
) -> Response[Problem | WebhookSecretRotation]:
    """Rotate a webhook endpoint's secret

     Answers the endpoint's new `secret` (shown only here). Until `previous_secret_expires_at` (the grace
    period, default 24 hours) every delivery carries two signatures in `webhook-signature`, one per
    secret, so receivers can switch to the new secret at any time in between. Pending deliveries are
    kept. A second rotation within the grace period drops the oldest secret. 404: no such endpoint.

    Args:
        endpoint_id (UUID): The endpoint whose secret to rotate.
        body (WebhookSecretRotationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WebhookSecretRotation]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    endpoint_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: WebhookSecretRotationIn,
) -> Problem | WebhookSecretRotation | None:
    """Rotate a webhook endpoint's secret

     Answers the endpoint's new `secret` (shown only here). Until `previous_secret_expires_at` (the grace
    period, default 24 hours) every delivery carries two signatures in `webhook-signature`, one per
    secret, so receivers can switch to the new secret at any time in between. Pending deliveries are
    kept. A second rotation within the grace period drops the oldest secret. 404: no such endpoint.

    Args:
        endpoint_id (UUID): The endpoint whose secret to rotate.
        body (WebhookSecretRotationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WebhookSecretRotation
    """

    return (
        await asyncio_detailed(
            endpoint_id=endpoint_id,
            client=client,
            body=body,
        )
    ).parsed
