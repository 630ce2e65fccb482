"""The hard stop at the last credits under concurrency: 20 clients race batches at one tenant's allowance plus two
credit grants through two server processes sharing one database. Accepted usage never exceeds allowance plus
credits (no grant's balance goes below zero), what was acknowledged equals what the grants were charged beyond the
allowance, every refused batch stored nothing and would not have fitted. On PostgreSQL and on SQLite."""

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

LIMIT = 1_000
GRANTS = {"topup": (300, 0), "bonus": (200, 1)}  # amount, priority
CAPACITY = LIMIT + sum(amount for amount, _ in GRANTS.values())
CLIENTS = 20
BATCHES_PER_CLIENT = 12
API = "/api/v1/billing"


@pytest.fixture(params=["postgres", "sqlite"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_database"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'credits.db'}"
    in_thread(upgrade, url)
    return url


async def test_racing_batches_never_take_credits_below_zero(database: str, tmp_path: Path) -> None:
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
            effective = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
            for grant_id, (amount, priority) in GRANTS.items():
                body = {
                    "grant_id": grant_id,
                    "feature_key": "api_calls",
                    "amount": amount,
                    "priority": priority,
                    "effective_at": effective,
                }
                r = await http.post(f"{server_b}{API}/tenants/{tenant}/grants", json=body, headers=platform)
                assert r.status_code == 201, r.text

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

            grants = (await http.get(f"{server_a}{API}/tenants/{tenant}/grants", headers=admin)).json()
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
    assert used == sent <= CAPACITY
    assert refused, "the clients sent more than allowance and credits: some batches must have been refused"
    assert all(0 <= g["remaining"] == g["amount"] - g["used"] for g in grants), grants
    assert sum(g["used"] for g in grants) == max(used - LIMIT, 0)  # acknowledged beyond the allowance = charged
    assert entitlement.json()["credits_remaining"] == CAPACITY - used
    assert stored == {e["idempotency_key"] for batch in accepted for e in batch}  # refused batches stored nothing
    for batch in refused:  # refused only when it did not fit what was accepted (usage only grows)
        assert used + sum(int(e["quantity"]) for e in batch) > CAPACITY  # type: ignore[call-overload]
