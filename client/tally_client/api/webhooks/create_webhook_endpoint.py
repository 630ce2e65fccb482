from http import HTTPStatus
from typing import Any

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.webhook_endpoint_created import WebhookEndpointCreated
from ...models.webhook_endpoint_in import WebhookEndpointIn
from ...types import Response


def _get_kwargs(
    *,
    body: WebhookEndpointIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/webhook-endpoints",
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | WebhookEndpointCreated | None:
    if response.status_code == 201:
        response_201 = WebhookEndpointCreated.from_dict(response.json())

        return response_201

    if response.status_code == 400:
        response_400 = Problem.from_dict(response.json())

        return response_400

    if response.status_code == 401:
        response_401 = Problem.from_dict(response.json())

        return response_401

    if response.status_code == 403:
        response_403 = Problem.from_dict(response.json())

        return response_403

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

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
) -> Response[Problem | WebhookEndpointCreated]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: WebhookEndpointIn,
) -> Response[Problem | WebhookEndpointCreated]:
    """Add a webhook endpoint

     Usage alerts (`usage.threshold_crossed`) are posted to `url`, signed per Standard Webhooks with the
    `secret` of the answer, which is shown only here. Loopback, private and link-local targets are a 400
    unless the server allows them. An endpoint receives the alerts recorded after it was added: every
    tenant's, or only those of `tenant_id` when it is given.

    Args:
        body (WebhookEndpointIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WebhookEndpointCreated]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    body: WebhookEndpointIn,
) -> Problem | WebhookEndpointCreated | None:
    """Add a webhook endpoint

     Usage alerts (`usage.threshold_crossed`) are posted to `url`, signed per Standard Webhooks with the
    `secret` of the answer, which is shown only here. Loopback, private and link-local targets are a 400
    unless the server allows them. An endpoint receives the alerts recorded after it was added: every
    tenant's, or only those of `tenant_id` when it is given.

    Args:
        body (WebhookEndpointIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WebhookEndpointCreated
    """

    return sync_detailed(
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    body: WebhookEndpointIn,
) -> Response[Problem | WebhookEndpointCreated]:
    """Add a webhook endpoint

     Usage alerts (`usage.threshold_crossed`) are posted to `url`, signed per Standard Webhooks with the
    `secret` of the answer, which is shown only here. Loopback, private and link-local targets are a 400
    unless the server allows them. An endpoint receives the alerts recorded after it was added: every
    tenant's, or only those of `tenant_id` when it is given.

    Args:
        body (WebhookEndpointIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WebhookEndpointCreated]
    """

    kwargs = _get_kwargs(
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    body: WebhookEndpointIn,
) -> Problem | WebhookEndpointCreated | None:
    """Add a webhook endpoint

     Usage alerts (`usage.threshold_crossed`) are posted to `url`, signed per Standard Webhooks with the
    `secret` of the answer, which is shown only here. Loopback, private and link-local targets are a 400
    unless the server allows them. An endpoint receives the alerts recorded after it was added: every
    tenant's, or only those of `tenant_id` when it is given.

    Args:
        body (WebhookEndpointIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WebhookEndpointCreated
    """

    return (
        await asyncio_detailed(
            client=client,
            body=body,
        )
    ).parsed
