from __future__ import annotations

import uuid

import pytest

from tests.conftest import PLATFORM, bearer
from tests.factories import UsageEventFactory, event_json

pytestmark = pytest.mark.anyio


async def test_record_and_read_back(client) -> None:
    tenant = uuid.uuid4()
    r = await client.put("/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    events = UsageEventFactory.batch(5)
    r = await client.post(
        f"/api/v1/billing/tenants/{tenant}/usage-events",
        json={"events": [event_json(e) for e in events]},
        headers=bearer("admin", tenant),
    )
    assert r.status_code == 200, r.text
    assert r.json() == {"accepted": 5, "duplicates": 0}
    r = await client.get(
        f"/api/v1/billing/tenants/{tenant}/usage-totals",
        params={"period_start": "2026-10-01T00:00:00Z", "period_end": "2026-11-01T00:00:00Z"},
        headers=bearer("viewer", tenant),
    )
    assert r.status_code == 200, r.text
    assert r.json()[0]["quantity"] == sum(e.quantity for e in events)
