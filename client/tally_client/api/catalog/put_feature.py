from http import HTTPStatus
from typing import Any
from urllib.parse import quote

import httpx

from ... import errors
from ...client import AuthenticatedClient, Client
from ...models.feature import Feature
from ...models.feature_in import FeatureIn
from ...models.problem import Problem
from ...types import Response


def _get_kwargs(
    feature_key: str,
    *,
    body: FeatureIn,
) -> dict[str, Any]:
    headers: dict[str, Any] = {}

    _kwargs: dict[str, Any] = {
        "method": "put",
        "url": "/api/v1/billing/features/{feature_key}".format(
            feature_key=quote(str(feature_key), safe=""),
        ),
    }

    _kwargs["json"] = body.to_dict()

    headers["Content-Type"] = "application/json"

    _kwargs["headers"] = headers
    return _kwargs


def _parse_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Feature | Problem | None:
    if response.status_code == 200:
        response_200 = Feature.from_dict(response.json())

        return response_200

    if response.status_code == 201:
        response_201 = Feature.from_dict(response.json())

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

    if response.status_code == 409:
        response_409 = Problem.from_dict(response.json())

        return response_409

    if response.status_code == 413:
        response_413 = Problem.from_dict(response.json())

        return response_413

    if response.status_code == 415:
        response_415 = Problem.from_dict(response.json())

        return response_415

    if response.status_code == 503:
        response_503 = Problem.from_dict(response.json())

        return response_503

    if client.raise_on_unexpected_status:
        raise errors.UnexpectedStatus(response.status_code, response.content)
    else:
        return None


def _build_response(*, client: AuthenticatedClient | Client, response: httpx.Response) -> Response[Feature | Problem]:
    return Response(
        status_code=HTTPStatus(response.status_code),
        content=response.content,
        headers=response.headers,
        parsed=_parse_response(client=client, response=response),
    )


def sync_detailed(
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: FeatureIn,
) -> Response[Feature | Problem]:
    """Create or update a feature

     Creates the feature (201) or updates it (200). `unit`, `aggregation`, `unique_by` and `approximate`
    cannot change once usage has been recorded for the feature (409). `unique_by` and `approximate` go
    with `aggregation: unique_count` only, and `unique_by` must be one of `dimensions`, else 400.
    Platform role only.

    Args:
        feature_key (str): Key of the feature to create or update.
        body (FeatureIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Feature | Problem]
    """

    kwargs = _get_kwargs(
        feature_key=feature_key,
        body=body,
    )

    response = client.get_httpx_client().request(
        **kwargs,
    )

    return _build_response(client=client, response=response)


def sync(
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: FeatureIn,
) -> Feature | Problem | None:
    """Create or update a feature

     Creates the feature (201) or updates it (200). `unit`, `aggregation`, `unique_by` and `approximate`
    cannot change once usage has been recorded for the feature (409). `unique_by` and `approximate` go
    with `aggregation: unique_count` only, and `unique_by` must be one of `dimensions`, else 400.
    Platform role only.

    Args:
        feature_key (str): Key of the feature to create or update.
        body (FeatureIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Feature | Problem
    """

    return sync_detailed(
        feature_key=feature_key,
        client=client,
        body=body,
    ).parsed


async def asyncio_detailed(
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: FeatureIn,
) -> Response[Feature | Problem]:
    """Create or update a feature

     Creates the feature (201) or updates it (200). `unit`, `aggregation`, `unique_by` and `approximate`
    cannot change once usage has been recorded for the feature (409). `unique_by` and `approximate` go
    with `aggregation: unique_count` only, and `unique_by` must be one of `dimensions`, else 400.
    Platform role only.

    Args:
        feature_key (str): Key of the feature to create or update.
        body (FeatureIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Response[Feature | Problem]
    """

    kwargs = _get_kwargs(
        feature_key=feature_key,
        body=body,
    )

    response = await client.get_async_httpx_client().request(**kwargs)

    return _build_response(client=client, response=response)


async def asyncio(
    feature_key: str,
    *,
    client: AuthenticatedClient | Client,
    body: FeatureIn,
) -> Feature | Problem | None:
    """Create or update a feature

     Creates the feature (201) or updates it (200). `unit`, `aggregation`, `unique_by` and `approximate`
    cannot change once usage has been recorded for the feature (409). `unique_by` and `approximate` go
    with `aggregation: unique_count` only, and `unique_by` must be one of `dimensions`, else 400.
    Platform role only.

    Args:
        feature_key (str): Key of the feature to create or update.
        body (FeatureIn):

    Raises:
        errors.UnexpectedStatus: If the server returns an undocumented status code and Client.raise_on_unexpected_status is True.
        httpx.TimeoutException: If the request takes longer than Client.timeout.

    Returns:
        Feature | Problem
    """

    return (
        await asyncio_detailed(
            feature_key=feature_key,
            client=client,
            body=body,
        )
    ).parsed
