"""The usage page's credits: per feature the allowance left, each active grant's balance and expiry with the one
usage burns now marked, and the live reservations, read from the rendered HTML."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tally.http.auth import Role, issue_token
from tests.conftest import FEATURES_URL, PLATFORM, TEST_SECRET, record

pytestmark = pytest.mark.anyio
API = "/api/v1/billing"


async def test_the_page_shows_allowance_grants_and_holds(client) -> None:
    tenant = uuid.uuid4()
    r = await client.put(f"{FEATURES_URL}/tokens", json={"unit": "tokens"}, headers=PLATFORM)
    assert r.status_code == 201, r.text
    plan = {"name": "P", "limits": [{"feature_key": "tokens", "limit": 100, "enforcement": "reject"}]}
    assert (await client.put(f"{API}/plans/pagecredits", json=plan, headers=PLATFORM)).status_code in (200, 201)
    assert (
        await client.put(f"{API}/tenants/{tenant}/plan", json={"plan_key": "pagecredits"}, headers=PLATFORM)
    ).status_code == 200
    effective = (datetime.now(UTC) - timedelta(minutes=5)).isoformat()
    for grant_id, amount, priority in (("first", 50, 0), ("second", 70, 1)):
        body = {
            "grant_id": grant_id,
            "feature_key": "tokens",
            "amount": amount,
            "priority": priority,
            "effective_at": effective,
        }
        assert (await client.post(f"{API}/tenants/{tenant}/grants", json=body, headers=PLATFORM)).status_code == 201
    await record(client, tenant, {"feature_key": "tokens", "quantity": 120, "idempotency_key": "k"})
    hold = {"reservation_id": "render-7", "feature_key": "tokens", "quantity": 30}
    assert (await client.post(f"{API}/tenants/{tenant}/reservations", json=hold, headers=PLATFORM)).status_code == 201

    encoded = issue_token(TEST_SECRET, Role.VIEWER, tenant, subject="page", ttl=timedelta(minutes=10))
    r = await client.post("/usage/sign-in", data={"token": encoded, "tenant": ""}, follow_redirects=False)
    assert r.status_code == 303, r.text
    page = (await client.get(f"/usage/{tenant}")).text
    credits = re.search(r'<div class="credits" data-feature-credits="tokens">(.*?)</div>', page, re.S)
    assert credits is not None, page
    text = re.sub(r"\s+", " ", credits.group(1))
    assert "Allowance left this month: 0 tokens (used up: usage burns credits now)" in text
    assert '<li data-grant-id="first" class="burning">first: 30 tokens left of 50' in text
    assert '<li data-grant-id="second">second: 70 tokens left of 70, no expiry</li>' in text
    assert "Held by 1 live reservation: 30 tokens" in text
    assert "render-7: 30 tokens until" in text
