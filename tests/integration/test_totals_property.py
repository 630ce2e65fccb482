"""Property: for any events and any window, the API's totals equal a plain sum over the distinct events in it."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta, timezone
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tally.domain.keys import MAX_QUANTITY
from tests.conftest import post_events, put_features, quantities

pytestmark = pytest.mark.anyio

FEATURES = ("alpha", "beta", "gamma")
ORIGIN = datetime(2025, 3, 30, tzinfo=UTC)  # spans the end of March: windows may cross a month boundary
SPAN = timedelta(days=4)


def instants() -> st.SearchStrategy[datetime]:
    micros = int(SPAN / timedelta(microseconds=1))
    return st.integers(0, micros).map(lambda us: ORIGIN + timedelta(microseconds=us))


offsets = st.integers(-12 * 4, 14 * 4).map(lambda quarters: timezone(timedelta(minutes=15 * quarters)))
quantities_ = st.one_of(st.integers(0, 1_000), st.integers(0, MAX_QUANTITY))


class Scenario(NamedTuple):
    events: list[dict[str, object]]
    resent: list[int]
    """Indexes of events sent a second time."""
    start: datetime
    end: datetime


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Drawn in one go: an async test must not draw interactively (hypothesis' StopTest would kill anyio's runner)."""
    event = st.fixed_dictionaries(
        {"feature_key": st.sampled_from(FEATURES), "quantity": quantities_, "timestamp": instants(), "offset": offsets}
    )
    events = draw(st.lists(event, min_size=1, max_size=40))
    resent = draw(st.lists(st.integers(0, len(events) - 1), max_size=10))
    # Bounds are often event timestamps themselves, so the half-open edges are exercised.
    bound = st.one_of(instants(), st.sampled_from([e["timestamp"] for e in events]))
    start, end = sorted(draw(st.lists(bound, min_size=2, max_size=2, unique=True)))
    return Scenario(events, resent, start, end)


def serialise(index: int, event: dict[str, object]) -> dict[str, object]:
    """The event as a caller sends it: its timestamp written in the drawn UTC offset."""
    timestamp = event["timestamp"]
    assert isinstance(timestamp, datetime)
    return {
        "feature_key": event["feature_key"],
        "quantity": event["quantity"],
        "idempotency_key": f"evt-{index}",
        "timestamp": timestamp.astimezone(event["offset"]).isoformat(),  # type: ignore[arg-type]
    }


@settings(max_examples=25, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
async def test_totals_equal_a_plain_sum(client, scenario: Scenario) -> None:
    tenant = uuid.uuid4()  # the database is not cleared between examples
    await put_features(client, *FEATURES)
    sent = [serialise(i, e) for i, e in enumerate(scenario.events)]

    response = await post_events(client, tenant, sent)
    assert response.status_code == 200, response.text
    assert response.json() == {"accepted": len(sent), "duplicates": 0}

    if scenario.resent:
        response = await post_events(client, tenant, [sent[i] for i in scenario.resent])
        assert response.status_code == 200, response.text
        assert response.json() == {"accepted": 0, "duplicates": len(scenario.resent)}

    expected = dict.fromkeys(FEATURES, 0)
    for event in scenario.events:
        if scenario.start <= event["timestamp"] < scenario.end:  # type: ignore[operator]
            expected[str(event["feature_key"])] += int(event["quantity"])  # type: ignore[call-overload]

    window = {"period_start": scenario.start.isoformat(), "period_end": scenario.end.isoformat()}
    assert await quantities(client, tenant, **window) == expected
