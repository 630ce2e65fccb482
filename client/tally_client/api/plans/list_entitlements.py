from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.entitlement import Entitlement
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    tenant_id: UUID,
    *,
    feature_keys: list[str] | None | Unset = UNSET,
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

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/billing/tenants/{tenant_id}/entitlements".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(
    *, client: AuthenticatedClient | Client, response: httpx.Response
) -> Problem | list[Entitlement] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = Entitlement.from_dict(response_200_item_data)

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
) -> Response[Problem | list[Entitlement]]:
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
) -> Response[Problem | list[Entitlement]]:
    """How much of each feature is used and left in the current period

     One `Entitlement` per catalog feature (or per `feature_keys`), sorted by `feature_key`: its limit
    (null: unlimited), `used` (what `usage-totals` answers for the limit's current period, in the
    tenant's time zone; the calendar month without a limit), `remaining` (never negative), `over_limit`
    and the period's UTC bounds. A tenant on no plan gets `limit: null` rows.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[Entitlement]]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_keys=feature_keys,
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
) -> Problem | list[Entitlement] | None:
    """How much of each feature is used and left in the current period

     One `Entitlement` per catalog feature (or per `feature_keys`), sorted by `feature_key`: its limit
    (null: unlimited), `used` (what `usage-totals` answers for the limit's current period, in the
    tenant's time zone; the calendar month without a limit), `remaining` (never negative), `over_limit`
    and the period's UTC bounds. A tenant on no plan gets `limit: null` rows.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[Entitlement]
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        feature_keys=feature_keys,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_keys: list[str] | None | Unset = UNSET,
) -> Response[Problem | list[Entitlement]]:
    """How much of each feature is used and left in the current period

     One `Entitlement` per catalog feature (or per `feature_keys`), sorted by `feature_key`: its limit
    (null: unlimited), `used` (what `usage-totals` answers for the limit's current period, in the
    tenant's time zone; the calendar month without a limit), `remaining` (never negative), `over_limit`
    and the period's UTC bounds. A tenant on no plan gets `limit: null` rows.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[Entitlement]]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_keys=feature_keys,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_keys: list[str] | None | Unset = UNSET,
) -> Problem | list[Entitlement] | None:
    """How much of each feature is used and left in the current period

     One `Entitlement` per catalog feature (or per `feature_keys`), sorted by `feature_key`: its limit
    (null: unlimited), `used` (what `usage-totals` answers for the limit's current period, in the
    tenant's time zone; the calendar month without a limit), `remaining` (never negative), `over_limit`
    and the period's UTC bounds. A tenant on no plan gets `limit: null` rows.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_keys (list[str] | None | Unset): Features to report (repeat the parameter, at most
            100); omitted: every feature of the catalog. Unknown keys are a 400.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[Entitlement]
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            feature_keys=feature_keys,
        )
    ).parsed
