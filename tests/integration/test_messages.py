"""Every message a person reads says what to do next, in the answer's own terms: media types by name, a batch
too large with a hint to split it, the future in words, an enum's values, instants with Z, and a JSON body
under another Content-Type refused (415) rather than read."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from tally.domain.usage import MAX_BATCH
from tests.conftest import PLATFORM, assert_problem, events_url, post_events, put_features, record, totals_url

pytestmark = pytest.mark.anyio


def event(key: str, at: str = "2026-11-02T10:00:00Z", quantity: int = 1) -> dict[str, object]:
    return {"feature_key": "api_calls", "quantity": quantity, "idempotency_key": key, "timestamp": at}


async def test_an_accept_header_of_neither_kind_names_both_by_their_media_types(client) -> None:
    response = await client.get(totals_url(uuid.uuid4()), headers={**PLATFORM, "Accept": "application/xml"})
    body = assert_problem(response, 406, "Accept", "application/json", "text/csv")
    assert "MediaType" not in str(body["detail"])


async def test_a_batch_over_the_bound_says_to_split_it(client) -> None:
    await put_features(client, "api_calls")
    batch = [event(f"e{i}") for i in range(MAX_BATCH + 1)]
    body = assert_problem(await post_events(client, uuid.uuid4(), batch), 400, "events")
    assert body["errors"] == [
        {
            "field": "events",
            "message": f"has {MAX_BATCH + 1} items, at most 1000 are taken: split it into requests of at most 1000",
        }
    ]


async def test_a_future_timestamp_is_told_in_words_against_the_servers_clock(client) -> None:
    await put_features(client, "api_calls")
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    body = assert_problem(await post_events(client, uuid.uuid4(), [event("f", later)]), 400, "events[0].timestamp")
    assert "is more than 5 minutes ahead of the server's clock" in str(body["detail"])
    assert "leave timestamp out" in str(body["detail"])
    assert "0:05:00" not in str(body["detail"])


async def test_an_unknown_window_size_lists_the_allowed_ones(client) -> None:
    response = await client.get(totals_url(uuid.uuid4()), params={"window_size": "week"}, headers=PLATFORM)
    assert_problem(response, 400, "window_size", "'week' is not one of hour, day, month")


async def test_a_limit_refusal_shows_its_period_with_z(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    limit = {"feature_key": "api_calls", "limit": 1, "enforcement": "reject"}
    assert (
        await client.put("/api/v1/billing/plans/tiny", json={"name": "T", "limits": [limit]}, headers=PLATFORM)
    ).status_code == 201
    assert (
        await client.put(f"/api/v1/billing/tenants/{tenant}/plan", json={"plan_key": "tiny"}, headers=PLATFORM)
    ).status_code == 200
    now = datetime.now(UTC).isoformat()
    body = assert_problem(await post_events(client, tenant, [event("a", now, 2)]), 409, "events[0]")
    assert "+00:00" not in str(body["detail"])
    assert "Z to " in str(body["detail"])


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
async def test_a_json_body_under_another_content_type_is_refused(client, content_type: str | None) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    headers = {**PLATFORM, **({"Content-Type": content_type} if content_type else {})}
    body = b'{"events": [{"feature_key": "api_calls", "quantity": 1, "idempotency_key": "k"}]}'
    response = await client.post(events_url(tenant), content=body, headers=headers)
    assert_problem(response, 415, "Content-Type", "application/json")
    listed = await client.get(events_url(tenant), headers=PLATFORM)
    assert listed.json()["items"] == []
    vendor = await client.post(
        events_url(tenant), content=body, headers={**PLATFORM, "Content-Type": "application/vnd.tally+json"}
    )
    assert vendor.status_code == 200, vendor.text
    assert await record(client, tenant, event("k2")) == {"accepted": 1, "duplicates": 0}
