"""The event listing: filters, cursor pagination, voided events shown, bad input."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import ONE_DATABASE, PLATFORM, assert_problem, bearer, events_url, put_features, record

pytestmark = pytest.mark.anyio


def event(key: str, at: str, feature: str = "api_calls", quantity: int = 1) -> dict[str, object]:
    return {"feature_key": feature, "quantity": quantity, "idempotency_key": key, "timestamp": at}


async def page(client, tenant, **params):
    r = await client.get(events_url(tenant), params=params, headers=bearer("viewer", tenant))
    assert r.status_code == 200, r.text
    return r.json()


async def test_pages_cover_every_event_once_in_order(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls", "llm_tokens")
    stamps = [f"2026-11-0{d}T10:00:00Z" for d in range(1, 6)]
    await record(
        client,
        tenant,
        *(event(f"k{i}", at) for i, at in enumerate(stamps)),
        event("same-time", stamps[2], "llm_tokens"),
    )
    seen, cursor = [], None
    while True:
        body = await page(client, tenant, limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [item["idempotency_key"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ["k0", "k1", "k2", "same-time", "k3", "k4"]


async def test_filters_and_voided_events(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls", "llm_tokens")
    await record(
        client,
        tenant,
        event("a", "2026-11-01T10:00:00Z"),
        event("b", "2026-11-02T10:00:00Z"),
        event("c", "2026-11-02T11:00:00Z", "llm_tokens"),
    )
    r = await client.post(f"{events_url(tenant)}/b/void", json={"reason": "test data"}, headers=PLATFORM)
    assert r.status_code == 200
    body = await page(client, tenant, feature_key="api_calls", period_start="2026-11-02T00:00:00Z")
    (only,) = body["items"]
    assert only["idempotency_key"] == "b"
    assert only["voided"] is True
    assert only["void_reason"] == "test data"
    assert only["voided_at"] is not None
    assert body["next_cursor"] is None
    assert [i["idempotency_key"] for i in (await page(client, tenant, period_end="2026-11-02T10:00:00Z"))["items"]] == [
        "a"
    ]


async def test_other_tenants_events_are_not_listed(client) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    await put_features(client, "api_calls")
    await record(client, other, event("theirs", "2026-11-01T10:00:00Z"))
    assert (await page(client, tenant))["items"] == []
    r = await client.get(events_url(other), headers=bearer("viewer", tenant))
    assert_problem(r, 403)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"cursor": "not-a-cursor"}, "cursor"),
        ({"period_start": "2026-11-02T00:00:00Z", "period_end": "2026-11-01T00:00:00Z"}, "period_start"),
        ({"period_start": "0001-01-01T00:00:00+01:00"}, "period_start"),  # no such UTC instant: was a 500
        ({"period_end": "9999-12-31T23:59:59-01:00"}, "period_end"),
    ],
)
@ONE_DATABASE
async def test_bad_listing_input_is_400(client, params, field) -> None:
    tenant = uuid.uuid4()
    r = await client.get(events_url(tenant), params=params, headers=bearer("viewer", tenant))
    assert_problem(r, 400, field)


async def test_an_unknown_feature_key_is_a_400_as_for_totals(client) -> None:
    """One rule for both reads: a key the catalog does not have is a mistake to report, not an empty answer."""
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    headers = bearer("viewer", tenant)
    listing = await client.get(events_url(tenant), params={"feature_key": "api_cals"}, headers=headers)
    body = assert_problem(listing, 400, "feature_key", "api_cals")
    totals = await client.get(
        f"/api/v1/billing/tenants/{tenant}/usage-totals", params={"feature_keys": "api_cals"}, headers=headers
    )
    assert body["type"] == assert_problem(totals, 400, "api_cals")["type"] == "urn:tally:problem:unknown-feature"
    assert (await page(client, tenant, feature_key="api_calls"))["items"] == []  # a known key without events
