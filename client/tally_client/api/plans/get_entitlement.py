from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.entitlement import Entitlement
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    feature_key: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/billing/tenants/{tenant_id}/entitlements/{feature_key}".format(
            tenant_id=quote(str(tenant_id), safe=""),
            feature_key=quote(str(feature_key), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Entitlement | Problem | None:
    if response.status_code == 200:
        response_200 = Entitlement.from_dict(response.json())

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
) -> Response[Entitlement | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    tenant_id: UUID,
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Entitlement | Problem]:
    """One feature's entitlement: may the tenant use more right now?

     The `Entitlement` of one feature (see `list_entitlements`): the check an application may make before
    serving a request. An unknown feature is a 400.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (str): The feature to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Entitlement | Problem]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_key=feature_key,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tenant_id: UUID,
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Entitlement | Problem | None:
    """One feature's entitlement: may the tenant use more right now?

     The `Entitlement` of one feature (see `list_entitlements`): the check an application may make before
    serving a request. An unknown feature is a 400.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (str): The feature to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Entitlement | Problem
    """

    return sync_detailed(
        tenant_id=tenant_id,
        feature_key=feature_key,
        client=client,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Entitlement | Problem]:
    """One feature's entitlement: may the tenant use more right now?

     The `Entitlement` of one feature (see `list_entitlements`): the check an application may make before
    serving a request. An unknown feature is a 400.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (str): The feature to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Entitlement | Problem]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_key=feature_key,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
) -> Entitlement | Problem | None:
    """One feature's entitlement: may the tenant use more right now?

     The `Entitlement` of one feature (see `list_entitlements`): the check an application may make before
    serving a request. An unknown feature is a 400.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (str): The feature to check.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Entitlement | Problem
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            feature_key=feature_key,
            client=client,
        )
    ).parsed
