"""More concurrent requests than the pool has connections: a server with a pool of 2 (as many again may overflow)
and 32 clients at once, recording usage with and without a rejecting limit, checking entitlements and reading
totals, while webhook deliveries run. Every answer is 200, and what was acknowledged is what is counted.

A request uses one pooled connection at a time: before, one that held the session's connection took a second one
for its plan terms or its usage read under the limit's lock, and once every connection was held by a request
waiting for its second, all of them waited out the pool's timeout and answered 503."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from collections import Counter
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer, free_port
from tests.e2e.conftest import running_server
from tests.e2e.test_webhook_faults import receiving

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

API = "/api/v1/billing"
CLIENTS = 32
ROUNDS = 6
LIMIT = 10_000  # rejecting, never reached: every batch is judged under the limit's lock and accepted
SMALL_POOL = {"TALLY_DB_POOL_SIZE": "2", "TALLY_WEBHOOK_ALLOW_PRIVATE": "true"}


async def test_32_clients_on_a_pool_of_2_get_only_200s(database: str, tmp_path: Path) -> None:
    limited, free = uuid.uuid4(), uuid.uuid4()
    platform = bearer("platform")
    now = dt.datetime.now(dt.UTC).isoformat()
    with (
        receiving(free_port(), lambda _id, _nth: 200) as receiver,
        running_server(database, tmp_path / "server.log", **SMALL_POOL) as server,
    ):
        async with httpx.AsyncClient(base_url=f"{server}{API}", timeout=60) as http:
            for key in ("api_calls", "llm_tokens"):
                r = await http.put(f"/features/{key}", json={"unit": "units"}, headers=platform)
                assert r.status_code == 201, r.text
            limit = {"feature_key": "api_calls", "limit": LIMIT, "enforcement": "reject", "notify_at_percent": [1, 2]}
            r = await http.put("/plans/hard", json={"name": "Hard", "limits": [limit]}, headers=platform)
            assert r.status_code == 201, r.text
            r = await http.put(f"/tenants/{limited}/plan", json={"plan_key": "hard"}, headers=platform)
            assert r.status_code == 200, r.text
            endpoint = {"url": f"http://127.0.0.1:{receiver.port}/hooks", "events": ["usage.threshold_crossed"]}
            assert (await http.post("/webhook-endpoints", json=endpoint, headers=platform)).status_code == 201

            answers: Counter[int] = Counter()
            acknowledged: Counter[tuple[uuid.UUID, str]] = Counter()

            async def client(n: int) -> None:
                for round_ in range(ROUNDS):
                    tenant = (limited, free)[(n + round_) % 2]
                    feature = ("api_calls", "llm_tokens")[n % 2]
                    event = {"feature_key": feature, "quantity": 50, "idempotency_key": f"c{n}-r{round_}"}
                    calls = [
                        http.post(
                            f"/tenants/{tenant}/usage-events",
                            json={"events": [{**event, "timestamp": now}]},
                            headers=platform,
                        ),
                        http.get(f"/tenants/{tenant}/entitlements/api_calls", headers=platform),
                        http.get(f"/tenants/{tenant}/usage-totals", headers=platform),
                    ]
                    recorded, *reads = await asyncio.gather(*calls)
                    for r in (recorded, *reads):
                        answers[r.status_code] += 1
                        assert r.status_code == 200, r.text
                    if recorded.json()["accepted"]:
                        acknowledged[tenant, feature] += 50

            await asyncio.gather(*(client(n) for n in range(CLIENTS)))
            assert answers == Counter({200: CLIENTS * ROUNDS * 3})

            for tenant in (limited, free):
                r = await http.get(f"/tenants/{tenant}/usage-totals", headers=platform)
                counted = {row["feature_key"]: row["quantity"] for row in r.json()}
                assert counted == {key: acknowledged[tenant, key] for key in ("api_calls", "llm_tokens")}

            deliveries = (await http.get("/webhook-deliveries", params={"limit": "100"}, headers=platform)).json()
    # 1% and 2% of the limit were crossed under load, each alert delivered (or attempted) while requests ran
    assert {item["event_type"] for item in deliveries["items"]} == {"usage.threshold_crossed"}
    assert len(deliveries["items"]) == 2
    assert receiver.snapshot(), "the webhook deliveries ran during the load"
