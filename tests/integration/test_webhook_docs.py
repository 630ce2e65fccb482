"""docs/api.md's "Verifying a delivery" works as written: its receiver, which uses only ``hmac`` and ``base64``,
accepts real deliveries (one secret, and two after a rotation) received by Python's ``http.server`` with
title-cased headers, and refuses a tampered body or a wrong secret."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PLATFORM, record
from tests.integration.test_webhooks import ENDPOINTS_URL, add_endpoint, event, notifying_tenant, settled

pytestmark = pytest.mark.anyio

API_DOCS = Path(__file__).resolve().parents[2] / "docs" / "api.md"


def documented_receiver() -> dict[str, Any]:
    """The namespace of the Python block under "### Verifying a delivery", run as a reader would paste it."""
    section = API_DOCS.read_text(encoding="utf-8").split("### Verifying a delivery", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code, "docs/api.md: no Python example under 'Verifying a delivery'"
    assert "standardwebhooks" not in "\n".join(
        line for line in code.group(1).splitlines() if line.startswith(("import", "from"))
    )
    namespace: dict[str, Any] = {}
    exec(compile(code.group(1), str(API_DOCS), "exec"), namespace)  # the docs' own example, as pasted
    return namespace


class Received:
    """What the receiver got: each request's body and headers (http.server's own mapping) and its answer."""

    def __init__(self) -> None:
        self.requests: list[tuple[bytes, Mapping[str, str], int]] = []


@pytest.fixture
def receiver() -> Iterator[tuple[str, Received, dict[str, Any]]]:
    """A Python http.server on loopback whose handler answers with the docs' ``receive``."""
    docs = documented_receiver()
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            status = docs["receive"](body, self.headers)
            received.requests.append((body, self.headers, status))
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:  # quiet: the test reads what it needs
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received, docs
    finally:
        server.shutdown()
        server.server_close()


def title_cased(headers: Mapping[str, str]) -> dict[str, str]:
    return {name.title(): value for name, value in headers.items()}


async def test_the_documented_steps_verify_a_real_delivery(sending_client, receiver) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    url, received, docs = receiver
    endpoint = await add_endpoint(client, url)
    docs["SECRET"] = endpoint["secret"]
    tenant = await notifying_tenant(client, [100])
    await record(client, tenant, event("a", 10))
    (delivery,) = await settled(client, 1)

    assert delivery["status"] == "delivered"  # the receiver answered 200: the docs' steps accepted it
    ((body, headers, status),) = received.requests
    assert status == 200
    verified = docs["verified"]
    assert verified(endpoint["secret"], body, title_cased(headers))  # a plain dict, title-cased keys
    assert not verified(endpoint["secret"], body + b" ", headers)  # a body changed on the way
    other = (await add_endpoint(client, "http://127.0.0.1:9/other"))["secret"]
    assert not verified(other, body, headers)  # another endpoint's secret


async def test_the_documented_steps_accept_either_secret_during_a_rotation(sending_client, receiver) -> None:  # type: ignore[no-untyped-def]
    client = sending_client
    url, received, docs = receiver
    endpoint = await add_endpoint(client, url)
    response = await client.post(f"{ENDPOINTS_URL}/{endpoint['id']}/rotate-secret", json={}, headers=PLATFORM)
    assert response.status_code == 200, response.text
    docs["SECRET"] = response.json()["secret"]  # a receiver that switched to the new secret at once
    tenant = await notifying_tenant(client, [100])
    await record(client, tenant, event("a", 10))
    (delivery,) = await settled(client, 1)
    assert delivery["status"] == "delivered"
    ((body, headers, _),) = received.requests
    assert len(headers["Webhook-Signature"].split(" ")) == 2
    assert docs["verified"](endpoint["secret"], body, headers)  # and one still on the old secret
