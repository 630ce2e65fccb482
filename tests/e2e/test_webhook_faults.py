"""Usage alerts through faults, with real Tally server processes and a real HTTP receiver on loopback.

- A receiver that first refuses connections, then answers 500, then does not answer in time, gets every
  message exactly once as a success, with the same ``webhook-id`` and a valid signature on every attempt; the
  server's ``/metrics`` count each of those attempts by outcome.
- A server killed with SIGKILL while its attempts are in flight loses nothing: a fresh process sends them
  once their lease has run out.
- Two serving processes on one PostgreSQL database, 20 concurrent clients crossing thresholds: one message per
  crossing, one successful delivery of each.

The receiver counts by ``webhook-id``. Each test prints its figures (``-s``) for docs/reliability.md:
``webhook figures: {...}``.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from standardwebhooks.webhooks import Webhook

from tally.db.migrate import upgrade
from tests.conftest import in_thread, post_events
from tests.e2e.conftest import free_port, running_server, start_server
from tests.integration.test_webhooks import add_endpoint, deliveries, notifying_tenant

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

WAIT_SECONDS = 90  # a bound on waiting for deliveries, not a measurement
# TALLY_WEBHOOK_TIMEOUT_SECONDS of these servers (the default is 10): long enough that an answer sent at once is
# never late on a loaded 2-core machine, short enough for the held answer to outlast it.
TIMEOUT_SECONDS = 3.0
FAST = {
    "TALLY_WEBHOOK_ALLOW_PRIVATE": "true",  # the receiver is on loopback
    "TALLY_WEBHOOK_POLL_SECONDS": "0.1",
    "TALLY_WEBHOOK_RETRY_BASE_SECONDS": "0.2",  # the documented way to shorten the backoff
    "TALLY_WEBHOOK_TIMEOUT_SECONDS": str(TIMEOUT_SECONDS),
    "TALLY_WEBHOOK_LEASE_SECONDS": "5",
}


@dataclass(frozen=True)
class Received:
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered (or meant to, when it held the request past the timeout)
    at: float  # time.time() when the request arrived


# An answer: a status, or ("hold", seconds, status): keep the request that long before answering.
Answer = int | tuple[str, float, int]


class Backlogged(ThreadingHTTPServer):
    """socketserver's listen backlog is 5: two processes sending 80 deliveries at once overflow it, and an
    attempt then fails to connect (a fault of this receiver, not one the test means to inject)."""

    request_queue_size = 128


class Receiver:
    """An HTTP server on loopback that logs every request and answers as ``answer(webhook_id, nth)`` says, ``nth``
    counting the requests with that id (1 for the first)."""

    def __init__(self, port: int, answer: Callable[[str, int], Answer]) -> None:
        self.port, self.answer = port, answer
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                webhook_id = self.headers["webhook-id"]
                with receiver.lock:
                    nth = 1 + sum(r.webhook_id == webhook_id for r in receiver.received)
                    answer = receiver.answer(webhook_id, nth)
                    status = answer if isinstance(answer, int) else answer[2]
                    receiver.received.append(Received(webhook_id, dict(self.headers), body, status, time.time()))
                if not isinstance(answer, int):
                    time.sleep(answer[1])
                try:
                    self.send_response(status)
                    self.send_header("content-length", "0")
                    self.end_headers()
                except OSError:  # Tally gave up on this request (a timeout) or was killed: nobody is listening
                    pass

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = Backlogged(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def successes(self) -> Counter[str]:
        with self.lock:
            return Counter(r.webhook_id for r in self.received if 200 <= r.status < 300)

    def snapshot(self) -> list[Received]:
        with self.lock:
            return list(self.received)


@contextmanager
def receiving(port: int, answer: Callable[[str, int], Answer]) -> Iterator[Receiver]:
    receiver = Receiver(port, answer)
    receiver.start()
    try:
        yield receiver
    finally:
        receiver.stop()


async def all_deliveries(http: httpx.AsyncClient) -> list[dict[str, Any]]:
    return await deliveries(http, limit="100")


async def settled(http: httpx.AsyncClient, count: int) -> list[dict[str, Any]]:
    """The deliveries once ``count`` of them exist and none is pending (fails after WAIT_SECONDS)."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        items = await all_deliveries(http)
        if len(items) >= count and all(d["status"] != "pending" for d in items):
            return items
        await asyncio.sleep(0.2)
    pytest.fail(f"deliveries still pending after {WAIT_SECONDS} s: {[d['status'] for d in items]}")


def check_every_request(secret: str, received: list[Received], items: list[dict[str, Any]]) -> None:
    """Every request the receiver got is signed with ``secret`` (the standardwebhooks package verifies it), and
    carries the ``webhook-id`` of one of ``items``, with the same body as every other attempt of that id."""
    webhook = Webhook(secret)
    ids = {d["webhook_id"] for d in items}
    bodies: dict[str, bytes] = {}
    for r in received:
        webhook.verify(r.body, r.headers)  # raises WebhookVerificationError on a bad signature
        assert r.webhook_id in ids, r.webhook_id
        assert bodies.setdefault(r.webhook_id, r.body) == r.body


def figures(items: list[dict[str, Any]], receiver: Receiver) -> dict[str, Any]:
    """Messages created and delivered, attempts, and delivery latency (from the crossing's ``timestamp`` to the
    last request of its id that the receiver answered 2xx, the one whose outcome Tally recorded), for
    docs/reliability.md."""
    last_success = {r.webhook_id: r for r in receiver.snapshot() if 200 <= r.status < 300}
    latencies = sorted(
        r.at - datetime.fromisoformat(json.loads(r.body)["timestamp"]).timestamp() for r in last_success.values()
    )
    quantiles = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "messages_created": len(items),  # one endpoint: one delivery per message
        "delivered": sum(d["status"] == "delivered" for d in items),
        "attempts_recorded": sum(len(d["attempts"]) for d in items),
        "requests_received": len(receiver.snapshot()),
        "latency_p50_s": round(quantiles[49], 3),
        "latency_p99_s": round(quantiles[98], 3),
    }


async def webhook_metrics(
    http: httpx.AsyncClient, expected: dict[tuple[str, str | None], float]
) -> dict[tuple[str, str | None], float]:
    """The server's webhook samples named in ``expected`` (by name and ``outcome`` label), once they equal it or
    after 10 s (the gauge follows the delivery task's rounds, the counters each round's commit)."""
    deadline = time.monotonic() + 10
    while True:
        response = await http.get("/metrics")
        assert response.status_code == 200, response.text
        samples = [s for f in text_string_to_metric_families(response.text) for s in f.samples]
        seen = {
            (name, outcome): sum(s.value for s in samples if s.name == name and s.labels.get("outcome") == outcome)
            for name, outcome in expected
        }
        if seen == expected or time.monotonic() > deadline:
            return seen
        await asyncio.sleep(0.1)


def kind(attempt: dict[str, Any]) -> str:
    if attempt["status_code"] is not None:
        return str(attempt["status_code"])
    return "timeout" if "no answer within" in attempt["error"] else "unreachable"


async def test_a_failing_receiver_gets_every_message_once_through_refusals_500s_and_timeouts(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'e2e.db'}"
    in_thread(upgrade, url)
    port = free_port()  # nothing listens yet: the first attempts are refused

    def answer(webhook_id: str, nth: int) -> Answer:
        if nth == 1:
            return 500
        if nth == 2:
            return ("hold", TIMEOUT_SECONDS + 1, 503)  # past Tally's timeout: Tally counts it as no answer
        return 200

    with running_server(url, tmp_path / "server.log", **FAST) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            endpoint = await add_endpoint(http, f"http://127.0.0.1:{port}/hook")
            tenants = [await notifying_tenant(http, [50, 100]) for _ in range(4)]
            for tenant in tenants:  # each batch crosses both thresholds: 8 messages
                response = await post_events(
                    http, tenant, [{"feature_key": "api_calls", "quantity": 10, "idempotency_key": "a"}]
                )
                assert response.status_code == 200, response.text
            deadline = time.monotonic() + WAIT_SECONDS
            while len(items := await all_deliveries(http)) < 8 or any(not d["attempts"] for d in items):
                assert time.monotonic() < deadline, "no refused attempt recorded"
                await asyncio.sleep(0.1)
            assert len(items) == 8
            with receiving(port, answer) as receiver:
                items = await settled(http, 8)
            # Once delivered, nothing is sent again: the receiver got nothing after the settlement.
            assert len(receiver.snapshot()) == 3 * 8
            refusals = sum(kind(a) == "unreachable" for d in items for a in d["attempts"])
            expected = {
                ("tally_webhook_attempts_total", "unreachable"): refusals,
                ("tally_webhook_attempts_total", "rejected"): 8,
                ("tally_webhook_attempts_total", "timeout"): 8,
                ("tally_webhook_attempts_total", "delivered"): 8,
                ("tally_webhook_attempt_duration_seconds_count", None): refusals + 3 * 8,
                ("tally_webhook_deliveries_delivered_total", None): 8,
                ("tally_webhook_deliveries_failed_total", None): 0,
                ("tally_webhook_deliveries_pending", None): 0,
            }
            assert await webhook_metrics(http, expected) == expected

    assert [d["status"] for d in items] == ["delivered"] * 8
    for d in items:
        kinds = [kind(a) for a in d["attempts"]]
        refused = kinds.index("500")
        assert refused >= 1, kinds
        assert set(kinds[:refused]) == {"unreachable"}, kinds
        assert kinds[refused:] == ["500", "timeout", "200"], kinds
    assert receiver.successes() == Counter({d["webhook_id"]: 1 for d in items})
    check_every_request(endpoint["secret"], receiver.snapshot(), items)
    crossings = {
        (json.loads(r.body)["data"]["tenant_id"], json.loads(r.body)["data"]["threshold_percent"])
        for r in receiver.snapshot()
    }
    assert crossings == {(str(t), p) for t in tenants for p in (50, 100)}
    print("webhook figures (refused, 500, timeout):", figures(items, receiver))


async def test_a_server_killed_mid_attempt_loses_nothing(postgres_database: str, tmp_path: Path) -> None:
    """Every message's first attempt is held by the receiver when the server is SIGKILLed: no outcome was
    recorded, so each delivery stays leased to the dead process; a fresh process sends them once the lease
    (TALLY_WEBHOOK_LEASE_SECONDS) has run out. The receiver had handled the killed attempts too (it answers
    200, to a dead peer), so each id arrives twice: at-least-once delivery, which the receiver dedupes on
    webhook-id."""
    port = free_port()
    messages = 6
    env = {**FAST, "TALLY_WEBHOOK_TIMEOUT_SECONDS": "5", "TALLY_WEBHOOK_LEASE_SECONDS": "6"}

    def answer(webhook_id: str, nth: int) -> Answer:
        return ("hold", 4, 200) if nth == 1 else 200  # the first is still held when the server dies

    log = tmp_path / "server.log"
    with receiving(port, answer) as receiver:
        process, base_url = start_server(postgres_database, log, **env)
        try:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                endpoint = await add_endpoint(http, f"http://127.0.0.1:{port}/hook")
                # One batch crosses six thresholds at once: the delivery task claims all six in one round.
                tenant = await notifying_tenant(http, [10, 20, 30, 40, 50, 60])
                events = [{"feature_key": "api_calls", "quantity": 10, "idempotency_key": "a"}]
                assert (await post_events(http, tenant, events)).status_code == 200
                deadline = time.monotonic() + WAIT_SECONDS
                while len(receiver.snapshot()) < messages:  # every message's first attempt is in flight
                    assert time.monotonic() < deadline, "the first attempts never arrived"
                    await asyncio.sleep(0.05)
        finally:
            process.kill()  # SIGKILL: no shutdown hook, no outcome recorded
            assert process.wait() == -9
        killed_at = time.time()
        with running_server(postgres_database, log, **env) as base_url:
            async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
                items = await settled(http, messages)

    assert [d["status"] for d in items] == ["delivered"] * messages
    # The killed attempts left no trace in the log; the one recorded attempt is the fresh process's.
    assert [[kind(a) for a in d["attempts"]] for d in items] == [["200"]] * messages
    received = receiver.snapshot()
    assert Counter(r.webhook_id for r in received) == Counter({d["webhook_id"]: 2 for d in items})
    assert {r.webhook_id for r in received if r.at > killed_at} == {d["webhook_id"] for d in items}
    check_every_request(endpoint["secret"], received, items)
    resent = [r.at - killed_at for r in received if r.status == 200 and r.at > killed_at]
    print(
        "webhook figures (SIGKILL mid-attempt):",
        figures(items, receiver),
        "resent after kill (s):",
        round(min(resent), 2),
        round(max(resent), 2),
    )


async def test_two_processes_and_20_clients_deliver_each_crossing_once(postgres_database: str, tmp_path: Path) -> None:
    """Two serving processes on one database, each with its delivery task; 20 concurrent clients record usage
    through both, crossing every threshold of eight tenants: one message per crossing, each delivered once."""
    port = free_port()
    thresholds = list(range(10, 101, 10))
    # 20 x 20 batches of 2 over 8 tenants: 100 each, every threshold. 80 messages over many claim rounds: with the
    # claim's row lock removed, the two processes claimed the same delivery in most runs (2 of 3 tried).
    clients, batches, quantity = 20, 20, 2
    # No faults here, so no attempt may time out on a loaded machine: a retry would look like a double send.
    env = {**FAST, "TALLY_WEBHOOK_TIMEOUT_SECONDS": "5", "TALLY_WEBHOOK_LEASE_SECONDS": "10"}
    with (
        receiving(port, lambda webhook_id, nth: ("hold", 0.05, 200)) as receiver,
        running_server(postgres_database, tmp_path / "a.log", **env) as server_a,
        running_server(postgres_database, tmp_path / "b.log", **env) as server_b,
    ):
        async with (
            httpx.AsyncClient(base_url=server_a, timeout=30) as a,
            httpx.AsyncClient(base_url=server_b, timeout=30) as b,
        ):
            endpoint = await add_endpoint(a, f"http://127.0.0.1:{port}/hook")
            tenants = [await notifying_tenant(a, thresholds, value=100) for _ in range(8)]

            async def client(n: int) -> None:
                http = a if n % 2 else b
                for i in range(batches):
                    tenant = tenants[(n * batches + i) % len(tenants)]  # exactly 50 batches per tenant
                    events = [{"feature_key": "api_calls", "quantity": quantity, "idempotency_key": f"c{n}-{i}"}]
                    response = await post_events(http, tenant, events)
                    assert response.status_code == 200, response.text

            await asyncio.gather(*(client(n) for n in range(clients)))
            expected = len(tenants) * len(thresholds)
            items = await settled(a, expected)
            await asyncio.sleep(1)  # a duplicate send, if there were one, would arrive within a few poll rounds
    assert len(items) == expected
    assert [d["status"] for d in items] == ["delivered"] * expected
    # One successful attempt per delivery, the last; an earlier one may have failed (a machine this loaded can
    # hold an answer past the timeout), and the next attempt then came after the backoff, not at once.
    for d in items:
        kinds = [kind(a) for a in d["attempts"]]
        assert kinds[-1] == "200", kinds
        assert "200" not in kinds[:-1], kinds
    received = receiver.snapshot()
    # No attempt the database does not know of: with both processes claiming one delivery, the receiver would
    # get more requests of its id than attempts recorded, or two recorded successes.
    per_id = Counter(r.webhook_id for r in received)
    for d in items:
        assert 1 <= per_id[d["webhook_id"]] <= len(d["attempts"]), (per_id[d["webhook_id"]], d["attempts"])
    check_every_request(endpoint["secret"], received, items)
    crossings = Counter(
        (json.loads(r.body)["data"]["tenant_id"], json.loads(r.body)["data"]["threshold_percent"])
        for r in {r.webhook_id: r for r in received}.values()
    )
    assert crossings == Counter({(str(t), p): 1 for t in tenants for p in thresholds})
    senders = {name: (tmp_path / f"{name}.log").read_text().count("attempt 1: 200") for name in ("a", "b")}
    print("webhook figures (2 processes, 20 clients):", figures(items, receiver), "sent by process:", senders)
