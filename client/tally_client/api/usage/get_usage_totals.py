import datetime
from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.problem import Problem
from ...models.usage_total import UsageTotal
from ...models.window_size import WindowSize
from ...types import UNSET, Response, Unset


def _get_kwargs(
    tenant_id: UUID,
    *,
    feature_keys: list[str] | None | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    window_size: None | Unset | WindowSize = UNSET,
    timezone: str | Unset = "UTC",
    group_by: list[str] | None | Unset = UNSET,
    filter_: list[str] | None | Unset = UNSET,
    as_of: datetime.datetime | None | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_feature_keys: list[str] | None | Unset
    if isinstance(feature_keys, Unset):
        json_feature_keys = UNSET
    elif isinstance(feature_keys, list):
        json_feature_keys = feature_keys

    else:
        json_feature_keys = feature_keys
    params["feature_keys"] = json_feature_keys

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

    json_window_size: None | str | Unset
    if isinstance(window_size, Unset):
        json_window_size = UNSET
    elif isinstance(window_size, WindowSize):
        json_window_size = window_size.value
    else:
        json_window_size = window_size
    params["window_size"] = json_window_size

    params["timezone"] = timezone

    json_group_by: list[str] | None | Unset
    if isinstance(group_by, Unset):
        json_group_by = UNSET
    elif isinstance(group_by, list):
        json_group_by = group_by

    else:
        json_group_by = group_by
    params["group_by"] = json_group_by

    json_filter_: list[str] | None | Unset
    if isinstance(filter_, Unset):
        json_filter_ = UNSET
    elif isinstance(filter_, list):
        json_filter_ = filter_

    else:
        json_filter_ = filter_
    params["filter"] = json_filter_

    json_as_of: None | str | Unset
    if isinstance(as_of, Unset):
        json_as_of = UNSET
    elif isinstance(as_of, datetime.datetime):
        if as_of.utcoffset() is None:
            raise ValueError(
                "as_of: a datetime without a time zone is refused (Tally would have to guess it); "
                "give it one, e.g. datetime.datetime(2026, 12, 5, 10, 0, tzinfo=datetime.UTC), or .astimezone() "
                "for the machine's local time"
            )

        json_as_of = as_of.isoformat()
    else:
        json_as_of = as_of
    params["as_of"] = json_as_of

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/billing/tenants/{tenant_id}/usage-totals".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | list[UsageTotal] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = UsageTotal.from_dict(response_200_item_data)

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
) -> Response[Problem | list[UsageTotal]]:
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
    feature_keys: list[str] | None | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    window_size: None | Unset | WindowSize = UNSET,
    timezone: str | Unset = "UTC",
    group_by: list[str] | None | Unset = UNSET,
    filter_: list[str] | None | Unset = UNSET,
    as_of: datetime.datetime | None | Unset = UNSET,
) -> Response[Problem | list[UsageTotal]]:
    """Usage totals per feature, over a period or per window

     Without `window_size`: one `UsageTotal` per selected feature for the half-open period
    `[period_start, period_end)`. With `window_size` (`hour`, `day`, `month`): one row per feature and
    window, consecutive and covering the period; both bounds must then be window boundaries in
    `timezone`, and at most 10,000 rows are answered. Rows are sorted by (`feature_key`,
    `window_start`), zero-filled, bounds in UTC. Each feature's total follows its aggregation: `sum`,
    `count`, `max`, `min`, `latest` (the quantity of the latest event by timestamp; ties go to the
    later-recorded event), or `unique_count` (distinct values of the feature's `unique_by` dimension in
    the window). Voided events count nowhere. Both bounds omitted: the current calendar month in
    `timezone`; one omitted: the other bound of the calendar month holding the given one. With
    `group_by`: one row per feature, window and combination of the grouped dimensions' values that
    occurred (null: events without the key), sorted by those values after `window_start`, nulls first; a
    window where nothing matched is one zero row with null values. `filter` keeps only the events with
    the given values. Each `UsageTotal.dimensions` holds its grouped values (`{}` without `group_by`).
    With `Accept: text/csv`: the same rows as CSV, streamed (a header row; a `dimensions.<key>` column
    per `group_by` key).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (`Z` or `±hh:mm`; send `+` as `%2B`); without one a 400.
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start` (else 400).
        window_size (None | Unset | WindowSize): One row per feature per `hour`, `day` or `month`
            of the period.
        timezone (str | Unset): IANA time zone that day and month windows and the calendar-month
            defaults follow. Default: 'UTC'.
        group_by (list[str] | None | Unset): Dimension keys to break totals down by (repeat the
            parameter, at most 3); each must be declared by every selected feature, else 400.
        filter_ (list[str] | None | Unset): Only events with this dimension value, as `key=value`
            (value 1 to 128 characters; repeat the parameter: different keys must all match, values of
            the same key are alternatives). Each key must be declared by every selected feature, else
            400.
        as_of (datetime.datetime | None | Unset): The totals as Tally knew them at this instant
            (RFC 3339 with an offset): the events recorded at or before it and not voided by then, for
            any period; the catalog as it is now. Read from the raw events, so slower than the live
            read. Omitted: as they are now.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[UsageTotal]]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_keys=feature_keys,
        period_start=period_start,
        period_end=period_end,
        window_size=window_size,
        timezone=timezone,
        group_by=group_by,
        filter_=filter_,
        as_of=as_of,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_keys: list[str] | None | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    window_size: None | Unset | WindowSize = UNSET,
    timezone: str | Unset = "UTC",
    group_by: list[str] | None | Unset = UNSET,
    filter_: list[str] | None | Unset = UNSET,
    as_of: datetime.datetime | None | Unset = UNSET,
) -> Problem | list[UsageTotal] | None:
    """Usage totals per feature, over a period or per window

     Without `window_size`: one `UsageTotal` per selected feature for the half-open period
    `[period_start, period_end)`. With `window_size` (`hour`, `day`, `month`): one row per feature and
    window, consecutive and covering the period; both bounds must then be window boundaries in
    `timezone`, and at most 10,000 rows are answered. Rows are sorted by (`feature_key`,
    `window_start`), zero-filled, bounds in UTC. Each feature's total follows its aggregation: `sum`,
    `count`, `max`, `min`, `latest` (the quantity of the latest event by timestamp; ties go to the
    later-recorded event), or `unique_count` (distinct values of the feature's `unique_by` dimension in
    the window). Voided events count nowhere. Both bounds omitted: the current calendar month in
    `timezone`; one omitted: the other bound of the calendar month holding the given one. With
    `group_by`: one row per feature, window and combination of the grouped dimensions' values that
    occurred (null: events without the key), sorted by those values after `window_start`, nulls first; a
    window where nothing matched is one zero row with null values. `filter` keeps only the events with
    the given values. Each `UsageTotal.dimensions` holds its grouped values (`{}` without `group_by`).
    With `Accept: text/csv`: the same rows as CSV, streamed (a header row; a `dimensions.<key>` column
    per `group_by` key).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (`Z` or `±hh:mm`; send `+` as `%2B`); without one a 400.
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start` (else 400).
        window_size (None | Unset | WindowSize): One row per feature per `hour`, `day` or `month`
            of the period.
        timezone (str | Unset): IANA time zone that day and month windows and the calendar-month
            defaults follow. Default: 'UTC'.
        group_by (list[str] | None | Unset): Dimension keys to break totals down by (repeat the
            parameter, at most 3); each must be declared by every selected feature, else 400.
        filter_ (list[str] | None | Unset): Only events with this dimension value, as `key=value`
            (value 1 to 128 characters; repeat the parameter: different keys must all match, values of
            the same key are alternatives). Each key must be declared by every selected feature, else
            400.
        as_of (datetime.datetime | None | Unset): The totals as Tally knew them at this instant
            (RFC 3339 with an offset): the events recorded at or before it and not voided by then, for
            any period; the catalog as it is now. Read from the raw events, so slower than the live
            read. Omitted: as they are now.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[UsageTotal]
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        feature_keys=feature_keys,
        period_start=period_start,
        period_end=period_end,
        window_size=window_size,
        timezone=timezone,
        group_by=group_by,
        filter_=filter_,
        as_of=as_of,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_keys: list[str] | None | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    window_size: None | Unset | WindowSize = UNSET,
    timezone: str | Unset = "UTC",
    group_by: list[str] | None | Unset = UNSET,
    filter_: list[str] | None | Unset = UNSET,
    as_of: datetime.datetime | None | Unset = UNSET,
) -> Response[Problem | list[UsageTotal]]:
    """Usage totals per feature, over a period or per window

     Without `window_size`: one `UsageTotal` per selected feature for the half-open period
    `[period_start, period_end)`. With `window_size` (`hour`, `day`, `month`): one row per feature and
    window, consecutive and covering the period; both bounds must then be window boundaries in
    `timezone`, and at most 10,000 rows are answered. Rows are sorted by (`feature_key`,
    `window_start`), zero-filled, bounds in UTC. Each feature's total follows its aggregation: `sum`,
    `count`, `max`, `min`, `latest` (the quantity of the latest event by timestamp; ties go to the
    later-recorded event), or `unique_count` (distinct values of the feature's `unique_by` dimension in
    the window). Voided events count nowhere. Both bounds omitted: the current calendar month in
    `timezone`; one omitted: the other bound of the calendar month holding the given one. With
    `group_by`: one row per feature, window and combination of the grouped dimensions' values that
    occurred (null: events without the key), sorted by those values after `window_start`, nulls first; a
    window where nothing matched is one zero row with null values. `filter` keeps only the events with
    the given values. Each `UsageTotal.dimensions` holds its grouped values (`{}` without `group_by`).
    With `Accept: text/csv`: the same rows as CSV, streamed (a header row; a `dimensions.<key>` column
    per `group_by` key).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (`Z` or `±hh:mm`; send `+` as `%2B`); without one a 400.
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start` (else 400).
        window_size (None | Unset | WindowSize): One row per feature per `hour`, `day` or `month`
            of the period.
        timezone (str | Unset): IANA time zone that day and month windows and the calendar-month
            defaults follow. Default: 'UTC'.
        group_by (list[str] | None | Unset): Dimension keys to break totals down by (repeat the
            parameter, at most 3); each must be declared by every selected feature, else 400.
        filter_ (list[str] | None | Unset): Only events with this dimension value, as `key=value`
            (value 1 to 128 characters; repeat the parameter: different keys must all match, values of
            the same key are alternatives). Each key must be declared by every selected feature, else
            400.
        as_of (datetime.datetime | None | Unset): The totals as Tally knew them at this instant
            (RFC 3339 with an offset): the events recorded at or before it and not voided by then, for
            any period; the catalog as it is now. Read from the raw events, so slower than the live
            read. Omitted: as they are now.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[UsageTotal]]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_keys=feature_keys,
        period_start=period_start,
        period_end=period_end,
        window_size=window_size,
        timezone=timezone,
        group_by=group_by,
        filter_=filter_,
        as_of=as_of,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_keys: list[str] | None | Unset = UNSET,
    period_start: datetime.datetime | None | Unset = UNSET,
    period_end: datetime.datetime | None | Unset = UNSET,
    window_size: None | Unset | WindowSize = UNSET,
    timezone: str | Unset = "UTC",
    group_by: list[str] | None | Unset = UNSET,
    filter_: list[str] | None | Unset = UNSET,
    as_of: datetime.datetime | None | Unset = UNSET,
) -> Problem | list[UsageTotal] | None:
    """Usage totals per feature, over a period or per window

     Without `window_size`: one `UsageTotal` per selected feature for the half-open period
    `[period_start, period_end)`. With `window_size` (`hour`, `day`, `month`): one row per feature and
    window, consecutive and covering the period; both bounds must then be window boundaries in
    `timezone`, and at most 10,000 rows are answered. Rows are sorted by (`feature_key`,
    `window_start`), zero-filled, bounds in UTC. Each feature's total follows its aggregation: `sum`,
    `count`, `max`, `min`, `latest` (the quantity of the latest event by timestamp; ties go to the
    later-recorded event), or `unique_count` (distinct values of the feature's `unique_by` dimension in
    the window). Voided events count nowhere. Both bounds omitted: the current calendar month in
    `timezone`; one omitted: the other bound of the calendar month holding the given one. With
    `group_by`: one row per feature, window and combination of the grouped dimensions' values that
    occurred (null: events without the key), sorted by those values after `window_start`, nulls first; a
    window where nothing matched is one zero row with null values. `filter` keeps only the events with
    the given values. Each `UsageTotal.dimensions` holds its grouped values (`{}` without `group_by`).
    With `Accept: text/csv`: the same rows as CSV, streamed (a header row; a `dimensions.<key>` column
    per `group_by` key).

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.
        period_start (datetime.datetime | None | Unset): Inclusive start, RFC 3339 with an offset
            (`Z` or `±hh:mm`; send `+` as `%2B`); without one a 400.
        period_end (datetime.datetime | None | Unset): Exclusive end, RFC 3339 with an offset,
            after `period_start` (else 400).
        window_size (None | Unset | WindowSize): One row per feature per `hour`, `day` or `month`
            of the period.
        timezone (str | Unset): IANA time zone that day and month windows and the calendar-month
            defaults follow. Default: 'UTC'.
        group_by (list[str] | None | Unset): Dimension keys to break totals down by (repeat the
            parameter, at most 3); each must be declared by every selected feature, else 400.
        filter_ (list[str] | None | Unset): Only events with this dimension value, as `key=value`
            (value 1 to 128 characters; repeat the parameter: different keys must all match, values of
            the same key are alternatives). Each key must be declared by every selected feature, else
            400.
        as_of (datetime.datetime | None | Unset): The totals as Tally knew them at this instant
            (RFC 3339 with an offset): the events recorded at or before it and not voided by then, for
            any period; the catalog as it is now. Read from the raw events, so slower than the live
            read. Omitted: as they are now.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[UsageTotal]
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            feature_keys=feature_keys,
            period_start=period_start,
            period_end=period_end,
            window_size=window_size,
            timezone=timezone,
            group_by=group_by,
            filter_=filter_,
            as_of=as_of,
        )
    ).parsed
