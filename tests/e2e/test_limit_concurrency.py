"""A rejecting limit under concurrency: 20 clients race batches at one tenant's limit through two server
processes sharing one database. Accepted usage never exceeds the limit, every refused batch stored nothing,
no batch was refused while it would still have fitted the usage that ended up accepted, and re-sent batches
are duplicates (never refused, never counted). On PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from pathlib import Path

import httpx
import pytest

from tally.db.migrate import upgrade
from tests.conftest import bearer, in_thread
from tests.e2e.conftest import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

LIMIT = 2_000
CLIENTS = 20
BATCHES_PER_CLIENT = 12
API = "/api/v1/billing"


@pytest.fixture(params=["postgres", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'limits.db'}"
    in_thread(upgrade, url)
    return url


async def test_racing_batches_never_take_usage_over_the_limit(database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    platform, admin = bearer("platform"), bearer("admin", tenant)
    at = dt.datetime.now(dt.UTC).isoformat()  # the current period
    with (
        running_server(database, tmp_path / "a.log") as server_a,
        running_server(database, tmp_path / "b.log") as server_b,
    ):
        async with httpx.AsyncClient(timeout=60) as http:
            r = await http.put(f"{server_a}{API}/features/api_calls", json={"unit": "requests"}, headers=platform)
            assert r.status_code == 201, r.text
            plan = {"name": "Hard", "limits": [{"feature_key": "api_calls", "limit": LIMIT, "enforcement": "reject"}]}
            assert (await http.put(f"{server_a}{API}/plans/hard", json=plan, headers=platform)).status_code == 201
            r = await http.put(f"{server_a}{API}/tenants/{tenant}/plan", json={"plan_key": "hard"}, headers=platform)
            assert r.status_code == 200, r.text

            accepted: list[list[dict[str, object]]] = []
            refused: list[list[dict[str, object]]] = []

            async def client(n: int) -> None:
                rng = random.Random(n)
                for b in range(BATCHES_PER_CLIENT):
                    server = (server_a, server_b)[(n + b) % 2]
                    batch = [
                        {
                            "feature_key": "api_calls",
                            "quantity": rng.randint(1, 30),
                            "idempotency_key": f"c{n}-b{b}-e{i}",
                            "timestamp": at,
                        }
                        for i in range(rng.randint(1, 5))
                    ]
                    r = await http.post(
                        f"{server}{API}/tenants/{tenant}/usage-events", json={"events": batch}, headers=admin
                    )
                    assert r.status_code in (200, 409), r.text
                    if r.status_code == 409:
                        assert r.json()["type"] == "urn:tally:problem:limit-exceeded"
                        refused.append(batch)
                        continue
                    assert r.json() == {"accepted": len(batch), "duplicates": 0}
                    accepted.append(batch)
                    # a retry of a stored batch is a duplicate, at the limit or not
                    again = await http.post(
                        f"{(server_b, server_a)[(n + b) % 2]}{API}/tenants/{tenant}/usage-events",
                        json={"events": batch},
                        headers=admin,
                    )
                    assert again.status_code == 200, again.text
                    assert again.json() == {"accepted": 0, "duplicates": len(batch)}

            await asyncio.gather(*(client(n) for n in range(CLIENTS)))

            entitlement = await http.get(f"{server_b}{API}/tenants/{tenant}/entitlements/api_calls", headers=admin)
            stored: set[str] = set()
            cursor = None
            while True:
                params = {"limit": 1000, **({"cursor": cursor} if cursor else {})}
                page = (
                    await http.get(f"{server_a}{API}/tenants/{tenant}/usage-events", params=params, headers=admin)
                ).json()
                stored |= {e["idempotency_key"] for e in page["items"]}
                cursor = page["next_cursor"]
                if cursor is None:
                    break

    used = entitlement.json()["used"]
    sent = sum(int(e["quantity"]) for batch in accepted for e in batch)  # type: ignore[call-overload]
    assert used == sent <= LIMIT
    assert refused, "the clients sent more than the limit: some batches must have been refused"
    assert stored == {e["idempotency_key"] for batch in accepted for e in batch}  # refused batches stored nothing
    for batch in refused:  # refused only when it did not fit what was accepted (usage only grows)
        assert used + sum(int(e["quantity"]) for e in batch) > LIMIT  # type: ignore[call-overload]
