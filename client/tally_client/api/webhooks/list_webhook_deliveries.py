from http import HTTPStatus
from typing import Any
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.delivery_status import DeliveryStatus
from ...models.problem import Problem
from ...models.webhook_delivery_page import WebhookDeliveryPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    *,
    endpoint_id: None | Unset | UUID = UNSET,
    status: DeliveryStatus | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_endpoint_id: None | str | Unset
    if isinstance(endpoint_id, Unset):
        json_endpoint_id = UNSET
    elif isinstance(endpoint_id, UUID):
        json_endpoint_id = str(endpoint_id)
    else:
        json_endpoint_id = endpoint_id
    params["endpoint_id"] = json_endpoint_id

    json_status: None | str | Unset
    if isinstance(status, Unset):
        json_status = UNSET
    elif isinstance(status, DeliveryStatus):
        json_status = status.value
    else:
        json_status = status
    params["status"] = json_status

    json_cursor: None | str | Unset
    if isinstance(cursor, Unset):
        json_cursor = UNSET
    else:
        json_cursor = cursor
    params["cursor"] = json_cursor

    params["limit"] = limit

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/billing/webhook-deliveries",
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | WebhookDeliveryPage | None:
    if response.status_code == 200:
        response_200 = WebhookDeliveryPage.from_dict(response.json())

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
) -> Response[Problem | WebhookDeliveryPage]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    *,
    client: AuthenticatedClient | Client,
    endpoint_id: None | Unset | UUID = UNSET,
    status: DeliveryStatus | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
) -> Response[Problem | WebhookDeliveryPage]:
    """The webhook delivery log

     Deliveries oldest first, each with its attempts (`status_code` null: no answer, see `error`) and,
    while `pending`, when the next attempt is due.

    Args:
        endpoint_id (None | Unset | UUID): Only this endpoint's deliveries.
        status (DeliveryStatus | None | Unset): Only deliveries in this status.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.
        limit (int | Unset): Deliveries per page. Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WebhookDeliveryPage]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    *,
    client: AuthenticatedClient | Client,
    endpoint_id: None | Unset | UUID = UNSET,
    status: DeliveryStatus | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
) -> Problem | WebhookDeliveryPage | None:
    """The webhook delivery log

     Deliveries oldest first, each with its attempts (`status_code` null: no answer, see `error`) and,
    while `pending`, when the next attempt is due.

    Args:
        endpoint_id (None | Unset | UUID): Only this endpoint's deliveries.
        status (DeliveryStatus | None | Unset): Only deliveries in this status.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.
        limit (int | Unset): Deliveries per page. Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WebhookDeliveryPage
    """

    return sync_detailed(
        client=client,
        endpoint_id=endpoint_id,
        status=status,
        cursor=cursor,
        limit=limit,
    ).parsed


async def asyncio_detailed(
    *,
    client: AuthenticatedClient | Client,
    endpoint_id: None | Unset | UUID = UNSET,
    status: DeliveryStatus | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
) -> Response[Problem | WebhookDeliveryPage]:
    """The webhook delivery log

     Deliveries oldest first, each with its attempts (`status_code` null: no answer, see `error`) and,
    while `pending`, when the next attempt is due.

    Args:
        endpoint_id (None | Unset | UUID): Only this endpoint's deliveries.
        status (DeliveryStatus | None | Unset): Only deliveries in this status.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.
        limit (int | Unset): Deliveries per page. Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | WebhookDeliveryPage]
    """

    kwargs = _get_kwargs(
        endpoint_id=endpoint_id,
        status=status,
        cursor=cursor,
        limit=limit,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    *,
    client: AuthenticatedClient | Client,
    endpoint_id: None | Unset | UUID = UNSET,
    status: DeliveryStatus | None | Unset = UNSET,
    cursor: None | str | Unset = UNSET,
    limit: int | Unset = 50,
) -> Problem | WebhookDeliveryPage | None:
    """The webhook delivery log

     Deliveries oldest first, each with its attempts (`status_code` null: no answer, see `error`) and,
    while `pending`, when the next attempt is due.

    Args:
        endpoint_id (None | Unset | UUID): Only this endpoint's deliveries.
        status (DeliveryStatus | None | Unset): Only deliveries in this status.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.
        limit (int | Unset): Deliveries per page. Default: 50.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | WebhookDeliveryPage
    """

    return (
        await asyncio_detailed(
            client=client,
            endpoint_id=endpoint_id,
            status=status,
            cursor=cursor,
            limit=limit,
        )
    ).parsed
