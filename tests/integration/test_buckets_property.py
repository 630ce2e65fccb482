"""Pre-aggregated totals equal a plain sum over raw events, for events and windows on and around bucket
edges, late events, and re-sent duplicates: on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import PLATFORM, bearer

pytestmark = pytest.mark.anyio

BASE = datetime(2026, 9, 1, tzinfo=UTC)
QUARTER = timedelta(minutes=15)
FEATURES = ("api_calls", "llm_tokens")

# Instants near bucket edges: k quarters from BASE, nudged by nothing, a microsecond either way, or a bit.
NUDGES = [timedelta(0), timedelta(microseconds=1), -timedelta(microseconds=1), timedelta(minutes=7, seconds=30)]
instants = st.builds(
    lambda k, nudge: BASE + k * QUARTER + nudge,
    st.integers(min_value=0, max_value=4 * 24 * 3),  # three days of quarters
    st.sampled_from(NUDGES),
)
events = st.lists(
    st.tuples(st.sampled_from(FEATURES), st.integers(min_value=0, max_value=10**12), instants),
    min_size=1,
    max_size=60,
)


def plain_sum(recorded: list[tuple[str, int, datetime]], feature: str, start: datetime, end: datetime) -> int:
    return sum(q for f, q, at in recorded if f == feature and start <= at < end)


@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    recorded=events,
    windows=st.lists(st.tuples(instants, instants), min_size=1, max_size=4),
    split=st.integers(min_value=1, max_value=5),
    resend=st.booleans(),
)
async def test_bucketed_totals_equal_the_raw_sum(client, recorded, windows, split, resend) -> None:
    tenant = uuid.uuid4()
    for feature in FEATURES:
        await client.put(f"/api/v1/billing/features/{feature}", json={"unit": "units"}, headers=PLATFORM)
    body = [
        {"feature_key": f, "quantity": q, "timestamp": at.isoformat(), "idempotency_key": f"k{i}"}
        for i, (f, q, at) in enumerate(recorded)
    ]
    # Later batches carry earlier timestamps (late events), and a re-send repeats everything.
    batches = [body[i::split] for i in range(split)][::-1] + ([body] if resend else [])
    for batch in batches:
        if batch:
            r = await client.post(
                f"/api/v1/billing/tenants/{tenant}/usage-events", json={"events": batch}, headers=PLATFORM
            )
            assert r.status_code == 200, r.text

    for a, b in windows:
        start, end = min(a, b), max(a, b)
        if start == end:
            end = start + timedelta(microseconds=1)
        r = await client.get(
            f"/api/v1/billing/tenants/{tenant}/usage-totals",
            params={"period_start": start.isoformat(), "period_end": end.isoformat()},
            headers=bearer("viewer", tenant),
        )
        assert r.status_code == 200, r.text
        got = {row["feature_key"]: row["quantity"] for row in r.json()}
        assert got == {f: plain_sum(recorded, f, start, end) for f in FEATURES}
