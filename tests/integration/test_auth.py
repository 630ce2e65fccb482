"""Bearer tokens: everything short of a valid, signed, unexpired token with known claims is a 401."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest

from tests.conftest import FEATURES_URL, ONE_DATABASE, TEST_SECRET, assert_problem, put_features, totals_url

# Every token here is judged before any SQL runs: one database is enough (tests/conftest.py, ONE_DATABASE).
pytestmark = [pytest.mark.anyio, ONE_DATABASE]

TENANT = uuid.uuid4()
URLS = [FEATURES_URL, totals_url(TENANT)]


def claims(**changes: object) -> dict[str, object]:
    """Valid viewer claims for ``TENANT`` (as ``tally token`` makes them); a change to ``None`` removes the claim."""
    now = datetime.now(UTC)
    base: dict[str, object] = {
        "sub": "user-1",
        "role": "viewer",
        "tenant_id": str(TENANT),
        "iat": now,
        "exp": now + timedelta(minutes=5),
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def signed(payload: dict[str, object], key: str = TEST_SECRET) -> str:
    return jwt.encode(payload, key, algorithm="HS256")


def unsigned(payload: dict[str, object]) -> str:
    """An ``alg: none`` token, made by hand: PyJWT refuses to produce one for a key."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()

    now = int(datetime.now(UTC).timestamp())
    body = {**payload, "iat": now, "exp": now + 300}
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(body)}."


def authorization(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.mark.parametrize("url", URLS, ids=["catalog", "totals"])
@pytest.mark.parametrize("role", ["viewer", "platform"])
async def test_valid_token_is_accepted(client, url: str, role: str) -> None:
    """The control case: each bad token below differs from this one in exactly one way."""
    await put_features(client, "api_calls")
    tenant = None if role == "platform" else str(TENANT)
    response = await client.get(url, headers=authorization(signed(claims(role=role, tenant_id=tenant))))
    assert response.status_code == 200, response.text


async def test_token_with_only_the_contract_claims_is_accepted(client) -> None:
    """The contract names ``sub``, ``exp``, ``role`` and ``tenant_id``; ``iat`` is optional (RFC 7519)."""
    await put_features(client, "api_calls")
    response = await client.get(totals_url(TENANT), headers=authorization(signed(claims(iat=None))))
    assert response.status_code == 200, response.text


def expired() -> dict[str, object]:
    return claims(exp=datetime.now(UTC) - timedelta(seconds=30))


# Made when the test runs (a token made at import time could expire before its test).
BAD_HEADERS: dict[str, Callable[[], dict[str, str]]] = {
    "no-token": dict,
    "empty-bearer": lambda: {"Authorization": "Bearer"},
    "garbage": lambda: authorization("garbage"),
    "three-garbage-parts": lambda: authorization("a.b.c"),
    "basic-scheme": lambda: {"Authorization": f"Basic {base64.b64encode(b'user:pass').decode()}"},
    "wrong-key": lambda: authorization(signed(claims(), key="another-secret-0123456789abcdef-012345")),
    "tampered-signature": lambda: authorization(signed(claims()) + "x"),
    "alg-none": lambda: authorization(unsigned(claims())),
    "alg-hs512": lambda: authorization(jwt.encode(claims(), TEST_SECRET + "-" * 32, algorithm="HS512")),
    "expired": lambda: authorization(signed(expired())),
    "missing-exp": lambda: authorization(signed(claims(exp=None))),
    "missing-sub": lambda: authorization(signed(claims(sub=None))),
    "empty-sub": lambda: authorization(signed(claims(sub=""))),
    "missing-role": lambda: authorization(signed(claims(role=None))),
    "unknown-role": lambda: authorization(signed(claims(role="superuser"))),
    "role-wrong-case": lambda: authorization(signed(claims(role="VIEWER"))),
    "tenant-not-a-uuid": lambda: authorization(signed(claims(tenant_id="tenant-a"))),
    "tenant-a-number": lambda: authorization(signed(claims(tenant_id=12345))),
    "viewer-without-tenant": lambda: authorization(signed(claims(tenant_id=None))),
    "admin-without-tenant": lambda: authorization(signed(claims(role="admin", tenant_id=None))),
}


@pytest.mark.parametrize("url", URLS, ids=["catalog", "totals"])
@pytest.mark.parametrize("case", BAD_HEADERS)
async def test_bad_token_is_401_with_www_authenticate(client, url: str, case: str) -> None:
    await put_features(client, "api_calls")
    response = await client.get(url, headers=BAD_HEADERS[case]())
    body = assert_problem(response, 401)
    assert response.headers["www-authenticate"].startswith("Bearer"), response.headers
    assert TEST_SECRET not in str(body)


@pytest.mark.parametrize(
    ("case", "detail"),
    [("expired", "token expired"), ("wrong-key", "Invalid token"), ("tampered-signature", "Invalid token")],
)
async def test_an_expired_token_says_so(client, case: str, detail: str) -> None:
    """An expired token is told apart from a forged one: the caller then knows to fetch a fresh token."""
    body = assert_problem(await client.get(FEATURES_URL, headers=BAD_HEADERS[case]()), 401)
    assert body["detail"] == detail
