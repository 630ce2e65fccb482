from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.reservation import Reservation
from ...models.reservation_in import ReservationIn
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    *,
    body: ReservationIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/tenants/{tenant_id}/reservations".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | Reservation | None:
    if response.status_code == 200:
        response_200 = Reservation.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = Reservation.from_dict(response.json())

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
    *,
    client: AuthenticatedClient | Client,
    body: ReservationIn,
) -> Response[Problem | Reservation]:
    """Hold capacity before the work

     Holds `quantity` of the feature for `expires_in_seconds` (default 300): 201 when, under a rejecting
    limit, the allowance plus credits minus usage and every other live hold cover it, else 409 `limit-
    exceeded` (with `limit`, `used`, `reserved`, `credits_remaining`, `remaining`, `period_end`).
    Without a rejecting limit a hold always succeeds. The same `reservation_id` with the same content
    again is 200 with the stored hold; other content 409. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (ReservationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Reservation]
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
    body: ReservationIn,
) -> Problem | Reservation | None:
    """Hold capacity before the work

     Holds `quantity` of the feature for `expires_in_seconds` (default 300): 201 when, under a rejecting
    limit, the allowance plus credits minus usage and every other live hold cover it, else 409 `limit-
    exceeded` (with `limit`, `used`, `reserved`, `credits_remaining`, `remaining`, `period_end`).
    Without a rejecting limit a hold always succeeds. The same `reservation_id` with the same content
    again is 200 with the stored hold; other content 409. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (ReservationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Reservation
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
    body: ReservationIn,
) -> Response[Problem | Reservation]:
    """Hold capacity before the work

     Holds `quantity` of the feature for `expires_in_seconds` (default 300): 201 when, under a rejecting
    limit, the allowance plus credits minus usage and every other live hold cover it, else 409 `limit-
    exceeded` (with `limit`, `used`, `reserved`, `credits_remaining`, `remaining`, `period_end`).
    Without a rejecting limit a hold always succeeds. The same `reservation_id` with the same content
    again is 200 with the stored hold; other content 409. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (ReservationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | Reservation]
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
    body: ReservationIn,
) -> Problem | Reservation | None:
    """Hold capacity before the work

     Holds `quantity` of the feature for `expires_in_seconds` (default 300): 201 when, under a rejecting
    limit, the allowance plus credits minus usage and every other live hold cover it, else 409 `limit-
    exceeded` (with `limit`, `used`, `reserved`, `credits_remaining`, `remaining`, `period_end`).
    Without a rejecting limit a hold always succeeds. The same `reservation_id` with the same content
    again is 200 with the stored hold; other content 409. Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (ReservationIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | Reservation
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            body=body,
        )
    ).parsed
