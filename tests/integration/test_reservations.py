"""Reservations through the API: holds under a rejecting limit (with and without credits), commit, release,
expiry, idempotency, the entitlement's ``reserved``, the listing and the roles. On both databases."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tally.http.auth import Role
from tests.conftest import FEATURES_URL, assert_problem, bearer, post_events

pytestmark = pytest.mark.anyio

API = "/api/v1/billing"
PLATFORM = bearer(Role.PLATFORM)


async def setup(client, tenant: uuid.UUID, limit: int | None, enforcement: str = "reject") -> None:  # type: ignore[no-untyped-def]
    r = await client.put(f"{FEATURES_URL}/tokens", json={"unit": "tokens"}, headers=PLATFORM)
    assert r.status_code in (200, 201), r.text
    plan_key = f"p{uuid.uuid4().hex}"
    limits = [] if limit is None else [{"feature_key": "tokens", "limit": limit, "enforcement": enforcement}]
    r = await client.put(f"{API}/plans/{plan_key}", json={"name": "P", "limits": limits}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    r = await client.put(f"{API}/tenants/{tenant}/plan", json={"plan_key": plan_key}, headers=PLATFORM)
    assert r.status_code == 200, r.text


async def hold(client, tenant: uuid.UUID, reservation_id: str, quantity: int, **fields: object):  # type: ignore[no-untyped-def]
    body = {"reservation_id": reservation_id, "feature_key": "tokens", "quantity": quantity, **fields}
    return await client.post(f"{API}/tenants/{tenant}/reservations", json=body, headers=PLATFORM)


async def commit(client, tenant: uuid.UUID, reservation_id: str, quantity: int, key: str):  # type: ignore[no-untyped-def]
    body = {"quantity": quantity, "idempotency_key": key}
    url = f"{API}/tenants/{tenant}/reservations/{reservation_id}/commit"
    return await client.post(url, json=body, headers=PLATFORM)


async def release(client, tenant: uuid.UUID, reservation_id: str):  # type: ignore[no-untyped-def]
    return await client.post(f"{API}/tenants/{tenant}/reservations/{reservation_id}/release", headers=PLATFORM)


async def entitlement(client, tenant: uuid.UUID) -> dict[str, object]:  # type: ignore[no-untyped-def]
    r = await client.get(f"{API}/tenants/{tenant}/entitlements/tokens", headers=PLATFORM)
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


async def use(client, tenant: uuid.UUID, quantity: int):  # type: ignore[no-untyped-def]
    event = {"feature_key": "tokens", "quantity": quantity, "idempotency_key": uuid.uuid4().hex}
    return await post_events(client, tenant, [event])


async def test_holds_count_against_the_limit_until_committed_or_released(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 500)
    assert (await use(client, tenant, 300)).status_code == 200
    r = await hold(client, tenant, "a", 150)
    assert r.status_code == 201, r.text
    held = r.json()
    assert (held["state"], held["quantity"], held["committed_event"]) == ("held", 150, None)
    assert (await hold(client, tenant, "a", 150)).json() == held  # the same hold again
    assert (await hold(client, tenant, "a", 150)).status_code == 200
    assert_problem(await hold(client, tenant, "a", 151), 409, "reservation_id")
    now = await entitlement(client, tenant)
    assert (now["used"], now["reserved"], now["remaining"]) == (300, 150, 50)
    body = assert_problem(await hold(client, tenant, "b", 51), 409, "quantity")
    assert body["type"] == "urn:tally:problem:limit-exceeded"
    assert (body["limit"], body["used"], body["reserved"], body["remaining"], body["credits_remaining"]) == (
        500,
        300,
        150,
        50,
        0,
    )
    assert "period_end" in body
    body = assert_problem(await use(client, tenant, 51), 409, "events[0]")  # a batch cannot take held capacity
    assert (body["reserved"], body["remaining"]) == (150, 50)
    assert (await use(client, tenant, 50)).status_code == 200

    r = await commit(client, tenant, "a", 120, "render-a")
    assert r.status_code == 200, r.text
    committed = r.json()
    assert (committed["state"], committed["committed_event"], committed["committed_quantity"]) == (
        "committed",
        "render-a",
        120,
    )
    assert committed["ended_before_commit"] is None
    assert (await commit(client, tenant, "a", 120, "render-a")).json() == committed  # idempotent
    assert_problem(await commit(client, tenant, "a", 121, "render-a"), 409, "idempotency_key")
    now = await entitlement(client, tenant)
    assert (now["used"], now["reserved"], now["remaining"]) == (470, 0, 30)


async def test_a_commit_records_the_work_done_even_past_the_limit(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    assert (await hold(client, tenant, "a", 100)).status_code == 201
    assert (await commit(client, tenant, "a", 180, "k")).status_code == 200
    now = await entitlement(client, tenant)
    assert (now["used"], now["over_limit"], now["remaining"], now["reserved"]) == (180, True, 0, 0)


async def test_release_frees_the_capacity_and_a_late_commit_still_records(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    assert (await hold(client, tenant, "a", 100)).status_code == 201
    assert_problem(await hold(client, tenant, "b", 1), 409, "quantity")
    r = await release(client, tenant, "a")
    assert r.json()["state"] == "released", r.text
    assert (await release(client, tenant, "a")).json()["state"] == "released"
    assert (await hold(client, tenant, "b", 100)).status_code == 201
    r = await commit(client, tenant, "a", 30, "late")  # the work was done after all
    assert (r.json()["state"], r.json()["ended_before_commit"]) == ("committed", "released")
    assert (await entitlement(client, tenant))["used"] == 30
    assert_problem(await release(client, tenant, "nope"), 404, "reservation_id")


async def test_an_expired_hold_ends_by_itself(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    assert (await hold(client, tenant, "crashed", 100, expires_in_seconds=1)).status_code == 201
    assert_problem(await hold(client, tenant, "b", 1), 409, "quantity")
    await asyncio.sleep(1.2)  # the worker holding it never comes back
    assert (await entitlement(client, tenant))["reserved"] == 0
    assert (await hold(client, tenant, "b", 100)).status_code == 201
    listed = await client.get(f"{API}/tenants/{tenant}/reservations", params={"state": "expired"}, headers=PLATFORM)
    assert [r["reservation_id"] for r in listed.json()["items"]] == ["crashed"]
    r = await commit(client, tenant, "crashed", 7, "k7")
    assert (r.json()["state"], r.json()["ended_before_commit"]) == ("committed", "expired")


async def test_holds_without_a_rejecting_limit_always_succeed(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 10, enforcement="none")
    assert (await hold(client, tenant, "big", 1_000_000)).status_code == 201
    now = await entitlement(client, tenant)
    assert (now["reserved"], now["remaining"]) == (1_000_000, 0)
    other = uuid.uuid4()
    assert (await hold(client, other, "any", 5)).status_code == 201  # no plan at all
    assert (await entitlement(client, other))["reserved"] == 5


async def test_holds_count_credits(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, 100)
    effective = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    body = {"grant_id": "g", "feature_key": "tokens", "amount": 50, "effective_at": effective}
    assert (await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=PLATFORM)).status_code == 201
    assert (await hold(client, tenant, "a", 150)).status_code == 201
    body = assert_problem(await hold(client, tenant, "b", 1), 409, "quantity")
    assert (body["credits_remaining"], body["reserved"], body["remaining"]) == (50, 150, 0)
    assert_problem(await use(client, tenant, 1), 409, "events[0]")
    assert (await commit(client, tenant, "a", 140, "k")).status_code == 200
    now = await entitlement(client, tenant)
    assert (now["used"], now["credits_remaining"], now["remaining"], now["using"]) == (140, 10, 10, "credits")


async def test_listing_pages_and_roles(client) -> None:
    tenant = uuid.uuid4()
    await setup(client, tenant, None)
    for i in range(3):
        assert (await hold(client, tenant, f"r{i}", 1)).status_code == 201
    await release(client, tenant, "r1")
    url = f"{API}/tenants/{tenant}/reservations"
    viewer = bearer(Role.VIEWER, tenant)
    first = (await client.get(url, params={"limit": 2}, headers=viewer)).json()
    assert [r["reservation_id"] for r in first["items"]] == ["r2", "r1"]
    rest = (await client.get(url, params={"limit": 2, "cursor": first["next_cursor"]}, headers=viewer)).json()
    assert ([r["reservation_id"] for r in rest["items"]], rest["next_cursor"]) == (["r0"], None)
    held = (await client.get(url, params={"state": "held"}, headers=viewer)).json()
    assert [r["reservation_id"] for r in held["items"]] == ["r2", "r0"]
    body = {"reservation_id": "x", "feature_key": "tokens", "quantity": 1}
    assert (await client.post(url, json=body, headers=viewer)).status_code == 403
    assert (await client.post(url, json=body, headers=bearer(Role.ADMIN, tenant))).status_code == 201
    assert (await client.get(url, headers=bearer(Role.ADMIN, uuid.uuid4()))).status_code == 403
