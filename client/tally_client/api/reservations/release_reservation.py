from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.reservation import Reservation
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    reservation_id: str,
) -> dict[str, Any]:

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/tenants/{tenant_id}/reservations/{reservation_id}/release".format(
            tenant_id=quote(str(tenant_id), safe=""),
            reservation_id=quote(str(reservation_id), safe=""),
        ),
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | Reservation | None:
    if response.status_code == 200:
        response_200 = Reservation.from_dict(response.json())

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
) -> Response[Problem | Reservation]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    tenant_id: UUID,
    reservation_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Problem | Reservation]:
    """End a hold without usage

     Frees the held capacity at once; a hold that has ended already is answered as it is. Roles admin,
    owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        reservation_id (str): The hold's `reservation_id`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Reservation]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        reservation_id=reservation_id,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tenant_id: UUID,
    reservation_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Problem | Reservation | None:
    """End a hold without usage

     Frees the held capacity at once; a hold that has ended already is answered as it is. Roles admin,
    owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        reservation_id (str): The hold's `reservation_id`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Reservation
    """

    return sync_detailed(
        tenant_id=tenant_id,
        reservation_id=reservation_id,
        client=client,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    reservation_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Response[Problem | Reservation]:
    """End a hold without usage

     Frees the held capacity at once; a hold that has ended already is answered as it is. Roles admin,
    owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        reservation_id (str): The hold's `reservation_id`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Reservation]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        reservation_id=reservation_id,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    reservation_id: str,
    *,
    client: AuthenticatedClient | Client,
) -> Problem | Reservation | None:
    """End a hold without usage

     Frees the held capacity at once; a hold that has ended already is answered as it is. Roles admin,
    owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        reservation_id (str): The hold's `reservation_id`.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Reservation
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            reservation_id=reservation_id,
            client=client,
        )
    ).parsed
