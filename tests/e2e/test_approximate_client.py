"""An approximate distinct count through the generated client against a live server, on both databases: the
feature declared with ``approximate``, thousands of users recorded, totals within the documented bound and
marked approximate, a void taking a user out."""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

import pytest

from tally.http.auth import Role
from tally.metering.sketches import BOUND
from tally_client.api.catalog import put_feature
from tally_client.api.usage import get_usage_totals, record_usage_events, void_usage_event
from tally_client.models import (
    Aggregation,
    Feature,
    FeatureIn,
    IngestResult,
    UsageBatch,
    UsageEventIn,
    UsageEventInDimensions,
    UsageTotal,
    VoidIn,
)
from tally_client.models.window_size import WindowSize
from tests.e2e.conftest import running_server
from tests.e2e.test_client import client_for

NOV = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
DEC = dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
USERS = 3000


def user_event(i: int) -> UsageEventIn:
    dimensions = UsageEventInDimensions.from_dict({"user_id": f"user-{i % USERS}"})
    at = NOV + dt.timedelta(minutes=10 * i)  # 4,000 events over 28 days of November
    return UsageEventIn(feature_key="active", quantity=1, idempotency_key=f"e{i}", timestamp=at, dimensions=dimensions)


@pytest.mark.e2e
def test_an_approximate_distinct_count_through_the_client(database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    with running_server(database, tmp_path / "server.log") as base, client_for(base, Role.PLATFORM) as platform:
        body = FeatureIn(
            unit="users",
            aggregation=Aggregation.UNIQUE_COUNT,
            unique_by="user_id",
            dimensions=["user_id"],
            approximate=True,
        )
        created = put_feature.sync("active", client=platform, body=body)
        assert isinstance(created, Feature)
        assert created.approximate is True
        events = [user_event(i) for i in range(4000)]
        for first in range(0, len(events), 1000):
            batch = UsageBatch(events=events[first : first + 1000])
            recorded = record_usage_events.sync(tenant, client=platform, body=batch)
            assert isinstance(recorded, IngestResult), recorded
            assert recorded.accepted == 1000

        (month,) = get_usage_totals.sync(tenant, client=platform, period_start=NOV, period_end=DEC) or []
        assert isinstance(month, UsageTotal)
        assert month.approximate is True
        assert abs(month.quantity - USERS) <= BOUND * USERS, month.quantity

        days = get_usage_totals.sync(
            tenant, client=platform, period_start=NOV, period_end=DEC, window_size=WindowSize.DAY
        )
        assert isinstance(days, list)
        assert len(days) == 30
        assert all(day.approximate is True for day in days)
        # 144 events a day, each of another user (a user's events are 3,000 x 10 minutes apart).
        assert all(abs(day.quantity - 144) <= BOUND * 144 for day in days[:27]), [d.quantity for d in days]

        # A user with a single event in a small window: voiding it takes the user out of that window.
        start = NOV + dt.timedelta(minutes=10 * 3999)
        window = {"period_start": start, "period_end": start + dt.timedelta(minutes=1)}
        assert [t.quantity for t in get_usage_totals.sync(tenant, client=platform, **window) or []] == [1]
        void_usage_event.sync(tenant, "e3999", client=platform, body=VoidIn(reason="test"))
        assert [t.quantity for t in get_usage_totals.sync(tenant, client=platform, **window) or []] == [0]
