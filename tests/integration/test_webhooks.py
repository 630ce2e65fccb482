"""Usage alerts: a threshold crossing is recorded once in the usage's transaction, and delivered to real
receivers on loopback, signed (Standard Webhooks) with the same ``webhook-id`` on every attempt, through 500s
and refused connections; endpoints refuse private targets by default."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from pytest_httpserver import HTTPServer
from standardwebhooks.webhooks import Webhook
from werkzeug import Request, Response

from tests.conftest import (
    ONE_DATABASE,
    PLATFORM,
    assert_problem,
    bearer,
    free_port,
    post_events,
    record,
)
from tests.integration.conftest import app_client
from tests.integration.test_entitlements import assign
from tests.integration.test_metrics import scrape
from tests.integration.test_plans import limit, put_plan
from tests.prometheus import value

pytestmark = pytest.mark.anyio

ENDPOINTS_URL = "/api/v1/billing/webhook-endpoints"
DELIVERIES_URL = "/api/v1/billing/webhook-deliveries"
WAIT_SECONDS = 30  # a bound on waiting for the delivery task, not a measurement


def event(key: str, quantity: int) -> dict[str, object]:
    return {"feature_key": "api_calls", "quantity": quantity, "idempotency_key": key}


async def notifying_tenant(client: AsyncTestClient[Litestar], thresholds: list[int], value: int = 10) -> uuid.UUID:
    response = await client.put("/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=PLATFORM)
    assert response.status_code in (200, 201), response.text
    response = await put_plan(client, "alerting", limit("api_calls", value, notify_at_percent=thresholds))
    assert response.status_code in (200, 201), response.text
    tenant = uuid.uuid4()
    await assign(client, tenant, plan_key="alerting")
    return tenant


async def add_endpoint(client: AsyncTestClient[Litestar], url: str) -> dict[str, Any]:
    response = await client.post(ENDPOINTS_URL, json={"url": url, "description": "alerts"}, headers=PLATFORM)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def deliveries(client: AsyncTestClient[Litestar], **params: str) -> list[dict[str, Any]]:
    response = await client.get(DELIVERIES_URL, params=params, headers=PLATFORM)
    assert response.status_code == 200, response.text
    items: list[dict[str, Any]] = response.json()["items"]
    return items


async def settled(client: AsyncTestClient[Litestar], count: int) -> list[dict[str, Any]]:
    """The deliveries once ``count`` of them are no longer pending (fails after WAIT_SECONDS)."""
    for _ in range(WAIT_SECONDS * 20):
        items = await deliveries(client)
        if len(items) >= count and all(d["status"] != "pending" for d in items):
            return items
        await asyncio.sleep(0.05)
    pytest.fail(f"deliveries still pending: {items}")


# --- endpoints -----------------------------------------------------------------------------------


async def test_the_secret_is_shown_only_at_create_and_delete_removes(client) -> None:  # type: ignore[no-untyped-def]
    created = await add_endpoint(client, "https://hooks.example.com/tally")
    assert created["secret"].startswith("whsec_")
    assert created["events"] == ["usage.threshold_crossed"]
    listed = (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json()
    assert [e["id"] for e in listed] == [created["id"]]
    assert "secret" not in listed[0]
    assert created["secret"] not in json.dumps(listed)
    assert (await client.delete(f"{ENDPOINTS_URL}/{created['id']}", headers=PLATFORM)).status_code == 204
    assert (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json() == []
    assert_problem(await client.delete(f"{ENDPOINTS_URL}/{created['id']}", headers=PLATFORM), 404, "endpoint_id")


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1/hook",
        "http://127.8.9.10:8080/hook",
        "http://localhost/hook",
        "http://api.localhost/hook",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://10.0.0.1/hook",
        "http://172.16.5.4/hook",
        "http://192.168.1.1/hook",
        "http://169.254.169.254/latest/meta-data",  # a cloud's metadata service
        "http://[fe80::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
        "http://100.64.0.1/hook",  # carrier-grade NAT
    ],
)
@ONE_DATABASE
async def test_private_targets_are_refused_by_default(client, url: str) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(ENDPOINTS_URL, json={"url": url}, headers=PLATFORM)
    assert_problem(response, 400, "url", "TALLY_WEBHOOK_ALLOW_PRIVATE")
    assert (await client.get(ENDPOINTS_URL, headers=PLATFORM)).json() == []


@pytest.mark.parametrize(
    "url", ["ftp://example.com/x", "example.com/hook", "http:///nohost", "https://u:p@example.com/"]
)
@ONE_DATABASE
async def test_what_is_not_an_http_url_is_refused(client, url: str) -> None:  # type: ignore[no-untyped-def]
    assert_problem(await client.post(ENDPOINTS_URL, json={"url": url}, headers=PLATFORM), 400, "url")


@ONE_DATABASE
async def test_only_the_platform_manages_webhooks(client) -> None:  # type: ignore[no-untyped-def]
    tenant = uuid.uuid4()
    response = await client.post(ENDPOINTS_URL, json={"url": "https://example.com/"}, headers=bearer("owner", tenant))
    assert_problem(response, 403)


# --- the outbox ----------------------------------------------------------------------------------


async def test_a_crossing_is_recorded_once_under_resends_voids_and_recrossing(outbox_client) -> None:  # type: ignore[no-untyped-def]
    client = outbox_client
    endpoint = await add_endpoint(client, "http://127.0.0.1:9/never-sent")
    tenant = await notifying_tenant(client, [50, 80])
    await record(client, tenant, event("a", 4))
    assert await deliveries(client) == []  # 40%: nothing reached
    await record(client, tenant, event("b", 1))  # 50%
    await record(client, tenant, event("b", 1), event("a", 4))  # re-sent: duplicates cross nothing new
    response = await client.post(
        f"/api/v1/billing/tenants/{tenant}/usage-events/b/void", json={"reason": "test"}, headers=PLATFORM
    )
    assert response.status_code == 200, response.text
    await record(client, tenant, event("c", 1))  # 50% again, after dipping to 40%
    await record(client, tenant, event("d", 3))  # 80%
    items = await deliveries(client, endpoint_id=endpoint["id"])
    assert [d["status"] for d in items] == ["pending", "pending"]
    assert len({d["webhook_id"] for d in items}) == 2


async def test_concurrent_batches_record_each_crossing_once(outbox_client) -> None:  # type: ignore[no-untyped-def]
    client = outbox_client
    await add_endpoint(client, "http://127.0.0.1:9/never-sent")
    tenant = await notifying_tenant(client, [50, 100], value=20)
    # 20 batches of 1 at once: every one of them could be the one that reaches 50% and 100%.
    responses = await asyncio.gather(*(post_events(client, tenant, [event(f"k{i}", 1)]) for i in range(20)))
    assert [r.status_code for r in responses] == [200] * 20
    assert len(await deliveries(client)) == 2


@pytest.mark.parametrize("approximate", [False, True], ids=["exact", "approximate"])
async def test_a_distinct_count_crosses_each_threshold_once_after_its_batch(outbox_client, approximate) -> None:  # type: ignore[no-untyped-def]
    """A distinct count's crossings are found after its batch commits, from the period's count (docs/api.md): a
    user seen again adds nothing, and concurrent batches that all see a crossing record it once."""
    client = outbox_client
    await add_endpoint(client, "http://127.0.0.1:9/never-sent")
    active = {
        "unit": "users",
        "aggregation": "unique_count",
        "unique_by": "user_id",
        "dimensions": ["user_id"],
        "approximate": approximate,
    }
    response = await client.put("/api/v1/billing/features/active_users", json=active, headers=PLATFORM)
    assert response.status_code in (200, 201), response.text
    response = await put_plan(client, "distinct", limit("active_users", 4, notify_at_percent=[50, 100]))
    assert response.status_code in (200, 201), response.text
    tenant = uuid.uuid4()
    await assign(client, tenant, plan_key="distinct")

    def user(key: str, user_id: str) -> dict[str, object]:
        return {
            "feature_key": "active_users",
            "quantity": 1,
            "idempotency_key": key,
            "dimensions": {"user_id": user_id},
        }

    await record(client, tenant, user("a1", "ann"), user("a2", "ann"))  # 1 user: 25%
    assert await deliveries(client) == []
    await record(client, tenant, user("b1", "bob"))  # 2 users: 50%
    await record(client, tenant, user("b2", "bob"), user("a1", "ann"))  # still 2 users
    (first,) = await deliveries(client)
    # Six new users at once: each batch may be the one that sees 100%.
    responses = await asyncio.gather(*(post_events(client, tenant, [user(f"c{i}", f"u{i}")]) for i in range(6)))
    assert [r.status_code for r in responses] == [200] * 6
    items = await deliveries(client)
    assert len(items) == 2
    assert first["id"] in {d["id"] for d in items}
    response = await client.get(f"/api/v1/billing/tenants/{tenant}/entitlements/active_users", headers=PLATFORM)
    assert response.json()["used"] == 8, response.text


# --- delivery ------------------------------------------------------------------------------------


def verified(secret: str, requests: list[Request]) -> list[dict[str, Any]]:
    """Every request's body, each checked against its Standard Webhooks signature."""
    return [Webhook(secret).verify(r.get_data(), dict(r.headers)) for r in requests]


async def test_a_failing_receiver_gets_the_message_once_with_one_webhook_id(
    sending_client, httpserver: HTTPServer
) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    seen: list[Request] = []

    def handler(request: Request) -> Response:
        seen.append(request)
        return Response("down", status=500) if len(seen) <= 2 else Response("ok", status=200)

    httpserver.expect_request("/hook", method="POST").respond_with_handler(handler)
    endpoint = await add_endpoint(client, httpserver.url_for("/hook"))
    tenant = await notifying_tenant(client, [80])
    await record(client, tenant, event("a", 8))
    (delivery,) = await settled(client, 1)
    assert delivery["status"] == "delivered"
    assert [a["status_code"] for a in delivery["attempts"]] == [500, 500, 200]
    assert len(seen) == 3
    bodies = verified(endpoint["secret"], seen)
    assert {r.headers["webhook-id"] for r in seen} == {delivery["webhook_id"]}
    assert bodies[0] == bodies[-1]
    assert bodies[0]["type"] == "usage.threshold_crossed"
    data = bodies[0]["data"]
    assert (data["tenant_id"], data["feature_key"], data["threshold_percent"], data["limit"], data["used"]) == (
        str(tenant),
        "api_calls",
        80,
        10,
        8,
    )


async def test_a_refused_connection_is_retried_until_the_receiver_is_up(sending_client) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    port = free_port()
    endpoint = await add_endpoint(client, f"http://127.0.0.1:{port}/hook")
    tenant = await notifying_tenant(client, [100])
    await record(client, tenant, event("a", 10))
    for _ in range(WAIT_SECONDS * 20):  # wait for two refused attempts
        (delivery,) = await deliveries(client)
        if len(delivery["attempts"]) >= 2:
            break
        await asyncio.sleep(0.05)
    assert delivery["status"] == "pending"
    assert all(a["status_code"] is None and a["error"] for a in delivery["attempts"])
    server = HTTPServer(host="127.0.0.1", port=port)
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    server.start()
    try:
        (delivery,) = await settled(client, 1)
        assert delivery["status"] == "delivered"
        ((request, _),) = server.log
        (body,) = verified(endpoint["secret"], [request])
        assert request.headers["webhook-id"] == delivery["webhook_id"]
        assert body["data"]["threshold_percent"] == 100
    finally:
        server.clear()
        server.stop()


async def test_retry_sends_a_failed_delivery_again(database_url: str, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("no", status=503)
    # A retry window shorter than the first delay: the first failure is final.
    async for client in app_client(
        database_url, webhook_poll_seconds=0.05, webhook_retry_base_seconds=0.05, webhook_retry_hours=1e-6
    ):
        await add_endpoint(client, httpserver.url_for("/hook"))
        tenant = await notifying_tenant(client, [100])
        await record(client, tenant, event("a", 10))
        before = await scrape(client)
        (delivery,) = await settled(client, 1)
        assert (delivery["status"], delivery["next_attempt_at"]) == ("failed", None)
        assert (
            value(await scrape(client), "tally_webhook_deliveries_failed_total")
            - value(before, "tally_webhook_deliveries_failed_total")
            == 1
        )
        assert (await deliveries(client, status="failed"))[0]["id"] == delivery["id"]
        response = await client.post(f"{DELIVERIES_URL}/{delivery['id']}/retry", headers=PLATFORM)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "pending"
        (delivery,) = await settled(client, 1)
        assert len(delivery["attempts"]) == 2
        assert_problem(await client.post(f"{DELIVERIES_URL}/{uuid.uuid4()}/retry", headers=PLATFORM), 404)


# --- metrics -------------------------------------------------------------------------------------


async def scraped_when(client: AsyncTestClient[Litestar], check: Callable[[str], bool], what: str) -> str:
    """The first scrape that passes ``check`` (fails after WAIT_SECONDS; the pending gauge is refreshed each
    round of the delivery task, the counters once an attempt is recorded)."""
    for _ in range(WAIT_SECONDS * 20):
        text = await scrape(client)
        if check(text):
            return text
        await asyncio.sleep(0.05)
    pytest.fail(f"the metrics never showed {what}")


def pending_is(expected: float) -> Callable[[str], bool]:
    return lambda text: value(text, "tally_webhook_deliveries_pending") == expected


async def test_metrics_follow_the_attempts_and_the_backlog(sending_client) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    port = free_port()
    await add_endpoint(client, f"http://127.0.0.1:{port}/hook")
    tenant = await notifying_tenant(client, [50, 100])
    before = await scraped_when(client, pending_is(0), "no backlog")

    def moved(after: str, name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    await record(client, tenant, event("a", 10))  # two crossings: two messages to the one endpoint
    # Nothing listens on the port: refused, still pending.
    while_down = await scraped_when(
        client,
        lambda text: pending_is(2)(text) and moved(text, "tally_webhook_attempts_total", outcome="unreachable") >= 2,
        "two pending and two refused attempts",
    )
    assert moved(while_down, "tally_webhook_deliveries_delivered_total") == 0
    answers = iter([500])  # the first attempt that reaches the receiver gets a 500, every later one a 200
    server = HTTPServer(host="127.0.0.1", port=port)
    server.expect_request("/hook", method="POST").respond_with_handler(
        lambda request: Response("", status=next(answers, 200))
    )
    server.start()
    try:
        (first, second) = await settled(client, 2)
        after = await scraped_when(client, pending_is(0), "no backlog after the deliveries")
    finally:
        server.clear()
        server.stop()
    assert (first["status"], second["status"]) == ("delivered", "delivered")
    attempts = len(first["attempts"]) + len(second["attempts"])
    assert moved(after, "tally_webhook_deliveries_delivered_total") == 2
    assert moved(after, "tally_webhook_attempts_total", outcome="rejected") == 1
    assert moved(after, "tally_webhook_attempts_total", outcome="delivered") == 2
    assert moved(after, "tally_webhook_attempts_total") == attempts
    assert moved(after, "tally_webhook_attempt_duration_seconds_count") == attempts
    assert moved(after, "tally_webhook_attempt_duration_seconds_bucket", le="10.0") == attempts
