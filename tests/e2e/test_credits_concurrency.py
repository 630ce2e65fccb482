"""The hard stop at the last credits under concurrency: 20 clients race batches at one tenant's allowance plus two
credit grants through two server processes sharing one database. Accepted usage never exceeds allowance plus
credits (no grant's balance goes below zero), what was acknowledged equals what the grants were charged beyond the
allowance, every refused batch stored nothing and would not have fitted. On PostgreSQL and on SQLite."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer
from tests.e2e.conftest import running_server
from tests.e2e.racing import API, keys, on_hard_plan, quantity, race, stored_keys

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

LIMIT = 1_000
GRANTS = {"topup": (300, 0), "bonus": (200, 1)}  # amount, priority
CAPACITY = LIMIT + sum(amount for amount, _ in GRANTS.values())


async def test_racing_batches_never_take_credits_below_zero(database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    admin = bearer("admin", tenant)
    with (
        running_server(database, tmp_path / "a.log") as server_a,
        running_server(database, tmp_path / "b.log") as server_b,
    ):
        async with httpx.AsyncClient(timeout=60) as http:
            await on_hard_plan(http, server_a, tenant, LIMIT)
            effective = (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).isoformat()
            for grant_id, (amount, priority) in GRANTS.items():
                body = {
                    "grant_id": grant_id,
                    "feature_key": "api_calls",
                    "amount": amount,
                    "priority": priority,
                    "effective_at": effective,
                }
                r = await http.post(f"{server_b}{API}/tenants/{tenant}/grants", json=body, headers=bearer("platform"))
                assert r.status_code == 201, r.text
            accepted, refused = await race(http, (server_a, server_b), tenant)
            grants = (await http.get(f"{server_a}{API}/tenants/{tenant}/grants", headers=admin)).json()
            entitlement = await http.get(f"{server_b}{API}/tenants/{tenant}/entitlements/api_calls", headers=admin)
            stored = await stored_keys(http, server_a, tenant)

    used = entitlement.json()["used"]
    assert used == quantity(accepted) <= CAPACITY
    assert refused, "the clients sent more than allowance and credits: some batches must have been refused"
    assert all(0 <= g["remaining"] == g["amount"] - g["used"] for g in grants), grants
    assert sum(g["used"] for g in grants) == max(used - LIMIT, 0)  # acknowledged beyond the allowance = charged
    assert entitlement.json()["credits_remaining"] == CAPACITY - used
    assert stored == keys(accepted)  # refused batches stored nothing
    for batch in refused:  # refused only when it did not fit what was accepted (usage only grows)
        assert used + quantity([batch]) > CAPACITY
