"""The feature catalog: create, update, list, who may change it, and what cannot change once used."""

from __future__ import annotations

import uuid

import pytest

from tally.http.auth import Role
from tests.conftest import FEATURES_URL, ONE_DATABASE, assert_problem, bearer, put_features, record
from tests.factories import FeatureInFactory, event_body

pytestmark = pytest.mark.anyio

TENANT = uuid.uuid4()
TENANT_ROLES = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]


async def catalog(client) -> dict[str, dict[str, object]]:
    response = await client.get(FEATURES_URL, headers=bearer(Role.PLATFORM))
    assert response.status_code == 200, response.text
    return {feature["feature_key"]: feature for feature in response.json()}


async def put(client, key: str, body: dict[str, object]):
    return await client.put(f"{FEATURES_URL}/{key}", json=body, headers=bearer(Role.PLATFORM))


async def record_usage(client, key: str) -> None:
    assert (await record(client, TENANT, event_body(feature_key=key)))["accepted"] == 1


async def test_put_creates_then_updates(client) -> None:
    spec = FeatureInFactory.build(unit="tokens", description="LLM tokens")
    created = await put(client, "llm.tokens", {"unit": spec.unit, "description": spec.description})
    assert created.status_code == 201, created.text
    assert created.json() == {
        "feature_key": "llm.tokens",
        "unit": spec.unit,
        "aggregation": "sum",
        "description": spec.description,
        "dimensions": [],
        "unique_by": None,
        "approximate": False,
    }

    updated = await put(client, "llm.tokens", {"unit": "kilotokens", "aggregation": "sum", "description": "new"})
    assert updated.status_code == 200, updated.text
    assert updated.json()["unit"] == "kilotokens"
    assert (await catalog(client)) == {"llm.tokens": updated.json()}


async def test_list_is_sorted_by_key_and_readable_by_every_role(client) -> None:
    keys = ["zeta", "alpha", "m-2", "m.1", "beta_x"]
    await put_features(client, *keys)
    for role in TENANT_ROLES:
        response = await client.get(FEATURES_URL, headers=bearer(role, TENANT))
        assert response.status_code == 200, response.text
        assert [f["feature_key"] for f in response.json()] == sorted(keys)


@pytest.mark.parametrize("role", TENANT_ROLES)
@ONE_DATABASE
async def test_only_platform_manages_the_catalog(client, role: Role) -> None:
    await put_features(client, "api_calls", unit="requests")
    create = await client.put(f"{FEATURES_URL}/storage", json={"unit": "GB-hours"}, headers=bearer(role, TENANT))
    update = await client.put(f"{FEATURES_URL}/api_calls", json={"unit": "calls"}, headers=bearer(role, TENANT))
    assert_problem(create, 403)
    assert_problem(update, 403)
    assert (await catalog(client))["api_calls"]["unit"] == "requests"
    assert "storage" not in await catalog(client)


async def test_unit_may_change_before_usage(client) -> None:
    await put_features(client, "api_calls", unit="requests")
    response = await put(client, "api_calls", {"unit": "calls"})
    assert response.status_code == 200, response.text
    assert (await catalog(client))["api_calls"]["unit"] == "calls"


async def test_unit_cannot_change_after_usage(client) -> None:
    await put_features(client, "api_calls", unit="requests")
    await record_usage(client, "api_calls")
    response = await put(client, "api_calls", {"unit": "calls"})
    assert_problem(response, 409, "unit")
    assert (await catalog(client))["api_calls"]["unit"] == "requests"


async def test_description_may_change_after_usage(client) -> None:
    await put_features(client, "api_calls", unit="requests")
    await record_usage(client, "api_calls")
    response = await put(client, "api_calls", {"unit": "requests", "aggregation": "sum", "description": "HTTP calls"})
    assert response.status_code == 200, response.text
    assert (await catalog(client))["api_calls"]["description"] == "HTTP calls"


@pytest.mark.parametrize(
    "key",
    [
        pytest.param("Api_calls", id="upper-case"),
        pytest.param("9lives", id="leading-digit"),
        pytest.param("_x", id="leading-underscore"),
        pytest.param("a" * 65, id="65-chars"),
        pytest.param("api%20calls", id="space"),
        pytest.param("api$calls", id="dollar"),
    ],
)
@ONE_DATABASE
async def test_bad_feature_key_is_400_naming_the_field(client, key: str) -> None:
    response = await put(client, key, {"unit": "requests"})
    assert_problem(response, 400, "feature_key")
    assert await catalog(client) == {}


async def test_longest_feature_key_is_accepted(client) -> None:
    key = "a" + "b" * 63
    response = await put(client, key, {"unit": "requests"})
    assert response.status_code == 201, response.text
    assert list(await catalog(client)) == [key]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        pytest.param({"aggregation": "sum"}, "unit", id="missing-unit"),
        pytest.param({"unit": ""}, "unit", id="empty-unit"),
        pytest.param({"unit": "requests", "aggregation": "average"}, "aggregation", id="unknown-aggregation"),
        pytest.param({"unit": 7}, "unit", id="unit-not-a-string"),
    ],
)
@ONE_DATABASE
async def test_bad_body_is_400_naming_the_field(client, body: dict[str, object], field: str) -> None:
    response = await put(client, "api_calls", body)
    assert_problem(response, 400, field)
    assert await catalog(client) == {}
