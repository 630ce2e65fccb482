"""Database faults under steady ingestion: a real server on PostgreSQL whose connections are killed.

Callers get 200 or 503 problem details (never a 500, never a hang past the client's timeout); every batch
acknowledged with 200 is counted exactly once; a client that retries its failed batches ends with exact
totals; the server recovers by itself. The figures are printed (``-s``) for docs/reliability.md.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tally.app import create_app
from tally.config import Settings
from tally.http.auth import Role
from tests.conftest import POSTGRES_ADMIN_URL, TEST_SECRET, _admin, assert_problem, bearer, in_thread, totals_url
from tests.e2e.conftest import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

WORKERS = 6
BATCHES_PER_WORKER = 40
EVENTS_PER_BATCH = 10
KILLS = 6
CLIENT_TIMEOUT = 30.0  # seconds: a request not answered by then is a hang, and fails the test
MAX_RETRIES = 100


@dataclass
class Ledger:
    acknowledged: dict[str, int] = field(default_factory=dict)  # batch id -> quantity, answered 200
    failed: dict[str, int] = field(default_factory=dict)  # batch id -> quantity, answered 503 (not retried)
    statuses: Counter[int] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)  # anything but 200 or 503 problem details
    retries: int = 0
    duplicates_on_retry: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def batch(worker: int, number: int) -> tuple[str, list[dict[str, object]], int]:
    batch_id = f"w{worker}-b{number}"
    events = [
        {"feature_key": "api_calls", "quantity": worker * 1000 + number * 10 + i, "idempotency_key": f"{batch_id}-{i}"}
        for i in range(EVENTS_PER_BATCH)
    ]
    return batch_id, events, sum(int(e["quantity"]) for e in events)  # type: ignore[call-overload]


def send(http: httpx.Client, url: str, events: list[dict[str, object]], ledger: Ledger) -> httpx.Response | None:
    try:
        response = http.post(url, json={"events": events}, headers=bearer(Role.PLATFORM))
    except httpx.TransportError as exc:
        with ledger.lock:
            ledger.problems.append(f"transport error: {type(exc).__name__}")
        return None
    with ledger.lock:
        ledger.statuses[response.status_code] += 1
    if response.status_code == 503:
        ok = (
            response.headers.get("content-type", "").startswith("application/problem+json")
            and int(response.headers.get("retry-after", "0")) >= 1
        )
        if not ok:
            with ledger.lock:
                ledger.problems.append(f"503 without problem details or Retry-After: {response.headers}")
    elif response.status_code != 200:
        with ledger.lock:
            ledger.problems.append(f"{response.status_code}: {response.text[:200]}")
    return response


def ingest(base_url: str, tenant: uuid.UUID, worker: int, retry: bool, ledger: Ledger) -> None:
    url = f"/api/v1/billing/tenants/{tenant}/usage-events"
    with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http:
        for number in range(BATCHES_PER_WORKER):
            batch_id, events, quantity = batch(worker, number)
            response = send(http, url, events, ledger)
            attempts = 0
            while retry and response is not None and response.status_code == 503 and attempts < MAX_RETRIES:
                attempts += 1
                time.sleep(0.05)  # a real client waits Retry-After; the test keeps it short
                response = send(http, url, events, ledger)
                if response is not None and response.status_code == 200:
                    with ledger.lock:
                        ledger.retries += attempts
                        ledger.duplicates_on_retry += response.json()["duplicates"]
            if response is None:
                return
            with ledger.lock:
                if response.status_code == 200:
                    assert response.json()["accepted"] + response.json()["duplicates"] == EVENTS_PER_BATCH
                    ledger.acknowledged[batch_id] = quantity
                else:
                    ledger.failed[batch_id] = quantity


async def terminate_backends(database: str) -> int:
    engine = create_async_engine(POSTGRES_ADMIN_URL, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": database},
            )
            return sum(1 for (killed,) in result if killed)
    finally:
        await engine.dispose()


def stored_keys(http: httpx.Client, tenant: uuid.UUID) -> list[str]:
    keys: list[str] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
        page = http.get(f"/api/v1/billing/tenants/{tenant}/usage-events", params=params, headers=bearer(Role.PLATFORM))
        assert page.status_code == 200, page.text
        keys += [item["idempotency_key"] for item in page.json()["items"]]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return keys


def total(http: httpx.Client, tenant: uuid.UUID) -> int:
    params = {"period_start": "2000-01-01T00:00:00Z", "period_end": "2100-01-01T00:00:00Z"}
    response = http.get(totals_url(tenant), params=params, headers=bearer(Role.PLATFORM))
    assert response.status_code == 200, response.text
    return int(response.json()[0]["quantity"])


def test_killed_connections_during_ingestion(postgres_database: str, tmp_path: Path) -> None:
    database = postgres_database.rsplit("/", 1)[1]
    env = {"TALLY_RETRY_AFTER_SECONDS": "1", "TALLY_DB_TIMEOUT_SECONDS": "5", "TALLY_METRICS_ENABLED": "false"}
    plain, retrying = uuid.uuid4(), uuid.uuid4()
    ledgers = {plain: Ledger(), retrying: Ledger()}
    killed: list[int] = []
    with running_server(postgres_database, tmp_path / "server.log", **env) as base_url:
        with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http:
            created = http.put(
                "/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=bearer("platform")
            )
            assert created.status_code == 201, created.text
        threads = [
            threading.Thread(target=ingest, args=(base_url, tenant, worker, tenant == retrying, ledgers[tenant]))
            for tenant in ledgers
            for worker in range(WORKERS // 2)
        ]
        for thread in threads:
            thread.start()
        for _ in range(KILLS):
            time.sleep(0.3)
            killed.append(in_thread(asyncio.run, terminate_backends(database)))
        for thread in threads:
            thread.join(timeout=BATCHES_PER_WORKER * CLIENT_TIMEOUT)
            assert not thread.is_alive(), "an ingesting client hung"

        with httpx.Client(base_url=base_url, timeout=CLIENT_TIMEOUT) as http:
            # Recovery by itself: readiness answers 200 again (bounded wait, not a timing assertion).
            deadline = time.monotonic() + 30
            while http.get("/health/ready").status_code != 200:
                assert time.monotonic() < deadline, "the server did not recover"
                time.sleep(0.2)
            keys = {tenant: stored_keys(http, tenant) for tenant in ledgers}
            totals = {tenant: total(http, tenant) for tenant in ledgers}

    for ledger in ledgers.values():
        assert ledger.problems == [], ledger.problems
        assert set(ledger.statuses) <= {200, 503}, ledger.statuses
    assert sum(killed) > 0, "no connection was killed: the test injected no fault"

    # Without retries: every acknowledged batch is stored, each event once; a 503 batch is all in or all out.
    plain_ledger = ledgers[plain]
    assert len(keys[plain]) == len(set(keys[plain]))
    stored_batches = Counter(key.rsplit("-", 1)[0] for key in keys[plain])
    assert set(stored_batches.values()) <= {EVENTS_PER_BATCH}, "a batch was stored in part"
    assert set(plain_ledger.acknowledged) <= set(stored_batches)
    assert set(stored_batches) <= set(plain_ledger.acknowledged) | set(plain_ledger.failed)
    assert totals[plain] == sum(
        q for b, q in {**plain_ledger.acknowledged, **plain_ledger.failed}.items() if b in stored_batches
    )
    # With retries: every batch ends acknowledged, and the total is exact.
    retry_ledger = ledgers[retrying]
    assert retry_ledger.failed == {}
    assert len(retry_ledger.acknowledged) == (WORKERS // 2) * BATCHES_PER_WORKER
    assert totals[retrying] == sum(retry_ledger.acknowledged.values())
    assert len(keys[retrying]) == len(set(keys[retrying])) == (WORKERS // 2) * BATCHES_PER_WORKER * EVENTS_PER_BATCH

    figures = {
        "batches sent": 2 * (WORKERS // 2) * BATCHES_PER_WORKER,
        "backends terminated": sum(killed),
        "answers": dict(ledgers[plain].statuses + ledgers[retrying].statuses),
        "plain: acknowledged / 503 / 503-but-stored": (
            len(plain_ledger.acknowledged),
            len(plain_ledger.failed),
            len(set(plain_ledger.failed) & set(stored_batches)),
        ),
        "retrying: retries / duplicates on retry": (retry_ledger.retries, retry_ledger.duplicates_on_retry),
        "events counted": {"plain": len(keys[plain]), "retrying": len(keys[retrying])},
    }
    print(f"\ndb-fault figures: {figures}")


@pytest.fixture
def role_without_connections(postgres_database: str) -> str:
    """A database URL whose role may open no connection: every connect fails with SQLSTATE 53300."""
    role = f"tally_noconn_{uuid.uuid4().hex[:8]}"
    in_thread(asyncio.run, _admin(f"CREATE ROLE {role} LOGIN CONNECTION LIMIT 0"))
    yield postgres_database.replace("postgres@", f"{role}@", 1)
    in_thread(asyncio.run, _admin(f"DROP ROLE IF EXISTS {role}"))


@pytest.mark.anyio
async def test_too_many_connections_is_503_not_500(role_without_connections: str) -> None:
    """Regression: SQLAlchemy wraps this server error as a bare ``DBAPIError`` (not invalidated); it was a 500."""
    app = create_app(Settings(database_url=role_without_connections, jwt_secret=TEST_SECRET))
    async with AsyncTestClient(app=app) as client:
        ready = await client.get("/health/ready")
        totals = await client.get(totals_url(uuid.uuid4()), headers=bearer(Role.PLATFORM))
    for response in (ready, totals):
        assert_problem(response, 503)
        assert int(response.headers["retry-after"]) >= 1
