from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.grant import Grant
from ...models.grant_in import GrantIn
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    *,
    body: GrantIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/tenants/{tenant_id}/grants".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Grant | Problem | None:
    if response.status_code == 200:
        response_200 = Grant.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = Grant.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Grant | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: GrantIn,
) -> Response[Grant | Problem]:
    """Grant credits of a feature to a tenant

     Adds `amount` of the feature (in its unit) on top of the plan's allowance, from `effective_at`
    (default now) until `expires_at` (none: never). Usage beyond the allowance burns the active grants,
    lowest `priority` first, then the soonest expiry, then the oldest. The same `grant_id` with the same
    content again is 200 with the stored grant; with other content 409. A feature whose aggregation does
    not sum is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (GrantIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Grant | Problem]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: GrantIn,
) -> Grant | Problem | None:
    """Grant credits of a feature to a tenant

     Adds `amount` of the feature (in its unit) on top of the plan's allowance, from `effective_at`
    (default now) until `expires_at` (none: never). Usage beyond the allowance burns the active grants,
    lowest `priority` first, then the soonest expiry, then the oldest. The same `grant_id` with the same
    content again is 200 with the stored grant; with other content 409. A feature whose aggregation does
    not sum is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (GrantIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Grant | Problem
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: GrantIn,
) -> Response[Grant | Problem]:
    """Grant credits of a feature to a tenant

     Adds `amount` of the feature (in its unit) on top of the plan's allowance, from `effective_at`
    (default now) until `expires_at` (none: never). Usage beyond the allowance burns the active grants,
    lowest `priority` first, then the soonest expiry, then the oldest. The same `grant_id` with the same
    content again is 200 with the stored grant; with other content 409. A feature whose aggregation does
    not sum is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (GrantIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Grant | Problem]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    body: GrantIn,
) -> Grant | Problem | None:
    """Grant credits of a feature to a tenant

     Adds `amount` of the feature (in its unit) on top of the plan's allowance, from `effective_at`
    (default now) until `expires_at` (none: never). Usage beyond the allowance burns the active grants,
    lowest `priority` first, then the soonest expiry, then the oldest. The same `grant_id` with the same
    content again is 200 with the stored grant; with other content 409. A feature whose aggregation does
    not sum is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (GrantIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Grant | Problem
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            body=body,
        )
    ).parsed
