from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.reservation_page import ReservationPage
from ...models.reservation_state import ReservationState
from ...types import UNSET, Response, Unset


def _get_kwargs(
    tenant_id: UUID,
    *,
    state: None | ReservationState | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    elif isinstance(state, ReservationState):
        json_state = state.value
    else:
        json_state = state
    params["state"] = json_state

    params["limit"] = limit

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/billing/tenants/{tenant_id}/reservations".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | ReservationPage | None:
    if response.status_code == 200:
        response_200 = ReservationPage.from_dict(response.json())

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
) -> Response[Problem | ReservationPage]:
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
    state: None | ReservationState | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[Problem | ReservationPage]:
    """A tenant's reservations, newest first

     A page of holds (`state=` filters), newest first. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        state (None | ReservationState | Unset): Only holds in this state.
        limit (int | Unset): Reservations per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReservationPage]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        state=state,
        limit=limit,
        cursor=cursor,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    state: None | ReservationState | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Problem | ReservationPage | None:
    """A tenant's reservations, newest first

     A page of holds (`state=` filters), newest first. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        state (None | ReservationState | Unset): Only holds in this state.
        limit (int | Unset): Reservations per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReservationPage
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        state=state,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    state: None | ReservationState | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[Problem | ReservationPage]:
    """A tenant's reservations, newest first

     A page of holds (`state=` filters), newest first. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        state (None | ReservationState | Unset): Only holds in this state.
        limit (int | Unset): Reservations per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | ReservationPage]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        state=state,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    state: None | ReservationState | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Problem | ReservationPage | None:
    """A tenant's reservations, newest first

     A page of holds (`state=` filters), newest first. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        state (None | ReservationState | Unset): Only holds in this state.
        limit (int | Unset): Reservations per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | ReservationPage
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            state=state,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
