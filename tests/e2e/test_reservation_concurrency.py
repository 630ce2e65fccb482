"""Reservations under concurrency: 20 clients race holds at a limit of 500 through two server processes sharing one
database, then race hold→commit and hold→release cycles. Granted holds never promise more than the limit, no hold
was refused while it fitted, every committed unit is recorded exactly once (a re-sent commit changes nothing), and
the holds of a client that dies expire and free the capacity. On PostgreSQL and on SQLite."""

from __future__ import annotations

import asyncio
import random
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer
from tests.e2e.conftest import running_server
from tests.e2e.racing import on_hard_plan

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

LIMIT = 500
CLIENTS = 20
API = "/api/v1/billing"


async def test_racing_holds_never_promise_more_than_the_limit(database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    admin = bearer("admin", tenant)
    with (
        running_server(database, tmp_path / "a.log") as server_a,
        running_server(database, tmp_path / "b.log") as server_b,
    ):
        servers = (server_a, server_b)
        base = f"{API}/tenants/{tenant}/reservations"
        async with httpx.AsyncClient(timeout=60) as http:
            await on_hard_plan(http, server_a, tenant, LIMIT, "llm_tokens", "tokens")

            async def hold(server: str, reservation_id: str, quantity: int, seconds: int = 300) -> bool:
                body = {
                    "reservation_id": reservation_id,
                    "feature_key": "llm_tokens",
                    "quantity": quantity,
                    "expires_in_seconds": seconds,
                }
                r = await http.post(f"{server}{base}", json=body, headers=admin)
                assert r.status_code in (201, 409), r.text
                if r.status_code == 409:
                    assert r.json()["type"] == "urn:tally:problem:limit-exceeded"
                return r.status_code == 201

            committed: dict[str, int] = {}

            async def commit(server: str, reservation_id: str, quantity: int) -> None:
                body = {"quantity": quantity, "idempotency_key": f"use-{reservation_id}"}
                url = f"{server}{base}/{reservation_id}/commit"
                r = await http.post(url, json=body, headers=admin)
                assert r.status_code == 200, r.text
                again = await http.post(url, json=body, headers=admin)  # a retried commit is the same commit
                assert again.json() == r.json()
                committed[reservation_id] = quantity

            # Phase 1: holds only; nothing ends, so each refusal can be judged against every grant
            granted: dict[str, int] = {}
            refused: list[int] = []

            async def holder(n: int) -> None:
                rng = random.Random(n)
                for h in range(3):
                    quantity, reservation_id = rng.randint(10, 60), f"c{n}-h{h}"
                    if await hold(servers[(n + h) % 2], reservation_id, quantity):
                        granted[reservation_id] = quantity
                    else:
                        refused.append(quantity)

            await asyncio.gather(*(holder(n) for n in range(CLIENTS)))
            assert sum(granted.values()) <= LIMIT
            assert refused, "the clients asked for more than the limit: some holds must have been refused"
            assert all(sum(granted.values()) + q > LIMIT for q in refused)  # refused only when it did not fit

            # Phase 2: the holds end (commit at most what was held, or release) while new hold→commit cycles race
            async def finisher(n: int, reservation_id: str, quantity: int) -> None:
                rng = random.Random(reservation_id)
                if rng.random() < 0.5:
                    await commit(servers[n % 2], reservation_id, rng.randint(0, quantity))
                else:
                    r = await http.post(f"{servers[n % 2]}{base}/{reservation_id}/release", headers=admin)
                    assert r.json()["state"] == "released", r.text

            async def cycler(n: int) -> None:
                rng = random.Random(1000 + n)
                for c in range(4):
                    quantity, reservation_id = rng.randint(5, 40), f"c{n}-cycle{c}"
                    if await hold(servers[(n + c) % 2], reservation_id, quantity):
                        await commit(servers[(n + c + 1) % 2], reservation_id, rng.randint(0, quantity))

            await asyncio.gather(
                *(finisher(n, rid, q) for n, (rid, q) in enumerate(granted.items())),
                *(cycler(n) for n in range(CLIENTS)),
            )
            r = await http.get(f"{server_b}{API}/tenants/{tenant}/entitlements/llm_tokens", headers=admin)
            entitlement = r.json()
            assert entitlement["used"] == sum(committed.values()) <= LIMIT  # every committed unit, once
            assert entitlement["reserved"] == 0

            # Phase 3: a client holds what is left and dies; its hold blocks others only until it expires
            left = LIMIT - entitlement["used"]
            assert left > 0
            assert await hold(server_a, "dies", left, seconds=2)
            assert not await hold(server_b, "waits", 1)
            await asyncio.sleep(2.5)
            assert await hold(server_b, "after", left)
