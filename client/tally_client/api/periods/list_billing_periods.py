from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.billing_period_page import BillingPeriodPage
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    tenant_id: UUID,
    *,
    limit: int | Unset = 12,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

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
        "url": "/api/v1/billing/tenants/{tenant_id}/periods".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> BillingPeriodPage | Problem | None:
    if response.status_code == 200:
        response_200 = BillingPeriodPage.from_dict(response.json())

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
) -> Response[BillingPeriodPage | Problem]:
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
    limit: int | Unset = 12,
    cursor: None | str | Unset = UNSET,
) -> Response[BillingPeriodPage | Problem]:
    """The tenant's billing periods: open, in grace, or closed with final totals

     Calendar months in the tenant's time zone (its plan assignment's; UTC without one), newest first,
    from the current one back to the month of its first usage. `state` is `open` (usage may arrive),
    `grace` (ended; late usage may arrive until `grace_ends_at`) or `closed` (final: events dated in it
    and voids of them are refused with 409 `period-closed`); a closed period carries every feature's
    `totals` as recorded at the close. Pass `next_cursor` back as `cursor` for the next page. Any role
    of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        limit (int | Unset): Periods per page. Default: 12.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BillingPeriodPage | Problem]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
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
    limit: int | Unset = 12,
    cursor: None | str | Unset = UNSET,
) -> BillingPeriodPage | Problem | None:
    """The tenant's billing periods: open, in grace, or closed with final totals

     Calendar months in the tenant's time zone (its plan assignment's; UTC without one), newest first,
    from the current one back to the month of its first usage. `state` is `open` (usage may arrive),
    `grace` (ended; late usage may arrive until `grace_ends_at`) or `closed` (final: events dated in it
    and voids of them are refused with 409 `period-closed`); a closed period carries every feature's
    `totals` as recorded at the close. Pass `next_cursor` back as `cursor` for the next page. Any role
    of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        limit (int | Unset): Periods per page. Default: 12.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BillingPeriodPage | Problem
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = 12,
    cursor: None | str | Unset = UNSET,
) -> Response[BillingPeriodPage | Problem]:
    """The tenant's billing periods: open, in grace, or closed with final totals

     Calendar months in the tenant's time zone (its plan assignment's; UTC without one), newest first,
    from the current one back to the month of its first usage. `state` is `open` (usage may arrive),
    `grace` (ended; late usage may arrive until `grace_ends_at`) or `closed` (final: events dated in it
    and voids of them are refused with 409 `period-closed`); a closed period carries every feature's
    `totals` as recorded at the close. Pass `next_cursor` back as `cursor` for the next page. Any role
    of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        limit (int | Unset): Periods per page. Default: 12.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[BillingPeriodPage | Problem]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    limit: int | Unset = 12,
    cursor: None | str | Unset = UNSET,
) -> BillingPeriodPage | Problem | None:
    """The tenant's billing periods: open, in grace, or closed with final totals

     Calendar months in the tenant's time zone (its plan assignment's; UTC without one), newest first,
    from the current one back to the month of its first usage. `state` is `open` (usage may arrive),
    `grace` (ended; late usage may arrive until `grace_ends_at`) or `closed` (final: events dated in it
    and voids of them are refused with 409 `period-closed`); a closed period carries every feature's
    `totals` as recorded at the close. Pass `next_cursor` back as `cursor` for the next page. Any role
    of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        limit (int | Unset): Periods per page. Default: 12.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        BillingPeriodPage | Problem
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
