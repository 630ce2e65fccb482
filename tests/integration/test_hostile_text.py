"""NUL and lone surrogates in every string input of every route: a 400 naming the field, nothing stored.

The routes and their inputs come from the app's own OpenAPI document, so a parameter or body field added
later without a hostile case here fails ``test_every_input_of_every_route_is_covered``. Each route has one
valid request (``VALID``); every case is that request with one string changed, so the 400 can only be
about that string (``test_the_valid_requests_succeed`` proves the requests are otherwise accepted).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.app import create_app
from tally.config import Settings
from tally.db.migrate import upgrade
from tally.http.cursors import encode_cursor
from tests.conftest import PLATFORM, TABLES, TEST_SECRET, assert_problem, in_thread, record

pytestmark = pytest.mark.anyio

TENANT = "3f0c8a4e-0000-4000-8000-000000000001"
HOSTILE = {"nul": "\x00", "lone-surrogate": "\udaa0"}
# Headers get NUL only: Litestar's test transport re-encodes header bytes that are not UTF-8 (as Latin-1 read
# back as UTF-8), so those are sent to a real server in tests/e2e/test_refused_input.py.
READ_HEADERS = ("authorization", "x-request-id", "content-type")


@dataclass(frozen=True)
class Call:
    """One request, built from parts so that any one string of it can be changed."""

    method: str
    path: str  # with {name} placeholders for ``path_params``
    path_params: dict[str, str] = field(default_factory=dict)
    query: list[tuple[str, str]] = field(default_factory=list)
    body: Any = None
    headers: dict[str, str] = field(default_factory=lambda: {"authorization": PLATFORM["Authorization"]})

    def url(self) -> str:
        path = self.path.format(**{k: _quoted(v) for k, v in self.path_params.items()})
        query = "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in self.query)
        return f"{path}?{query}" if query else path

    def send(self, client):  # type: ignore[no-untyped-def]
        headers = {k: v.encode("utf-8", "surrogatepass") for k, v in self.headers.items()}
        if self.body is None:
            return client.request(self.method, self.url(), headers=headers)
        content = json.dumps(self.body).encode()  # ensure_ascii: "\u0000", "\udaa0" escapes
        return client.request(
            self.method, self.url(), content=content, headers={"content-type": b"application/json", **headers}
        )


def _quoted(value: str) -> str:
    """Percent-encoded as a client would: a lone surrogate as the bytes of its code point (not UTF-8)."""
    return quote_from_bytes(value.encode("utf-8", "surrogatepass"), safe="")


EVENTS = "/api/v1/billing/tenants/{tenant_id}/usage-events"
CURSOR = "a-cursor"
PLAN = "/api/v1/billing/tenants/{tenant_id}/plan"
LIMIT = {
    "feature_key": "llm",
    "limit": 10,
    "period": "month",
    "enforcement": "none",
    "notify_at_percent": [80],
    "notify_credits_below": 5,
}
GRANTS = "/api/v1/billing/tenants/{tenant_id}/grants"
RESERVATIONS = "/api/v1/billing/tenants/{tenant_id}/reservations"
NOWHERE = uuid.UUID(int=1)
# Operations whose valid request names an endpoint or delivery that does not exist (creating one would start
# deliveries to a real host): their valid answer is 404, and their ids' hostile spellings are still 400s.
MISSING = frozenset({"delete_webhook_endpoint", "rotate_webhook_endpoint_secret", "retry_webhook_delivery"})
VALID: dict[str, Call] = {
    "list_features": Call("GET", "/api/v1/billing/features"),
    "put_feature": Call(
        "PUT",
        "/api/v1/billing/features/{feature_key}",
        {"feature_key": "fresh"},
        body={
            "unit": "users",
            "aggregation": "unique_count",
            "unique_by": "model",
            "description": "new",
            "dimensions": ["model"],
            "approximate": True,
        },
    ),
    "record_usage_events": Call(
        "POST",
        EVENTS,
        {"tenant_id": TENANT},
        body={
            "events": [
                {
                    "feature_key": "llm",
                    "quantity": 1,
                    "idempotency_key": "fresh-1",
                    "timestamp": "2026-11-02T00:00:00Z",
                    "dimensions": {"model": "gpt"},
                }
            ]
        },
    ),
    "void_usage_event": Call(
        "POST", EVENTS + "/{idempotency_key}/void", {"tenant_id": TENANT, "idempotency_key": "k1"}, body={"reason": "r"}
    ),
    "get_usage_totals": Call(
        "GET",
        "/api/v1/billing/tenants/{tenant_id}/usage-totals",
        {"tenant_id": TENANT},
        query=[
            ("feature_keys", "llm"),
            ("period_start", "2026-11-01T00:00:00+01:00"),
            ("period_end", "2026-12-01T00:00:00+01:00"),
            ("window_size", "day"),
            ("timezone", "Europe/Berlin"),
            ("group_by", "model"),
            ("filter", "model=gpt"),
            ("as_of", "2026-12-01T00:00:00Z"),
        ],
    ),
    "list_usage_events": Call(
        "GET",
        EVENTS,
        {"tenant_id": TENANT},
        query=[
            ("feature_key", "llm"),
            ("period_start", "2026-11-01T00:00:00Z"),
            ("period_end", "2026-12-01T00:00:00Z"),
            ("limit", "1"),
            ("cursor", CURSOR),  # replaced by a real one (``with_cursor``)
        ],
    ),
    "list_plans": Call("GET", "/api/v1/billing/plans"),
    "put_plan": Call(
        "PUT",
        "/api/v1/billing/plans/{plan_key}",
        {"plan_key": "fresh"},
        body={"name": "Fresh", "limits": [LIMIT], "grace_period": "P3D"},
    ),
    "put_tenant_plan": Call(
        "PUT",
        PLAN,
        {"tenant_id": TENANT},
        body={"plan_key": "pro", "timezone": "Europe/Berlin", "overrides": [LIMIT], "grace_period": "PT12H"},
    ),
    "get_tenant_plan": Call("GET", PLAN, {"tenant_id": TENANT}),
    "list_entitlements": Call(
        "GET",
        "/api/v1/billing/tenants/{tenant_id}/entitlements",
        {"tenant_id": TENANT},
        query=[("feature_keys", "llm")],
    ),
    "get_entitlement": Call(
        "GET",
        "/api/v1/billing/tenants/{tenant_id}/entitlements/{feature_key}",
        {"tenant_id": TENANT, "feature_key": "llm"},
    ),
    "list_billing_periods": Call(
        "GET",
        "/api/v1/billing/tenants/{tenant_id}/periods",
        {"tenant_id": TENANT},
        query=[("limit", "2"), ("cursor", encode_cursor(datetime(2026, 11, 1, tzinfo=UTC), ""))],
    ),
    # Closes October and before: the events above are dated in November.
    "close_billing_periods": Call(
        "POST",
        "/api/v1/billing/tenants/{tenant_id}/periods/close",
        {"tenant_id": TENANT},
        body={"period_end": "2026-11-01T00:00:00Z"},
    ),
    "create_grant": Call(
        "POST",
        GRANTS,
        {"tenant_id": TENANT},
        body={
            "grant_id": "fresh-grant",
            "feature_key": "llm",
            "amount": 100,
            "priority": 1,
            "effective_at": "2026-11-01T00:00:00Z",
            "expires_at": "2027-11-01T00:00:00Z",
            "note": "n",
            "notify_below": 10,
        },
    ),
    "list_grants": Call("GET", GRANTS, {"tenant_id": TENANT}, query=[("feature_key", "llm"), ("state", "active")]),
    "void_grant": Call(
        "POST", GRANTS + "/{grant_id}/void", {"tenant_id": TENANT, "grant_id": "fresh-grant"}, body={"reason": "r"}
    ),
    "create_reservation": Call(
        "POST",
        RESERVATIONS,
        {"tenant_id": TENANT},
        body={"reservation_id": "fresh-hold", "feature_key": "llm", "quantity": 5, "expires_in_seconds": 60},
    ),
    "commit_reservation": Call(
        "POST",
        RESERVATIONS + "/{reservation_id}/commit",
        {"tenant_id": TENANT, "reservation_id": "fresh-hold"},
        body={
            "quantity": 3,
            "idempotency_key": "fresh-commit",
            # Now: in the open period (November is closed by the time the tests run: its grace has passed).
            "timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "dimensions": {"model": "gpt"},
        },
    ),
    "release_reservation": Call(
        "POST", RESERVATIONS + "/{reservation_id}/release", {"tenant_id": TENANT, "reservation_id": "fresh-hold"}
    ),
    "list_reservations": Call(
        "GET",
        RESERVATIONS,
        {"tenant_id": TENANT},
        query=[
            ("state", "committed"),
            ("limit", "1"),
            ("cursor", encode_cursor(datetime(2026, 11, 1, tzinfo=UTC), "fresh-hold")),
        ],
    ),
    "delete_tenant_plan": Call("DELETE", PLAN, {"tenant_id": TENANT}),  # last: the calls above read the plan
    "create_webhook_endpoint": Call(
        "POST",
        "/api/v1/billing/webhook-endpoints",
        body={
            "url": "https://hooks.example.com/tally",
            "description": "d",
            "events": ["usage.threshold_crossed", "credits.low"],
            "tenant_id": TENANT,
        },
    ),
    "list_webhook_endpoints": Call("GET", "/api/v1/billing/webhook-endpoints"),
    "list_webhook_deliveries": Call(
        "GET",
        "/api/v1/billing/webhook-deliveries",
        query=[
            ("endpoint_id", str(NOWHERE)),
            ("status", "pending"),
            ("cursor", encode_cursor(datetime(2026, 11, 1, tzinfo=UTC), str(NOWHERE))),
            ("limit", "1"),
        ],
    ),
    # Valid ids naming nothing: 404 (see MISSING).
    "delete_webhook_endpoint": Call(
        "DELETE", "/api/v1/billing/webhook-endpoints/{endpoint_id}", {"endpoint_id": str(NOWHERE)}
    ),
    "rotate_webhook_endpoint_secret": Call(
        "POST",
        "/api/v1/billing/webhook-endpoints/{endpoint_id}/rotate-secret",
        {"endpoint_id": str(NOWHERE)},
        body={"grace_period_seconds": 60},
    ),
    "retry_webhook_delivery": Call(
        "POST", "/api/v1/billing/webhook-deliveries/{delivery_id}/retry", {"delivery_id": str(NOWHERE)}
    ),
    "health_live": Call("GET", "/health/live"),
    "health_ready": Call("GET", "/health/ready"),
}


def spoiled(value: str, bad: str) -> str:
    return value[:1] + bad + value[1:]


def strings(value: Any, path: str = "") -> Iterator[tuple[str, bool]]:
    """``(path, is_key)`` of every string in a JSON body: values, and the keys of free-form objects."""
    if isinstance(value, str):
        yield path, False
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from strings(item, f"{path}[{i}]")
    elif isinstance(value, dict):
        for key, item in value.items():
            child = f"{path}.{key}" if path else key
            if path.endswith("dimensions"):  # a dimension map: its keys are input too
                yield child, True
            yield from strings(item, child)


def _respelled(body: Any, path: str, is_key: bool, bad: str) -> Any:
    """``body`` with the string at ``path`` (or the key, when ``is_key``) spoiled by ``bad``."""
    copy = json.loads(json.dumps(body))
    parts = path.replace("[", ".[").split(".")
    parent: Any = copy
    for part in parts[:-1]:
        parent = parent[int(part[1:-1])] if part.startswith("[") else parent[part]
    last = parts[-1]
    if last.startswith("["):
        parent[int(last[1:-1])] = spoiled(parent[int(last[1:-1])], bad)
    elif is_key:
        parent[spoiled(last, bad)] = parent.pop(last)
    else:
        parent[last] = spoiled(parent[last], bad)
    return copy


def cases() -> Iterator[Any]:
    """``(operation, call, field named)`` for every string input of every route and each hostile character."""
    for name, bad in HOSTILE.items():
        for operation, call in VALID.items():
            for param, value in call.path_params.items():
                params = {**call.path_params, param: spoiled(value, bad)}
                yield pytest.param(
                    operation, replace(call, path_params=params), param, id=f"{operation}-{param}-{name}"
                )
            for i, (param, value) in enumerate(call.query):
                query = [*call.query[:i], (param, spoiled(value, bad)), *call.query[i + 1 :]]
                yield pytest.param(operation, replace(call, query=query), param, id=f"{operation}-{param}-{name}")
            for path, is_key in strings(call.body):
                body = _respelled(call.body, path, is_key, bad)
                named = path.rsplit(".", 1)[0] + "." if is_key else path
                key = "-key" if is_key else ""
                yield pytest.param(operation, replace(call, body=body), named, id=f"{operation}-{path}{key}-{name}")
            for header in READ_HEADERS if bad == "\x00" else ():
                value = call.headers.get(header, "application/json" if header == "content-type" else "req-1")
                headers = {**call.headers, header: spoiled(value, bad)}
                yield pytest.param(
                    operation, replace(call, headers=headers), f"{header} header", id=f"{operation}-{header}-{name}"
                )


async def snapshot(database_url: str) -> dict[str, list[Any]]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            return {
                t: sorted(map(tuple, await connection.execute(text(f"SELECT * FROM {t}"))), key=repr) for t in TABLES
            }
    finally:
        await engine.dispose()


async def seed(client) -> str:  # type: ignore[no-untyped-def]
    """The catalog, two events and a plan the valid requests need; returns a real cursor of the event listing."""
    response = await client.put(
        "/api/v1/billing/features/llm", json={"unit": "t", "dimensions": ["model"]}, headers=PLATFORM
    )
    assert response.status_code == 201, response.text
    for key in ("k1", "k2"):
        event = {"feature_key": "llm", "quantity": 2, "idempotency_key": key, "timestamp": "2026-11-03T00:00:00Z"}
        await record(client, uuid.UUID(TENANT), event)
    plan = {"name": "Pro", "limits": [LIMIT]}
    assert (await client.put("/api/v1/billing/plans/pro", json=plan, headers=PLATFORM)).status_code == 201
    assigned = await client.put(PLAN.format(tenant_id=TENANT), json={"plan_key": "pro"}, headers=PLATFORM)
    assert assigned.status_code == 200, assigned.text
    page = await client.get(EVENTS.format(tenant_id=TENANT), params={"limit": 1}, headers=PLATFORM)
    assert page.json()["next_cursor"], page.text
    return str(page.json()["next_cursor"])


@pytest.fixture
async def cursor(client) -> str:
    return await seed(client)


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module-wide, for ``seeded`` below


@pytest.fixture(scope="module")
async def seeded(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[tuple[Any, str, str]]:
    """One app with the seed data, on an SQLite database of this module's own, for every hostile case: each case
    refuses its request and stores nothing (which it checks), so the next case finds the same data. Seeding it
    once rather than per case spares the per-test app start, emptying and seeding (most of a case's cost).
    Returns the client, the database URL and the cursor."""
    url = f"sqlite+aiosqlite:///{tmp_path_factory.mktemp('hostile') / 'tally.db'}"
    in_thread(upgrade, url)
    async with AsyncTestClient(app=create_app(Settings(database_url=url, jwt_secret=TEST_SECRET))) as client:
        yield client, url, await seed(client)


def with_cursor(call: Call, cursor: str) -> Call:
    return replace(call, query=[(k, cursor if v == CURSOR else v) for k, v in call.query])


# A question of the edge, answered before any SQL statement runs: SQLite only (see ONE_DATABASE in tests/conftest.py).
@pytest.mark.parametrize(("operation", "call", "named"), list(cases()))
async def test_hostile_text_is_400_naming_the_field(seeded, operation, call, named) -> None:
    client, database_url, cursor = seeded
    before = await snapshot(database_url)
    body = assert_problem(await with_cursor(call, cursor).send(client), 400, named)
    assert body["type"] == "urn:tally:problem:invalid-input", body
    assert any(str(e["field"]).startswith(named) for e in body["errors"]), body  # type: ignore[union-attr]
    assert await snapshot(database_url) == before


async def test_the_valid_requests_succeed(client, cursor) -> None:
    """The unspoiled requests are accepted, so each case above is refused for its one hostile string."""
    for operation, call in VALID.items():
        response = await with_cursor(call, cursor).send(client)
        assert response.status_code in ((404,) if operation in MISSING else (200, 201, 204)), (operation, response.text)


def test_every_input_of_every_route_is_covered() -> None:
    """Every operation of the document has a valid request here, with every parameter and body field."""
    document = json.loads((Path(__file__).parents[2] / "openapi.json").read_text())  # the app's (drift check)
    operations = {
        op["operationId"]: op for item in document["paths"].values() for op in item.values() if "operationId" in op
    }
    assert set(operations) == set(VALID)
    schemas = document["components"]["schemas"]
    for operation_id, op in operations.items():
        call = VALID[operation_id]
        wanted = {p["name"] for p in op.get("parameters", [])}
        assert wanted == set(call.path_params) | {k for k, _ in call.query}, operation_id
        if "requestBody" in op:
            ref = op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
            assert_every_property_given(schemas, schemas[ref], call.body, operation_id)


def assert_every_property_given(schemas: dict[str, Any], schema: dict[str, Any], body: Any, where: str) -> None:
    if "$ref" in schema:
        schema = schemas[schema["$ref"].rsplit("/", 1)[-1]]
    if "properties" in schema:
        assert set(body) == set(schema["properties"]), (where, sorted(schema["properties"]))
        for name, sub in schema["properties"].items():
            assert_every_property_given(schemas, sub, body[name], f"{where}.{name}")
    elif schema.get("type") == "array" and isinstance(schema.get("items"), dict):
        assert body, where
        assert_every_property_given(schemas, schema["items"], body[0], f"{where}[0]")
