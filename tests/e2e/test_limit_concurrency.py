"""A rejecting limit under concurrency: 20 clients race batches at one tenant's limit through two server
processes sharing one database. Accepted usage never exceeds the limit, every refused batch stored nothing,
no batch was refused while it would still have fitted the usage that ended up accepted, and re-sent batches
are duplicates (never refused, never counted). On PostgreSQL and on SQLite."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import bearer
from tests.e2e.conftest import running_server
from tests.e2e.racing import API, keys, on_hard_plan, quantity, race, stored_keys

pytestmark = [pytest.mark.e2e, pytest.mark.anyio]

LIMIT = 2_000


async def test_racing_batches_never_take_usage_over_the_limit(database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    with (
        running_server(database, tmp_path / "a.log") as server_a,
        running_server(database, tmp_path / "b.log") as server_b,
    ):
        async with httpx.AsyncClient(timeout=60) as http:
            await on_hard_plan(http, server_a, tenant, LIMIT)
            accepted, refused = await race(http, (server_a, server_b), tenant)
            url = f"{server_b}{API}/tenants/{tenant}/entitlements/api_calls"
            entitlement = await http.get(url, headers=bearer("admin", tenant))
            stored = await stored_keys(http, server_a, tenant)

    used = entitlement.json()["used"]
    assert used == quantity(accepted) <= LIMIT
    assert refused, "the clients sent more than the limit: some batches must have been refused"
    assert stored == keys(accepted)  # refused batches stored nothing
    for batch in refused:  # refused only when it did not fit what was accepted (usage only grows)
        assert used + quantity([batch]) > LIMIT
