"""The authentication and tenant-isolation matrix over *every* API route, enumerated from the app.

``test_auth.py`` checks each kind of bad token on two read routes; here every bad token meets every
``/api/v1`` route (so a route added later is covered without editing this file), plus the token kinds that
file does not make (RS256-looking, not yet valid, missing claims per role), and a valid token of tenant A
on every route of tenant B.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from litestar import Litestar
from litestar.routes import HTTPRoute
from litestar.testing import AsyncTestClient

from tally.app import create_app
from tally.config import Settings
from tally.http.auth import Role
from tests.conftest import (
    ONE_DATABASE,
    TEST_SECRET,
    assert_problem,
    bearer,
    events_url,
    put_features,
    quantities,
    record,
)
from tests.integration.test_auth import BAD_HEADERS, authorization, claims, signed

pytestmark = pytest.mark.anyio

TENANT_B = uuid.uuid4()
KEY_OF_B = "secret-key-of-tenant-b"
TENANT_ROLES = [Role.VIEWER, Role.MEMBER, Role.ADMIN, Role.OWNER]
# A plausible body per operation, so that a 401/403 cannot be a body validation error in disguise. A route
# not listed here is sent ``{}``: the token is checked before the body is read.
BODIES: dict[str, object] = {
    "record_usage_events": {"events": [{"feature_key": "api_calls", "quantity": 1, "idempotency_key": "from-a"}]},
    "void_usage_event": {"reason": "sent by tenant A"},
    "put_feature": {"unit": "requests"},
    "put_plan": {"name": "Pro", "limits": [{"feature_key": "api_calls", "limit": 1}]},
    "put_tenant_plan": {"plan_key": "pro"},
    "create_webhook_endpoint": {"url": "https://hooks.example.com/tally"},
    "create_grant": {"grant_id": "from-a", "feature_key": "api_calls", "amount": 10},
    "void_grant": {"reason": "sent by tenant A"},
    "create_reservation": {"reservation_id": "from-a", "feature_key": "api_calls", "quantity": 1},
    "commit_reservation": {"quantity": 1, "idempotency_key": "from-a"},
}


def api_routes(app: Litestar) -> list[tuple[str, str, str]]:
    """``(method, path template, operation_id)`` of every ``/api/v1`` route of ``app``."""
    found = []
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/v1"):
            continue
        for handler in route.route_handlers:
            for method in sorted(handler.http_methods - {"HEAD", "OPTIONS"}):
                found.append((method, route.path, str(handler.operation_id)))
    return sorted(found)


def concrete(template: str, tenant: uuid.UUID) -> str:
    values = {
        "tenant_id": str(tenant),
        "idempotency_key": KEY_OF_B,
        "feature_key": "api_calls",
        "plan_key": "pro",
        "endpoint_id": str(uuid.uuid4()),
        "delivery_id": str(uuid.uuid4()),
        "grant_id": "grant-of-b",
        "reservation_id": "hold-of-b",
    }
    return re.sub(r"\{(\w+)(?::\w+)?\}", lambda m: values[m.group(1)], template)


async def call(client: AsyncTestClient[Litestar], method: str, path: str, operation: str, headers: dict[str, str]):
    body = BODIES.get(operation, {}) if method in {"POST", "PUT", "PATCH"} else None
    return await client.request(method, path, json=body, headers=headers)


def test_the_enumeration_finds_every_known_route() -> None:
    """Guards the tests below against passing vacuously (e.g. if the routes moved)."""
    operations = {op for _, _, op in api_routes(create_test_app())}
    assert operations >= {
        "record_usage_events",
        "list_usage_events",
        "void_usage_event",
        "get_usage_totals",
        "list_features",
        "put_feature",
        "put_plan",
        "list_plans",
        "put_tenant_plan",
        "get_tenant_plan",
        "delete_tenant_plan",
        "list_entitlements",
        "get_entitlement",
        "create_webhook_endpoint",
        "list_webhook_endpoints",
        "delete_webhook_endpoint",
        "list_webhook_deliveries",
        "retry_webhook_delivery",
    }


def create_test_app() -> Litestar:
    return create_app(Settings(database_url="sqlite+aiosqlite:///:memory:", jwt_secret=TEST_SECRET))


def rs256_looking(payload: dict[str, object]) -> str:
    """A token whose header says RS256, signed with the shared secret as if it were an HMAC key: the classic
    algorithm-confusion attempt."""

    def part(data: dict[str, object]) -> str:
        return base64.urlsafe_b64encode(json.dumps(data, default=str).encode()).rstrip(b"=").decode()

    now = int(datetime.now(UTC).timestamp())
    head = part({"alg": "RS256", "typ": "JWT"}) + "." + part({**payload, "iat": now, "exp": now + 300})
    signature = jwt.encode({"x": 1}, TEST_SECRET, algorithm="HS256").rsplit(".", 1)[1]
    return f"{head}.{signature}"


MORE_BAD_HEADERS: dict[str, Callable[[], dict[str, str]]] = {
    "alg-rs256-looking": lambda: authorization(rs256_looking(claims())),
    "alg-hs384": lambda: authorization(jwt.encode(claims(), TEST_SECRET + "-" * 16, algorithm="HS384")),
    "not-yet-valid": lambda: authorization(signed(claims(nbf=datetime.now(UTC) + timedelta(minutes=10)))),
    "exp-not-a-number": lambda: authorization(signed(claims(exp="tomorrow"))),
    "member-without-tenant": lambda: authorization(signed(claims(role="member", tenant_id=None))),
    "owner-without-tenant": lambda: authorization(signed(claims(role="owner", tenant_id=None))),
    "tenant-uuid-with-garbage": lambda: authorization(signed(claims(tenant_id=f"{TENANT_B}x"))),
    "role-a-list": lambda: authorization(signed(claims(role=["platform"]))),
}
ALL_BAD_HEADERS = {**BAD_HEADERS, **MORE_BAD_HEADERS}


@pytest.mark.parametrize("case", ALL_BAD_HEADERS)
@ONE_DATABASE
async def test_bad_token_is_401_on_every_api_route(client, app, case: str) -> None:
    await put_features(client, "api_calls")
    headers = ALL_BAD_HEADERS[case]()
    for method, template, operation in api_routes(app):
        response = await call(client, method, concrete(template, TENANT_B), operation, headers)
        body = assert_problem(response, 401)
        assert response.headers["www-authenticate"].startswith("Bearer"), (operation, response.headers)
        assert TEST_SECRET not in str(body)
    assert await quantities(client, TENANT_B) == {"api_calls": 0}


@pytest.mark.parametrize("role", TENANT_ROLES)
@ONE_DATABASE
async def test_token_of_tenant_a_is_403_on_every_route_of_tenant_b(client, app, role: Role) -> None:
    """Every route with ``{tenant_id}`` in its path; B's data is neither shown nor changed."""
    await put_features(client, "api_calls")
    await record(client, TENANT_B, {"feature_key": "api_calls", "quantity": 987654321, "idempotency_key": KEY_OF_B})
    platform = bearer(Role.PLATFORM)
    await client.put("/api/v1/billing/plans/pro", json=BODIES["put_plan"], headers=platform)
    plan_of_b = f"/api/v1/billing/tenants/{TENANT_B}/plan"
    assert (await client.put(plan_of_b, json={"plan_key": "pro"}, headers=platform)).status_code == 200
    tenant_a = uuid.uuid4()
    routes = [r for r in api_routes(app) if "{tenant_id" in r[1]]
    assert len(routes) >= 4, routes
    for method, template, operation in routes:
        response = await call(client, method, concrete(template, TENANT_B), operation, bearer(role, tenant_a))
        body = assert_problem(response, 403)
        for secret in (str(TENANT_B), KEY_OF_B, "987654321"):
            assert secret not in response.text, (operation, body)
    # Nothing of B changed: the event is still counted (not voided) and no event was added.
    assert await quantities(client, TENANT_B) == {"api_calls": 987654321}
    listing = await client.get(events_url(TENANT_B), headers=bearer(Role.PLATFORM))
    assert [(e["idempotency_key"], e["voided"]) for e in listing.json()["items"]] == [(KEY_OF_B, False)]
    assert (await client.get(plan_of_b, headers=platform)).json()["plan_key"] == "pro"  # not taken off its plan
