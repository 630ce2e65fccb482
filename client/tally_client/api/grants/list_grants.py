from http import HTTPStatus
from typing import Any
from urllib.parse import quote
from uuid import UUID

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.grant import Grant
from ...models.grant_state import GrantState
from ...models.problem import Problem
from ...types import UNSET, Response, Unset


def _get_kwargs(
    tenant_id: UUID,
    *,
    feature_key: None | str | Unset = UNSET,
    state: GrantState | None | Unset = UNSET,
) -> dict[str, Any]:

    params: dict[str, Any] = {}

    json_feature_key: None | str | Unset
    if isinstance(feature_key, Unset):
        json_feature_key = UNSET
    else:
        json_feature_key = feature_key
    params["feature_key"] = json_feature_key

    json_state: None | str | Unset
    if isinstance(state, Unset):
        json_state = UNSET
    elif isinstance(state, GrantState):
        json_state = state.value
    else:
        json_state = state
    params["state"] = json_state

    params = {k: v for k, v in params.items() if v is not UNSET and v is not None}

    _kwargs: dict[str, Any] = {
        "method": "get",
        "url": "/api/v1/billing/tenants/{tenant_id}/grants".format(
            tenant_id=quote(str(tenant_id), safe=""),
        ),
        "params": params,
    }

    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Problem | list[Grant] | None:
    if response.status_code == 200:
        response_200 = []
        _response_200 = response.json()
        for response_200_item_data in _response_200:
            response_200_item = Grant.from_dict(response_200_item_data)

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
) -> Response[Problem | list[Grant]]:
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
    state: GrantState | None | Unset = UNSET,
) -> Response[Problem | list[Grant]]:
    """A tenant's grants with their balances now

     Every grant (or those of `feature_key`, in `state`), by feature in burn-down order, voided ones
    last: `used` is the usage charged to it so far, `remaining` what is left, computed from the same
    totals `usage-totals` answers. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's grants.
        state (GrantState | None | Unset): Only grants in this state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[Grant]]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_key=feature_key,
        state=state,
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
    state: GrantState | None | Unset = UNSET,
) -> Problem | list[Grant] | None:
    """A tenant's grants with their balances now

     Every grant (or those of `feature_key`, in `state`), by feature in burn-down order, voided ones
    last: `used` is the usage charged to it so far, `remaining` what is left, computed from the same
    totals `usage-totals` answers. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's grants.
        state (GrantState | None | Unset): Only grants in this state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[Grant]
    """

    return sync_detailed(
        tenant_id=tenant_id,
        client=client,
        feature_key=feature_key,
        state=state,
    ).parsed


async def asyncio_detailed(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_key: None | str | Unset = UNSET,
    state: GrantState | None | Unset = UNSET,
) -> Response[Problem | list[Grant]]:
    """A tenant's grants with their balances now

     Every grant (or those of `feature_key`, in `state`), by feature in burn-down order, voided ones
    last: `used` is the usage charged to it so far, `remaining` what is left, computed from the same
    totals `usage-totals` answers. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's grants.
        state (GrantState | None | Unset): Only grants in this state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Problem | list[Grant]]
    """

    kwargs = _get_kwargs(
        tenant_id=tenant_id,
        feature_key=feature_key,
        state=state,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    tenant_id: UUID,
    *,
    client: AuthenticatedClient | Client,
    feature_key: None | str | Unset = UNSET,
    state: GrantState | None | Unset = UNSET,
) -> Problem | list[Grant] | None:
    """A tenant's grants with their balances now

     Every grant (or those of `feature_key`, in `state`), by feature in burn-down order, voided ones
    last: `used` is the usage charged to it so far, `remaining` what is left, computed from the same
    totals `usage-totals` answers. Any role of the tenant, platform.

    Args:
        tenant_id (UUID): The tenant whose usage is recorded or read.
        feature_key (None | str | Unset): Only this feature's grants.
        state (GrantState | None | Unset): Only grants in this state.

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Problem | list[Grant]
    """

    return (
        await asyncio_detailed(
            tenant_id=tenant_id,
            client=client,
            feature_key=feature_key,
            state=state,
        )
    ).parsed
