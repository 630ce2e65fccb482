"""A datetime without a UTC offset names no instant: every datetime a caller sends is refused with a 400 naming
the field and saying how to fix it (append Z for UTC), never read as UTC. Nothing of a refused batch is stored."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import PLATFORM, assert_problem, events_url, post_events, put_features, totals_url

pytestmark = pytest.mark.anyio
FIX = "append Z for UTC"


async def test_an_event_without_an_offset_is_refused_whole(client) -> None:
    tenant = uuid.uuid4()
    await put_features(client, "api_calls")
    batch = [
        {"feature_key": "api_calls", "quantity": 1, "idempotency_key": "ok", "timestamp": "2026-12-05T10:00:00Z"},
        {"feature_key": "api_calls", "quantity": 2, "idempotency_key": "local", "timestamp": "2026-12-05T10:00:00"},
    ]
    body = assert_problem(await post_events(client, tenant, batch), 400, "events[1].timestamp", FIX)
    assert body["errors"] == [
        {
            "field": "events[1].timestamp",
            "message": "'2026-12-05T10:00:00' has no UTC offset, so it names no instant: append Z for UTC "
            "(2026-12-05T10:00:00Z) or the offset it is in",
        }
    ]
    listed = await client.get(events_url(tenant), headers=PLATFORM)
    assert listed.json()["items"] == []  # the good event of the batch was not stored either
    batch[1]["timestamp"] = "2026-12-05T10:00:00+01:00"
    assert (await post_events(client, tenant, batch)).json() == {"accepted": 2, "duplicates": 0}


@pytest.mark.parametrize("url", [totals_url, events_url])
@pytest.mark.parametrize("bound", ["period_start", "period_end"])
@pytest.mark.parametrize("accept", ["application/json", "text/csv"])
async def test_a_query_bound_without_an_offset_is_refused(client, url, bound: str, accept: str) -> None:
    await put_features(client, "api_calls")
    params = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
    params[bound] = "2026-11-15T00:00:00"
    response = await client.get(url(uuid.uuid4()), params=params, headers={**PLATFORM, "Accept": accept})
    assert_problem(response, 400, bound, FIX)
