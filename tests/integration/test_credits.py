"""Credit grants through the API: create (idempotent by grant_id), list, void, the roles, the entitlement's credit
fields, the worked example of docs/api.md, and the hard stop at zero credits. On both databases."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tally.http.auth import Role
from tests.conftest import FEATURES_URL, assert_problem, bearer, post_events

pytestmark = pytest.mark.anyio

API = "/api/v1/billing"
PLATFORM = bearer(Role.PLATFORM)


async def setup(client, tenant: uuid.UUID, limit: int | None, enforcement: str = "none", **feature: object) -> None:  # type: ignore[no-untyped-def]
    r = await client.put(f"{FEATURES_URL}/tokens", json={"unit": "tokens", **feature}, headers=PLATFORM)
    assert r.status_code in (200, 201), r.text
    plan_key = f"p{uuid.uuid4().hex}"
    limits = [] if limit is None else [{"feature_key": "tokens", "limit": limit, "enforcement": enforcement}]
    r = await client.put(f"{API}/plans/{plan_key}", json={"name": "P", "limits": limits}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    body = {"plan_key": plan_key, "timezone": "Europe/Berlin"}
    r = await client.put(f"{API}/tenants/{tenant}/plan", json=body, headers=PLATFORM)
    assert r.status_code == 200, r.text


async def grant(client, tenant: uuid.UUID, grant_id: str, amount: int, **fields: object):  # type: ignore[no-untyped-def]
    body = {"grant_id": grant_id, "feature_key": "tokens", "amount": amount, **fields}
    return await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=PLATFORM)


async def use(client, tenant: uuid.UUID, *quantities: int, at: datetime | None = None):  # type: ignore[no-untyped-def]
    events = [
        {
            "feature_key": "tokens",
            "quantity": q,
            "idempotency_key": uuid.uuid4().hex,
            **({"timestamp": at.isoformat()} if at else {}),
        }
        for q in quantities
    ]
    return await post_events(client, tenant, events)


async def grants_of(client, tenant: uuid.UUID, **params: str) -> dict[str, dict[str, object]]:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/tenants/{tenant}/grants", params=params, headers=PLATFORM)
    assert r.status_code == 200, r.text
    return {g["grant_id"]: g for g in r.json()}


async def test_a_grant_is_created_once_and_never_edited(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    effective = (datetime.now(UTC) - timedelta(hours=1)).isoformat()
    r = await grant(client, tenant, "topup-1", 500, priority=1, effective_at=effective, note="bought")
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["state"] == "active"
    assert (created["amount"], created["used"], created["remaining"], created["note"]) == (500, 0, 500, "bought")
    again = await grant(client, tenant, "topup-1", 500, priority=1, effective_at=effective, note="bought")
    assert again.status_code == 200, again.text
    assert again.json() == created
    other = await grant(client, tenant, "topup-1", 600, priority=1, effective_at=effective, note="bought")
    assert_problem(other, 409, "grant_id")


async def test_what_a_grant_refuses(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    now = datetime.now(UTC)
    r = await grant(client, tenant, "g", 10, effective_at=now.isoformat(), expires_at=now.isoformat())
    assert_problem(r, 400, "expires_at")
    r = await client.post(
        f"{API}/tenants/{tenant}/grants",
        json={"grant_id": "g", "feature_key": "nope", "amount": 10},
        headers=PLATFORM,
    )
    assert_problem(r, 400, "feature_key")
    r = await grant(client, tenant, "g", 0)
    assert_problem(r, 400, "amount")
    r = await grant(client, tenant, "g", 10, effective_at=(now - timedelta(days=731)).isoformat())
    assert_problem(r, 400, "effective_at")
    r = await grant(client, tenant, "g", 10, effective_at="0001-01-01T00:00:00+01:00")
    assert_problem(r, 400, "effective_at")
    r = await grant(client, tenant, "g", 10, expires_at="9999-12-31T23:59:59Z")
    assert_problem(r, 400, "expires_at")
    r = await client.put(f"{FEATURES_URL}/peak", json={"unit": "gb", "aggregation": "max"}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    r = await client.post(
        f"{API}/tenants/{tenant}/grants",
        json={"grant_id": "g", "feature_key": "peak", "amount": 10},
        headers=PLATFORM,
    )
    body = assert_problem(r, 400, "feature_key", "does not sum")
    assert body["errors"] == [{"field": "feature_key", "message": body["errors"][0]["message"]}]  # type: ignore[index]


async def test_roles_and_tenants(client) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await setup(client, tenant, 100)
    assert (await grant(client, tenant, "g", 10)).status_code == 201
    owner = bearer(Role.OWNER, tenant)
    r = await client.get(f"{API}/tenants/{tenant}/grants", headers=owner)
    assert r.status_code == 200, r.text
    assert [g["grant_id"] for g in r.json()] == ["g"]
    body = {"grant_id": "h", "feature_key": "tokens", "amount": 10}
    assert (await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=owner)).status_code == 403
    void = f"{API}/tenants/{tenant}/grants/g/void"
    assert (await client.post(void, json={"reason": "x"}, headers=owner)).status_code == 403
    r = await client.get(f"{API}/tenants/{tenant}/grants", headers=bearer(Role.OWNER, other))
    assert r.status_code == 403
    r = await client.get(f"{API}/tenants/{other}/grants", headers=PLATFORM)
    assert r.json() == []


async def test_the_worked_example_of_the_docs(client) -> None:
    """docs/api.md: allowance 1,000 a month; 500 at priority 1; 2,000 at priority 0 expiring mid-month."""
    tenant = uuid.uuid4()
    await setup(client, tenant, 1000)
    month = datetime(2026, 3, 1, tzinfo=UTC) - timedelta(hours=1)  # March 1st, 00:00 in Berlin
    r = await grant(client, tenant, "bonus", 500, priority=1, effective_at=month.isoformat())
    assert r.status_code == 201, r.text
    expires = (month + timedelta(days=14)).isoformat()
    r = await grant(client, tenant, "topup", 2000, priority=0, effective_at=month.isoformat(), expires_at=expires)
    assert r.status_code == 201, r.text
    assert (await use(client, tenant, 800, at=month + timedelta(days=2))).status_code == 200
    balances = await grants_of(client, tenant)
    assert (balances["topup"]["used"], balances["bonus"]["used"]) == (0, 0)  # the allowance covers it
    assert (await use(client, tenant, 700, at=month + timedelta(days=9))).status_code == 200
    balances = await grants_of(client, tenant)
    assert (balances["topup"]["used"], balances["bonus"]["used"]) == (500, 0)  # 200 allowance, then topup
    assert (await use(client, tenant, 1000, at=month + timedelta(days=19))).status_code == 200
    balances = await grants_of(client, tenant)
    assert (balances["topup"]["used"], balances["topup"]["state"]) == (500, "expired")
    assert (balances["bonus"]["used"], balances["bonus"]["state"]) == (500, "depleted")  # 500 more is overage
    assert list(balances) == ["topup", "bonus"]  # burn-down order
    # April: a period reset gives a new allowance and leaves the grants as they are
    assert (await use(client, tenant, 900, at=month + timedelta(days=40))).status_code == 200
    assert (await grants_of(client, tenant))["bonus"]["used"] == 500
    assert list(await grants_of(client, tenant, state="expired")) == ["topup"]


async def test_voiding_moves_usage_to_the_next_grant(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 0)
    at = datetime(2026, 5, 10, tzinfo=UTC)
    assert (
        await grant(client, tenant, "first", 100, effective_at=(at - timedelta(days=1)).isoformat())
    ).status_code == 201
    assert (
        await grant(client, tenant, "second", 100, priority=5, effective_at=(at - timedelta(days=1)).isoformat())
    ).status_code == 201
    assert (await use(client, tenant, 60, at=at)).status_code == 200
    r = await client.post(f"{API}/tenants/{tenant}/grants/first/void", json={"reason": "refund"}, headers=PLATFORM)
    assert r.status_code == 200, r.text
    voided = r.json()
    assert (voided["state"], voided["void_reason"], voided["used"]) == ("voided", "refund", 0)
    assert voided["voided_at"] is not None
    assert (await grants_of(client, tenant))["second"]["used"] == 60
    again = await client.post(f"{API}/tenants/{tenant}/grants/first/void", json={"reason": "twice"}, headers=PLATFORM)
    assert again.json()["void_reason"] == "refund"
    r = await client.post(f"{API}/tenants/{tenant}/grants/nope/void", json={"reason": "x"}, headers=PLATFORM)
    assert_problem(r, 404, "grant_id")


async def test_the_entitlement_counts_credits(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    url = f"{API}/tenants/{tenant}/entitlements/tokens"
    before = (await client.get(url, headers=PLATFORM)).json()
    assert (before["granted"], before["credits_remaining"], before["using"]) == (0, 0, "allowance")
    effective = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (await grant(client, tenant, "g", 50, effective_at=effective)).status_code == 201
    assert (await use(client, tenant, 120)).status_code == 200
    now = (await client.get(url, headers=PLATFORM)).json()
    assert (now["used"], now["granted"], now["credits_remaining"], now["remaining"]) == (120, 50, 30, 30)
    assert (now["using"], now["using_grant"], now["over_limit"]) == ("credits", "g", False)
    assert (await use(client, tenant, 40)).status_code == 200  # enforcement none: recorded, 10 beyond everything
    now = (await client.get(url, headers=PLATFORM)).json()
    assert (now["credits_remaining"], now["remaining"], now["over_limit"], now["using"]) == (0, 0, True, "exhausted")


async def test_the_hard_stop_is_at_allowance_plus_credits(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100, "reject")
    assert (await use(client, tenant, 100)).status_code == 200
    r = await use(client, tenant, 1)
    body = assert_problem(r, 409, "events[0]")
    assert (body["limit"], body["used"], body["credits_remaining"], body["remaining"]) == (100, 100, 0, 0)
    effective = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (await grant(client, tenant, "g", 50, effective_at=effective)).status_code == 201
    assert (await use(client, tenant, 30)).status_code == 200
    r = await use(client, tenant, 10, 15)  # 20 left: the second event does not fit, nothing is stored
    body = assert_problem(r, 409, "events[1]", "credits")
    assert (body["used"], body["credits_remaining"], body["remaining"], body["reserved"]) == (130, 20, 20, 0)
    assert "period_end" in body
    assert (await use(client, tenant, 20)).status_code == 200
    assert_problem(await use(client, tenant, 1), 409, "events[0]")
    assert (await grants_of(client, tenant))["g"]["state"] == "depleted"


async def test_periods_before_any_grant_are_judged_by_the_limit_alone(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100, "reject")
    effective = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    assert (await grant(client, tenant, "g", 500, effective_at=effective)).status_code == 201
    long_ago = datetime.now(UTC) - timedelta(days=100)  # a month before the grant's
    assert_problem(await use(client, tenant, 101, at=long_ago), 409, "events[0]")  # the grant cannot cover it
    assert (await use(client, tenant, 100, at=long_ago)).status_code == 200
    assert (await use(client, tenant, 150)).status_code == 200  # now: allowance, then the grant
    r = await use(client, tenant, 1, at=long_ago)  # late, in a full period before the grant, with a covered one
    body = assert_problem(r, 409, "events[0]")
    assert (body["used"], body["credits_remaining"]) == (100, 0)
    assert (await grants_of(client, tenant))["g"]["used"] == 50
