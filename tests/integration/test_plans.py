"""Plans and a tenant's plan assignment: the contract's rules on both databases."""

from __future__ import annotations

import uuid

import pytest

from tally.http.auth import Role
from tests.conftest import ONE_DATABASE, PLATFORM, assert_problem, bearer, put_features

pytestmark = pytest.mark.anyio

PLANS_URL = "/api/v1/billing/plans"


def plan_url(tenant_id: uuid.UUID) -> str:
    return f"/api/v1/billing/tenants/{tenant_id}/plan"


def limit(feature_key: str = "api_calls", value: int = 1000, **more: object) -> dict[str, object]:
    return {"feature_key": feature_key, "limit": value, **more}


async def put_plan(client, plan_key: str = "pro", *limits: dict[str, object], name: str = "Pro"):  # type: ignore[no-untyped-def]
    return await client.put(f"{PLANS_URL}/{plan_key}", json={"name": name, "limits": list(limits)}, headers=PLATFORM)


async def test_put_creates_then_replaces_and_get_lists_sorted(client) -> None:
    await put_features(client, "api_calls", "tokens")
    created = await put_plan(client, "pro", limit(notify_at_percent=[100, 80]))
    assert created.status_code == 201, created.text
    assert created.json() == {
        "plan_key": "pro",
        "name": "Pro",
        "limits": [
            {
                "feature_key": "api_calls",
                "limit": 1000,
                "period": "month",
                "enforcement": "none",
                "notify_at_percent": [80, 100],
                "notify_credits_below": None,
            }
        ],
        "grace_period": None,
    }
    replaced = await put_plan(client, "pro", limit("tokens", 5, period="day", enforcement="reject"), name="Pro 2")
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["limits"] == [
        {
            "feature_key": "tokens",
            "limit": 5,
            "period": "day",
            "enforcement": "reject",
            "notify_at_percent": [],
            "notify_credits_below": None,
        }
    ]
    assert (await put_plan(client, "basic")).status_code == 201
    listed = await client.get(PLANS_URL, headers=bearer(Role.VIEWER, uuid.uuid4()))
    assert listed.status_code == 200
    assert [(p["plan_key"], p["name"]) for p in listed.json()] == [("basic", "Pro"), ("pro", "Pro 2")]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER])
@ONE_DATABASE
async def test_only_the_platform_role_manages_plans(client, role: Role) -> None:
    await put_features(client, "api_calls")
    tenant = uuid.uuid4()
    headers = bearer(role, tenant)
    body = {"name": "Pro", "limits": [limit()]}
    assert_problem(await client.put(f"{PLANS_URL}/pro", json=body, headers=headers), 403)
    assert (await put_plan(client, "pro")).status_code == 201
    assert_problem(await client.put(plan_url(tenant), json={"plan_key": "pro"}, headers=headers), 403)
    assert_problem(await client.delete(plan_url(tenant), headers=headers), 403)
    assert_problem(await client.get(PLANS_URL), 401)


@pytest.mark.parametrize(
    ("limits", "status", "names"),
    [
        ([limit("nope")], 400, ["limits[0].feature_key", "nope"]),
        ([limit(), limit("api_calls", 5)], 400, ["limits[1].feature_key"]),
        ([limit(notify_at_percent=[80, 80])], 400, ["limits[0].notify_at_percent"]),
        ([limit(notify_at_percent=[0])], 400, ["notify_at_percent"]),
        ([limit(notify_at_percent=[1001])], 400, ["notify_at_percent"]),
        ([limit(period="week")], 400, ["period"]),
        ([limit(enforcement="soft")], 400, ["enforcement"]),
        ([limit(value=-1)], 400, ["limit"]),
        ([{**limit(), "limt": 5}], 400, ["limt"]),
    ],
)
async def test_bad_limits_are_400_naming_the_field(client, limits, status: int, names: list[str]) -> None:
    await put_features(client, "api_calls")
    body = assert_problem(await put_plan(client, "pro", *limits), status, *names)
    assert str(body["type"]).startswith("urn:tally:problem:")
    assert (await client.get(PLANS_URL, headers=PLATFORM)).json() == []


async def test_an_unknown_feature_is_the_unknown_feature_problem(client) -> None:
    body = assert_problem(await put_plan(client, "pro", limit("nope")), 400, "nope")
    assert body["type"] == "urn:tally:problem:unknown-feature"


@pytest.mark.parametrize("plan_key", ["Pro", "0pro", "a" * 65])
@ONE_DATABASE
async def test_a_bad_plan_key_is_400(client, plan_key: str) -> None:
    assert_problem(await put_plan(client, plan_key), 400, "plan_key")


@ONE_DATABASE
async def test_a_name_with_nul_is_400(client) -> None:
    assert_problem(await put_plan(client, "pro", name="a\u0000b"), 400, "name")


async def test_assign_get_override_and_delete(client) -> None:
    await put_features(client, "api_calls", "tokens")
    await put_plan(client, "pro", limit())
    tenant = uuid.uuid4()
    body = {"plan_key": "pro", "timezone": "Europe/Berlin", "overrides": [limit("tokens", 7, enforcement="reject")]}
    assigned = await client.put(plan_url(tenant), json=body, headers=PLATFORM)
    assert assigned.status_code == 200, assigned.text
    expected = {
        "tenant_id": str(tenant),
        "plan_key": "pro",
        "timezone": "Europe/Berlin",
        "overrides": [
            {
                "feature_key": "tokens",
                "limit": 7,
                "period": "month",
                "enforcement": "reject",
                "notify_at_percent": [],
                "notify_credits_below": None,
            }
        ],
        "grace_period": None,
    }
    assert assigned.json() == expected
    for headers in (bearer(Role.VIEWER, tenant), bearer(Role.OWNER, tenant), PLATFORM):
        got = await client.get(plan_url(tenant), headers=headers)
        assert got.status_code == 200
        assert got.json() == expected
    assert_problem(await client.get(plan_url(tenant), headers=bearer(Role.VIEWER, uuid.uuid4())), 403)
    moved = await client.put(plan_url(tenant), json={"plan_key": "pro"}, headers=PLATFORM)
    assert moved.json() == {
        "tenant_id": str(tenant),
        "plan_key": "pro",
        "timezone": "UTC",
        "overrides": [],
        "grace_period": None,
    }
    assert (await client.delete(plan_url(tenant), headers=PLATFORM)).status_code == 204
    assert_problem(await client.get(plan_url(tenant), headers=PLATFORM), 404, "plan")
    assert (await client.delete(plan_url(tenant), headers=PLATFORM)).status_code == 204


@pytest.mark.parametrize(
    ("body", "type_", "names"),
    [
        ({"plan_key": "gold"}, "unknown-plan", ["plan_key", "gold"]),
        ({"plan_key": "pro", "timezone": "Mars/Olympus"}, "invalid-input", ["timezone"]),
        ({"plan_key": "pro", "overrides": [limit("nope")]}, "unknown-feature", ["overrides[0].feature_key"]),
        ({"plan_key": "pro", "overrides": [limit(), limit()]}, "invalid-input", ["overrides[1].feature_key"]),
        ({"plan_key": "pro", "time_zone": "UTC"}, "invalid-input", ["time_zone"]),
    ],
)
async def test_a_bad_assignment_is_400_and_changes_nothing(client, body, type_: str, names: list[str]) -> None:
    await put_features(client, "api_calls")
    await put_plan(client, "pro", limit())
    tenant = uuid.uuid4()
    problem = assert_problem(await client.put(plan_url(tenant), json=body, headers=PLATFORM), 400, *names)
    assert problem["type"] == f"urn:tally:problem:{type_}"
    assert_problem(await client.get(plan_url(tenant), headers=PLATFORM), 404)
