from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.plan import Plan
from ...models.plan_in import PlanIn
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    plan_key: str,
    *,
    body: PlanIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/api/v1/billing/plans/{plan_key}".format(
            plan_key=quote(str(plan_key), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Plan | Problem | None:
    if response.status_code == 200:
        response_200 = Plan.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = Plan.from_dict(response.json())

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


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Plan | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    plan_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanIn,
) -> Response[Plan | Problem]:
    """Create or replace a plan

     Creates the plan (201) or replaces its name and limits (200). Each limit names a catalog feature
    (else 400), at most once: its value per `day` or `month` (calendar, in the tenant's time zone),
    `enforcement` `none` (report only) or `reject` (a batch that would go over it is a 409), and
    `notify_at_percent` thresholds. Platform role only.

    Args:
        plan_key (str): Key of the plan to create or replace.
        body (PlanIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Plan | Problem]
    """

    kwargs = _get_kwargs(
        plan_key=plan_key,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    plan_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanIn,
) -> Plan | Problem | None:
    """Create or replace a plan

     Creates the plan (201) or replaces its name and limits (200). Each limit names a catalog feature
    (else 400), at most once: its value per `day` or `month` (calendar, in the tenant's time zone),
    `enforcement` `none` (report only) or `reject` (a batch that would go over it is a 409), and
    `notify_at_percent` thresholds. Platform role only.

    Args:
        plan_key (str): Key of the plan to create or replace.
        body (PlanIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Plan | Problem
    """

    return sync_detailed(
        plan_key=plan_key,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    plan_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanIn,
) -> Response[Plan | Problem]:
    """Create or replace a plan

     Creates the plan (201) or replaces its name and limits (200). Each limit names a catalog feature
    (else 400), at most once: its value per `day` or `month` (calendar, in the tenant's time zone),
    `enforcement` `none` (report only) or `reject` (a batch that would go over it is a 409), and
    `notify_at_percent` thresholds. Platform role only.

    Args:
        plan_key (str): Key of the plan to create or replace.
        body (PlanIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Plan | Problem]
    """

    kwargs = _get_kwargs(
        plan_key=plan_key,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    plan_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: PlanIn,
) -> Plan | Problem | None:
    """Create or replace a plan

     Creates the plan (201) or replaces its name and limits (200). Each limit names a catalog feature
    (else 400), at most once: its value per `day` or `month` (calendar, in the tenant's time zone),
    `enforcement` `none` (report only) or `reject` (a batch that would go over it is a 409), and
    `notify_at_percent` thresholds. Platform role only.

    Args:
        plan_key (str): Key of the plan to create or replace.
        body (PlanIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Plan | Problem
    """

    return (
        await asyncio_detailed(
            plan_key=plan_key,
            client=client,
            body=body,
        )
    ).parsed
