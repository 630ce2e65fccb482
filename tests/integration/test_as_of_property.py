"""Property: totals ``as_of`` an instant equal a plain model of what was known then: the events recorded at or
before it and not voided by then, on both databases. Events are recorded and voided through the service with
chosen instants (the HTTP routes take the server's clock); the totals are read through the API."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import async_sessionmaker

from tally.db.engine import create_engine
from tally.domain.usage import UsageBatch, UsageEventIn
from tally.metering.periods import rfc3339
from tally.usage.recording import UsageRecorder
from tests.conftest import FEATURES_URL, PLATFORM, bearer, totals_url

pytestmark = pytest.mark.anyio

NOV = datetime(2026, 11, 1, tzinfo=UTC)
DEC = datetime(2026, 12, 1, tzinfo=UTC)
STEP = timedelta(minutes=1)
STEPS = 12
FEATURES = {"alpha": "sum", "beta": "max"}


class Event(NamedTuple):
    feature_key: str
    quantity: int
    timestamp: datetime
    recorded_step: int
    voided_step: int | None


class Scenario(NamedTuple):
    events: list[Event]
    as_of: list[datetime]


def instant(step: int) -> datetime:
    return DEC + step * STEP


@st.composite
def scenarios(draw: st.DrawFn) -> Scenario:
    """Drawn in one go (an async test must not draw interactively). Events are recorded at even steps, voids come
    at odd steps after their event; ``as_of`` instants are often a step's own instant, give or take 1 µs."""
    events = []
    for _ in range(draw(st.integers(1, 15))):
        recorded = 2 * draw(st.integers(0, STEPS // 2 - 1))
        delay = draw(st.one_of(st.none(), st.integers(0, 2)))
        events.append(
            Event(
                draw(st.sampled_from(sorted(FEATURES))),
                draw(st.integers(0, 1000)),
                NOV + timedelta(minutes=draw(st.integers(0, 30 * 24 * 60 - 1))),
                recorded,
                None if delay is None else recorded + 1 + 2 * delay,
            )
        )
    near = st.tuples(st.integers(-1, STEPS + 2), st.sampled_from([-1, 0, 0, 1]))
    as_of = [instant(step) + timedelta(microseconds=us) for step, us in draw(st.lists(near, min_size=1, max_size=5))]
    return Scenario(events, as_of)


def known(events: list[Event], at: datetime, feature_key: str) -> int:
    """The plain model: recorded at or before ``at``, not voided at or before it."""
    quantities = [
        e.quantity
        for e in events
        if e.feature_key == feature_key
        and instant(e.recorded_step) <= at
        and (e.voided_step is None or instant(e.voided_step) > at)
    ]
    return sum(quantities) if FEATURES[feature_key] == "sum" else max(quantities, default=0)


@pytest.fixture
async def sessions(database_url: str):
    engine = create_engine(database_url)
    yield async_sessionmaker(engine, expire_on_commit=False)
    await engine.dispose()


@settings(max_examples=20, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(scenario=scenarios())
async def test_as_of_answers_what_was_known_then(client, sessions, scenario: Scenario) -> None:
    tenant = uuid.uuid4()  # the database is not cleared between examples
    for key, aggregation in FEATURES.items():
        r = await client.put(f"{FEATURES_URL}/{key}", json={"unit": "u", "aggregation": aggregation}, headers=PLATFORM)
        assert r.status_code in (200, 201), r.text
    keyed = {f"e{i}": e for i, e in enumerate(scenario.events)}
    for step in range(STEPS + 2):
        batch = [
            UsageEventIn(feature_key=e.feature_key, quantity=e.quantity, idempotency_key=key, timestamp=e.timestamp)
            for key, e in keyed.items()
            if e.recorded_step == step
        ]
        # A session per use case, as each request has its own: a write begins its transaction on a fresh one.
        if batch:
            async with sessions() as session:
                await UsageRecorder(session).record(tenant, UsageBatch(events=batch), received_at=instant(step))
        for key, e in keyed.items():
            if e.voided_step == step:
                async with sessions() as session:
                    await UsageRecorder(session).void(tenant, key, "wrong", by="test", now=instant(step))

    for at in scenario.as_of:
        params = {"period_start": rfc3339(NOV), "period_end": rfc3339(DEC), "as_of": rfc3339(at)}
        r = await client.get(totals_url(tenant), params=params, headers=bearer("viewer", tenant))
        assert r.status_code == 200, r.text
        assert {t["feature_key"]: t["quantity"] for t in r.json()} == {
            key: known(scenario.events, at, key) for key in FEATURES
        }, at
        # Per day too: several windows, each from the raw events as known then.
        r = await client.get(totals_url(tenant), params={**params, "window_size": "day"}, headers=PLATFORM)
        assert r.status_code == 200, r.text
        daily: dict[str, list[int]] = {key: [] for key in FEATURES}
        for t in r.json():
            daily[t["feature_key"]].append(t["quantity"])
        assert sum(daily["alpha"]) == known(scenario.events, at, "alpha")
        assert max(daily["beta"]) == known(scenario.events, at, "beta")
