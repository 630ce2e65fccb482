from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.ingest_result import IngestResult
from ...models.problem import Problem
from ...models.usage_batch import UsageBatch
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    *,
    body: UsageBatch,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/tenants/{tenant_id}/usage-events".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> IngestResult | Problem | None:
    if response.status_code == 200:
        response_200 = IngestResult.from_dict(response.json())

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


def _build_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Response[IngestResult | Problem]:
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
    body: UsageBatch,
) -> Response[IngestResult | Problem]:
    """Record usage events, exactly once

     Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is already
    known with the same `feature_key`, `quantity`, `timestamp` and `dimensions` is a duplicate:
    accepted, not counted again. The same key with different content is a 409. An event whose
    `feature_key` is not in the catalog, or whose dimension key its feature does not declare, is a 400
    (the catalog is data, not schema). An event dated in a closed billing period is a 409 `period-
    closed` (a duplicate of one recorded before the close is still a duplicate). Unknown fields are a
    400 naming them. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (UsageBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[IngestResult | Problem]
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
    body: UsageBatch,
) -> IngestResult | Problem | None:
    """Record usage events, exactly once

     Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is already
    known with the same `feature_key`, `quantity`, `timestamp` and `dimensions` is a duplicate:
    accepted, not counted again. The same key with different content is a 409. An event whose
    `feature_key` is not in the catalog, or whose dimension key its feature does not declare, is a 400
    (the catalog is data, not schema). An event dated in a closed billing period is a 409 `period-
    closed` (a duplicate of one recorded before the close is still a duplicate). Unknown fields are a
    400 naming them. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (UsageBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        IngestResult | Problem
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
    body: UsageBatch,
) -> Response[IngestResult | Problem]:
    """Record usage events, exactly once

     Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is already
    known with the same `feature_key`, `quantity`, `timestamp` and `dimensions` is a duplicate:
    accepted, not counted again. The same key with different content is a 409. An event whose
    `feature_key` is not in the catalog, or whose dimension key its feature does not declare, is a 400
    (the catalog is data, not schema). An event dated in a closed billing period is a 409 `period-
    closed` (a duplicate of one recorded before the close is still a duplicate). Unknown fields are a
    400 naming them. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (UsageBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[IngestResult | Problem]
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
    body: UsageBatch,
) -> IngestResult | Problem | None:
    """Record usage events, exactly once

     Stores 1 to 1000 events atomically: all of them or none. An event whose `idempotency_key` is already
    known with the same `feature_key`, `quantity`, `timestamp` and `dimensions` is a duplicate:
    accepted, not counted again. The same key with different content is a 409. An event whose
    `feature_key` is not in the catalog, or whose dimension key its feature does not declare, is a 400
    (the catalog is data, not schema). An event dated in a closed billing period is a 409 `period-
    closed` (a duplicate of one recorded before the close is still a duplicate). Unknown fields are a
    400 naming them. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (UsageBatch):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        IngestResult | Problem
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            body=body,
        )
    ).parsed
