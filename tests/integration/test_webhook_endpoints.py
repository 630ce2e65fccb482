"""Webhook endpoints per tenant, and secret rotation: an endpoint limited to one tenant receives only that tenant's
alerts (platform-wide stays the default), and a rotated secret keeps signing beside the new one for its grace
period, pending deliveries included."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook, WebhookVerificationError
from werkzeug import Request, Response

from tests.conftest import PLATFORM, assert_problem, bearer, record
from tests.integration.test_entitlements import assign
from tests.integration.test_webhooks import (
    ENDPOINTS_URL,
    WAIT_SECONDS,
    add_endpoint,
    deliveries,
    event,
    notifying_tenant,
    settled,
)

pytestmark = pytest.mark.anyio


def rotate_url(endpoint_id: str) -> str:
    return f"{ENDPOINTS_URL}/{endpoint_id}/rotate-secret"


async def test_an_endpoint_of_one_tenant_receives_only_that_tenants_alerts(outbox_client) -> None:  # type: ignore[no-untyped-def]
    client = outbox_client
    tenant = await notifying_tenant(client, [100])
    other = uuid.uuid4()
    await assign(client, other, plan_key="alerting")
    everyone = await add_endpoint(client, "http://127.0.0.1:9/everyone")
    response = await client.post(
        ENDPOINTS_URL, json={"url": "http://127.0.0.1:9/one", "tenant_id": str(tenant)}, headers=PLATFORM
    )
    assert response.status_code == 201, response.text
    own = response.json()
    assert (own["tenant_id"], everyone["tenant_id"]) == (str(tenant), None)

    await record(client, tenant, event("a", 10))
    await record(client, other, event("a", 10))

    assert len(await deliveries(client, endpoint_id=everyone["id"])) == 2  # both tenants' crossings
    (only,) = await deliveries(client, endpoint_id=own["id"])
    page = await client.get(f"/api/v1/billing/tenants/{tenant}/entitlements/api_calls", headers=PLATFORM)
    assert page.json()["used"] == 10
    # the same message (the tenant's crossing) went to both endpoints
    assert only["webhook_id"] in {d["webhook_id"] for d in await deliveries(client, endpoint_id=everyone["id"])}
    listed = {e["id"]: e["tenant_id"] for e in (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json()}
    assert listed == {everyone["id"]: None, own["id"]: str(tenant)}


async def test_a_tenant_id_that_is_not_a_uuid_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        ENDPOINTS_URL, json={"url": "https://hooks.example.com/", "tenant_id": "acme"}, headers=PLATFORM
    )
    assert_problem(response, 400, "tenant_id")
    assert (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json() == []


def signatures(request: Request) -> list[str]:
    return str(request.headers["webhook-signature"]).split(" ")


def verifies(secret: str, request: Request) -> bool:
    try:
        Webhook(secret).verify(request.get_data(), dict(request.headers))
    except WebhookVerificationError:
        return False
    return True


async def test_a_rotated_secret_signs_beside_the_new_one_and_pending_deliveries_survive(
    sending_client, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    seen: list[Request] = []
    up = asyncio.Event()

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("ok", status=200) if up.is_set() else Response("down", status=503)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = await add_endpoint(client, httpserver.url_for("/hook"))
    old = endpoint["secret"]
    tenant = await notifying_tenant(client, [100])
    await record(client, tenant, event("a", 10))
    for _ in range(WAIT_SECONDS * 20):  # one refused attempt, signed with the only secret there is
        if seen:
            break
        await asyncio.sleep(0.05)
    assert len(signatures(seen[0])) == 1
    assert verifies(old, seen[0])

    before = datetime.now(UTC)
    response = await client.post(rotate_url(endpoint["id"]), json={}, headers=PLATFORM)  # the default grace
    assert response.status_code == 200, response.text
    rotated = response.json()
    new = rotated["secret"]
    assert new.startswith("whsec_")
    assert new != old
    until = datetime.fromisoformat(rotated["previous_secret_expires_at"])
    assert before + timedelta(hours=24) <= until <= datetime.now(UTC) + timedelta(hours=24)
    (listed,) = (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json()
    assert datetime.fromisoformat(listed["previous_secret_expires_at"]) == until
    assert new not in str(listed)

    up.set()
    (delivery,) = await settled(client, 1)  # the delivery pending before the rotation was kept, and delivered
    assert delivery["status"] == "delivered"
    last = seen[-1]
    assert last.headers["webhook-id"] == delivery["webhook_id"]
    assert len(signatures(last)) == 2
    assert verifies(new, last)  # a receiver that switched already
    assert verifies(old, last)  # and one that has not yet


async def delivered_request(client, httpserver: HTTPServer) -> Request:  # type: ignore[no-untyped-def]
    """The one request a crossing of a fresh tenant makes to ``httpserver``, which answers 200."""
    tenant = await notifying_tenant(client, [100])
    await record(client, tenant, event("a", 10))
    await settled(client, 1)
    ((request, _),) = httpserver.log
    return request


async def test_after_the_grace_period_only_the_new_secret_signs(sending_client, httpserver: HTTPServer) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    endpoint = await add_endpoint(client, httpserver.url_for("/hook"))
    response = await client.post(rotate_url(endpoint["id"]), json={"grace_period_seconds": 0}, headers=PLATFORM)
    assert response.status_code == 200, response.text
    new = response.json()["secret"]
    request = await delivered_request(client, httpserver)
    assert len(signatures(request)) == 1
    assert verifies(new, request)
    assert not verifies(endpoint["secret"], request)


async def test_a_second_rotation_drops_the_oldest_secret(sending_client, httpserver: HTTPServer) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    endpoint = await add_endpoint(client, httpserver.url_for("/hook"))
    first = (await client.post(rotate_url(endpoint["id"]), json={}, headers=PLATFORM)).json()["secret"]
    second = (await client.post(rotate_url(endpoint["id"]), json={}, headers=PLATFORM)).json()["secret"]
    request = await delivered_request(client, httpserver)
    assert len(signatures(request)) == 2
    assert verifies(second, request)
    assert verifies(first, request)
    assert not verifies(endpoint["secret"], request)


async def test_rotation_refuses_what_it_cannot_do(client) -> None:  # type: ignore[no-untyped-def]
    created = await add_endpoint(client, "https://hooks.example.com/tally")
    url = rotate_url(created["id"])
    assert_problem(await client.post(rotate_url(str(uuid.uuid4())), json={}, headers=PLATFORM), 404, "endpoint_id")
    assert_problem(await client.post(rotate_url("not-an-id"), json={}, headers=PLATFORM), 400, "endpoint_id")
    assert_problem(await client.post(url, headers=PLATFORM), 400, "body")
    for grace in (-1, 7 * 24 * 3600 + 1):
        response = await client.post(url, json={"grace_period_seconds": grace}, headers=PLATFORM)
        assert_problem(response, 400, "grace_period_seconds")
    assert_problem(await client.post(url, json={"grace": 5}, headers=PLATFORM), 400, "grace")
    assert_problem(await client.post(url, json={}, headers=bearer("owner", uuid.uuid4())), 403)
    (listed,) = (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json()
    assert listed["previous_secret_expires_at"] is None  # nothing was rotated
