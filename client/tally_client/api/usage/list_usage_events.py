import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.usage_event_page import UsageEventPage
from ...types import UNSET, Response, Unset


def _get_kwargs(
    tenant_id: UUID,
    *,
    feature_key: None | str | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_feature_key: None | str | Unset
    if isinstance(feature_key, Unset):
        json_feature_key = UNSET
    else:
        json_feature_key = feature_key
    params["feature_key"] = json_feature_key

    json_period_start: None | str | Unset
    if isinstance(period_start, Unset):
        json_period_start = UNSET
    elif isinstance(period_start, datetime.datetime):
        if period_start.utcoffset() is None:
            raise ValueError(
                "period_start: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        json_period_start = period_start.isoformat()
    else:
        json_period_start = period_start
    params["period_start"] = json_period_start

    json_period_end: None | str | Unset
    if isinstance(period_end, Unset):
        json_period_end = UNSET
    elif isinstance(period_end, datetime.datetime):
        if period_end.utcoffset() is None:
            raise ValueError(
                "period_end: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        json_period_end = period_end.isoformat()
    else:
        json_period_end = period_end
    params["period_end"] = json_period_end

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
        "url": "/api/v1/billing/tenants/{tenant_id}/usage-events".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | UsageEventPage | None:
    if response.status_code == 200:
        response_200 = UsageEventPage.from_dict(response.json())

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

    if response.status_code == 406:
        response_406 = Problem.from_dict(response.json())

        return response_406

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
) -> Response[Problem | UsageEventPage]:
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
    feature_key: None | str | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[Problem | UsageEventPage]:
    """List recorded events, voided ones included

     Events oldest first (by timestamp, then key), filtered by feature and by the half-open period
    `[period_start, period_end)` (either bound may be omitted: no bound). Pass `next_cursor` back as
    `cursor` for the next page; it is null on the last one. With `Accept: text/csv`: every event of the
    filters (after `cursor`, if given) as CSV, streamed, not a page (`limit` does not apply).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's events.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (without one a 400).
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start`.
        limit (int | Unset): Events per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UsageEventPage]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_key=feature_key,
        period_start=period_start,
        period_end=period_end,
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
    feature_key: None | str | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Problem | UsageEventPage | None:
    """List recorded events, voided ones included

     Events oldest first (by timestamp, then key), filtered by feature and by the half-open period
    `[period_start, period_end)` (either bound may be omitted: no bound). Pass `next_cursor` back as
    `cursor` for the next page; it is null on the last one. With `Accept: text/csv`: every event of the
    filters (after `cursor`, if given) as CSV, streamed, not a page (`limit` does not apply).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's events.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (without one a 400).
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start`.
        limit (int | Unset): Events per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UsageEventPage
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        feature_key=feature_key,
        period_start=period_start,
        period_end=period_end,
        limit=limit,
        cursor=cursor,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_key: None | str | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Response[Problem | UsageEventPage]:
    """List recorded events, voided ones included

     Events oldest first (by timestamp, then key), filtered by feature and by the half-open period
    `[period_start, period_end)` (either bound may be omitted: no bound). Pass `next_cursor` back as
    `cursor` for the next page; it is null on the last one. With `Accept: text/csv`: every event of the
    filters (after `cursor`, if given) as CSV, streamed, not a page (`limit` does not apply).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's events.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (without one a 400).
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start`.
        limit (int | Unset): Events per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | UsageEventPage]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_key=feature_key,
        period_start=period_start,
        period_end=period_end,
        limit=limit,
        cursor=cursor,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_key: None | str | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    limit: int | Unset = 100,
    cursor: None | str | Unset = UNSET,
) -> Problem | UsageEventPage | None:
    """List recorded events, voided ones included

     Events oldest first (by timestamp, then key), filtered by feature and by the half-open period
    `[period_start, period_end)` (either bound may be omitted: no bound). Pass `next_cursor` back as
    `cursor` for the next page; it is null on the last one. With `Accept: text/csv`: every event of the
    filters (after `cursor`, if given) as CSV, streamed, not a page (`limit` does not apply).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's events.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (without one a 400).
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start`.
        limit (int | Unset): Events per page. Default: 100.
        cursor (None | str | Unset): `next_cursor` of the previous page; a cursor this API did not
            return is a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | UsageEventPage
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            feature_key=feature_key,
            period_start=period_start,
            period_end=period_end,
            limit=limit,
            cursor=cursor,
        )
    ).parsed
