"""Bytes that are not text, sent to a real server as raw HTTP: what the test client cannot send faithfully.

Litestar's test transport re-encodes header values, and httpx normalises URLs, so the bytes of a lone
surrogate (``ED AA A0``, its code point encoded as if it were a character) are written to the socket here.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tally.db.migrate import upgrade
from tests.conftest import PLATFORM, in_thread
from tests.e2e.conftest import running_server

# One worker runs the module under xdist, so that its server (a module fixture) starts once.
pytestmark = [pytest.mark.e2e, pytest.mark.xdist_group("refused-input-server")]

SURROGATE = b"\xed\xaa\xa0"
TENANT = "3f0c8a4e-0000-4000-8000-000000000001"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server for the module: each request here is refused before it could change anything."""
    directory = tmp_path_factory.mktemp("refused")
    url = f"sqlite+aiosqlite:///{directory / 'e2e.db'}"
    in_thread(upgrade, url)
    with running_server(url, directory / "server.log") as base_url:
        yield base_url


def send(base_url: str, target: bytes, headers: dict[bytes, bytes]) -> tuple[int, bytes, bytes]:
    """A request for ``target`` over a socket (POST with a JSON body when it is a void): (status, head, body)."""
    url = urlsplit(base_url)
    method, body = (b"POST", b'{"reason": "r"}') if target.endswith(b"/void") else (b"GET", b"")
    lines = [method + b" " + target + b" HTTP/1.1", b"Host: " + url.netloc.encode(), b"Connection: close"]
    lines += [b"Content-Type: application/json", b"Content-Length: " + str(len(body)).encode()]
    lines += [name + b": " + value for name, value in headers.items()]
    with socket.create_connection((url.hostname, url.port), timeout=10) as connection:
        connection.sendall(b"\r\n".join(lines) + b"\r\n\r\n" + body)
        answer = b""
        while chunk := connection.recv(65536):
            answer += chunk
    head, _, body = answer.partition(b"\r\n\r\n")
    return int(head.split(b" ", 2)[1]), head, body


AUTHORIZATION = {b"Authorization": PLATFORM["Authorization"].encode()}
EVENTS = f"/api/v1/billing/tenants/{TENANT}/usage-events".encode()


@pytest.mark.parametrize(
    ("target", "headers", "named"),
    [
        pytest.param(EVENTS + b"?feature_key=a%ED%AA%A0", AUTHORIZATION, "feature_key", id="query"),
        pytest.param(EVENTS + b"/k%ED%AA%A0/void", AUTHORIZATION, "idempotency_key", id="path"),
        pytest.param(
            b"/api/v1/billing/features",
            {b"Authorization": b"Bearer " + SURROGATE},
            "authorization header",
            id="authorization",
        ),
        pytest.param(
            b"/api/v1/billing/features",
            {**AUTHORIZATION, b"X-Request-ID": SURROGATE},
            "x-request-id header",
            id="request-id",
        ),
        pytest.param(b"/usage/", {b"Cookie": b"tally_session=" + SURROGATE}, "cookie header", id="cookie"),
    ],
)
def test_bytes_that_are_not_utf8_are_a_problem_naming_where(server, target: bytes, headers, named: str) -> None:
    status, head, body = send(server, target, headers)
    assert status == 400, (head, body)
    assert b"application/problem+json" in head.lower(), head
    problem = json.loads(body)
    assert problem["type"] == "urn:tally:problem:invalid-input", problem
    assert named in problem["detail"], problem
    assert "UTF-8" in problem["detail"], problem


def test_a_nul_in_a_header_is_refused_before_it_reaches_tally(server) -> None:
    """uvicorn refuses the request itself (a plain-text 400), so a NUL in a header never gets to the app."""
    status, _, body = send(server, b"/api/v1/billing/features", {b"Authorization": b"Bearer a\x00b"})
    assert status == 400, body
