from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.usage_event import UsageEvent
from ...models.void_in import VoidIn
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    idempotency_key: str,
    *,
    body: VoidIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/tenants/{tenant_id}/usage-events/{idempotency_key}/void".format(
            tenant_id=quote(str(tenant_id), safe=""),
            idempotency_key=quote(str(idempotency_key), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | UsageEvent | None:
    if response.status_code == 200:
        response_200 = UsageEvent.from_dict(response.json())

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
) -> Response[Problem | UsageEvent]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    tenant_id: UUID,
    idempotency_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: VoidIn,
) -> Response[Problem | UsageEvent]:
    """Void an event: remove it from every total

     Removes the event from all totals and keeps it, with who voided it, when and why, in the event
    listing. Voiding a voided event changes nothing (200). Its key stays used: re-sending the event is a
    duplicate, and the key cannot carry another event (409). An event dated in a closed billing period
    cannot be voided (409 `period-closed`). Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        idempotency_key (str): Key of the event to void; a key never recorded for the tenant is a
            404.
        body (VoidIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UsageEvent]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tenant_id: UUID,
    idempotency_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: VoidIn,
) -> Problem | UsageEvent | None:
    """Void an event: remove it from every total

     Removes the event from all totals and keeps it, with who voided it, when and why, in the event
    listing. Voiding a voided event changes nothing (200). Its key stays used: re-sending the event is a
    duplicate, and the key cannot carry another event (409). An event dated in a closed billing period
    cannot be voided (409 `period-closed`). Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        idempotency_key (str): Key of the event to void; a key never recorded for the tenant is a
            404.
        body (VoidIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UsageEvent
    """

    return sync_detailed(
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    idempotency_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: VoidIn,
) -> Response[Problem | UsageEvent]:
    """Void an event: remove it from every total

     Removes the event from all totals and keeps it, with who voided it, when and why, in the event
    listing. Voiding a voided event changes nothing (200). Its key stays used: re-sending the event is a
    duplicate, and the key cannot carry another event (409). An event dated in a closed billing period
    cannot be voided (409 `period-closed`). Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        idempotency_key (str): Key of the event to void; a key never recorded for the tenant is a
            404.
        body (VoidIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UsageEvent]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        idempotency_key=idempotency_key,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    idempotency_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: VoidIn,
) -> Problem | UsageEvent | None:
    """Void an event: remove it from every total

     Removes the event from all totals and keeps it, with who voided it, when and why, in the event
    listing. Voiding a voided event changes nothing (200). Its key stays used: re-sending the event is a
    duplicate, and the key cannot carry another event (409). An event dated in a closed billing period
    cannot be voided (409 `period-closed`). Roles admin, owner, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        idempotency_key (str): Key of the event to void; a key never recorded for the tenant is a
            404.
        body (VoidIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UsageEvent
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            idempotency_key=idempotency_key,
            client=client,
            body=body,
        )
    ).parsed
