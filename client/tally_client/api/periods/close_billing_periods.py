from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.billing_period import BillingPeriod
from ...models.period_close_in import PeriodCloseIn
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    tenant_id: UUID,
    *,
    body: PeriodCloseIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "post",
        "url": "/api/v1/billing/tenants/{tenant_id}/periods/close".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | list[BillingPeriod] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = BillingPeriod.from_dict(response_200_item_data)

            response_200.append(response_200_item)

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
) -> Response[Problem | list[BillingPeriod]]:
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
    body: PeriodCloseIn,
) -> Response[Problem | list[BillingPeriod]]:
    """Close the tenant's billing periods now, before their grace has passed

     Closes every period of the tenant ending at or before `period_end` that is not closed yet: records
    each one's totals per feature as they are now and queues a `period.closed` webhook message with
    them, in one transaction. Answers the periods this call closed, oldest first (empty when they were
    closed already). A `period_end` in the future is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (PeriodCloseIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[BillingPeriod]]
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
    body: PeriodCloseIn,
) -> Problem | list[BillingPeriod] | None:
    """Close the tenant's billing periods now, before their grace has passed

     Closes every period of the tenant ending at or before `period_end` that is not closed yet: records
    each one's totals per feature as they are now and queues a `period.closed` webhook message with
    them, in one transaction. Answers the periods this call closed, oldest first (empty when they were
    closed already). A `period_end` in the future is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (PeriodCloseIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[BillingPeriod]
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
    body: PeriodCloseIn,
) -> Response[Problem | list[BillingPeriod]]:
    """Close the tenant's billing periods now, before their grace has passed

     Closes every period of the tenant ending at or before `period_end` that is not closed yet: records
    each one's totals per feature as they are now and queues a `period.closed` webhook message with
    them, in one transaction. Answers the periods this call closed, oldest first (empty when they were
    closed already). A `period_end` in the future is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (PeriodCloseIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[BillingPeriod]]
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
    body: PeriodCloseIn,
) -> Problem | list[BillingPeriod] | None:
    """Close the tenant's billing periods now, before their grace has passed

     Closes every period of the tenant ending at or before `period_end` that is not closed yet: records
    each one's totals per feature as they are now and queues a `period.closed` webhook message with
    them, in one transaction. Answers the periods this call closed, oldest first (empty when they were
    closed already). A `period_end` in the future is a 400. Platform role only.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        body (PeriodCloseIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[BillingPeriod]
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            body=body,
        )
    ).parsed
