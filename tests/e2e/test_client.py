"""The generated client against a live server: what a downstream service does, sync and async."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tally.http.auth import Role, issue_token
from tally_client import AuthenticatedClient
from tally_client.api.catalog import list_features, put_feature
from tally_client.api.health import health_ready
from tally_client.api.usage import get_usage_totals, record_usage_events
from tally_client.models import (
    Feature,
    FeatureIn,
    IngestResult,
    Problem,
    UsageBatch,
    UsageEventIn,
    UsageEventInDimensions,
    UsageTotal,
)
from tests.conftest import TEST_SECRET
from tests.e2e.conftest import running_server

ROOT = Path(__file__).resolve().parents[2]
OCT = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)
NOV = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)


def client_for(base_url: str, role: Role, tenant: uuid.UUID | None = None, secret: str = TEST_SECRET):
    return AuthenticatedClient(base_url=base_url, token=issue_token(secret, role, tenant, subject="e2e"))


def event(key: str, quantity: int, at: dt.datetime, feature: str = "api_calls") -> UsageEventIn:
    return UsageEventIn(feature_key=feature, quantity=quantity, idempotency_key=key, timestamp=at)


@pytest.mark.e2e
def test_downstream_service_flow_sync(sqlite_server: str) -> None:
    tenant, other = uuid.uuid4(), uuid.uuid4()
    with client_for(sqlite_server, Role.PLATFORM) as platform:
        created = put_feature.sync_detailed("api_calls", client=platform, body=FeatureIn(unit="requests"))
        assert created.status_code == 201
        assert isinstance(created.parsed, Feature)
        assert created.parsed.unit == "requests"
        again = put_feature.sync_detailed("api_calls", client=platform, body=FeatureIn(unit="calls"))
        assert again.status_code == 200
        put_feature.sync("llm_tokens", client=platform, body=FeatureIn(unit="tokens"))
        assert [f.feature_key for f in list_features.sync(client=platform) or []] == ["api_calls", "llm_tokens"]

    batch = UsageBatch(events=[event("a", 3, OCT), event("b", 4, OCT + dt.timedelta(days=3)), event("c", 5, NOV)])
    with client_for(sqlite_server, Role.ADMIN, tenant) as admin:
        first = record_usage_events.sync(tenant, client=admin, body=batch)
        assert isinstance(first, IngestResult)
        assert (first.accepted, first.duplicates) == (3, 0)
        resent = record_usage_events.sync(tenant, client=admin, body=batch)
        assert isinstance(resent, IngestResult)
        assert (resent.accepted, resent.duplicates) == (0, 3)

        conflict = record_usage_events.sync_detailed(
            tenant, client=admin, body=UsageBatch(events=[event("a", 99, OCT), event("d", 1, OCT)])
        )
        assert conflict.status_code == 409
        assert isinstance(conflict.parsed, Problem)
        assert "events[0].idempotency_key" in conflict.parsed.detail

        totals = get_usage_totals.sync(tenant, client=admin, period_start=OCT, period_end=NOV)
        assert isinstance(totals, list)
        assert all(isinstance(t, UsageTotal) for t in totals)
        by_key = {t.feature_key: t for t in totals}
        assert by_key["api_calls"].quantity == 7  # a + b; c is in November; d was refused with the batch
        assert by_key["api_calls"].unit == "calls"
        assert by_key["llm_tokens"].quantity == 0
        assert by_key["api_calls"].window_start == OCT
        assert by_key["api_calls"].window_end == NOV

        only = get_usage_totals.sync(tenant, client=admin, feature_keys=["api_calls"], period_start=NOV)
        assert isinstance(only, list)
        assert [(t.feature_key, t.quantity) for t in only] == [("api_calls", 5)]

        bad_period = get_usage_totals.sync_detailed(tenant, client=admin, period_start=NOV, period_end=OCT)
        assert bad_period.status_code == 400
        assert isinstance(bad_period.parsed, Problem)
        assert "period_start" in bad_period.parsed.detail

        forbidden = get_usage_totals.sync_detailed(other, client=admin)
        assert forbidden.status_code == 403
        assert isinstance(forbidden.parsed, Problem)

    with client_for(sqlite_server, Role.ADMIN, tenant, secret="another-secret-of-sufficient-length!") as forged:
        unauthorized = get_usage_totals.sync_detailed(tenant, client=forged)
        assert unauthorized.status_code == 401
        assert isinstance(unauthorized.parsed, Problem)
        assert unauthorized.headers["www-authenticate"].startswith("Bearer")


@pytest.mark.e2e
@pytest.mark.anyio
async def test_downstream_service_flow_async(sqlite_server: str) -> None:
    tenant = uuid.uuid4()
    async with client_for(sqlite_server, Role.PLATFORM) as platform:
        await put_feature.asyncio("api_calls", client=platform, body=FeatureIn(unit="requests"))
    async with client_for(sqlite_server, Role.OWNER, tenant) as owner:
        events = [event(f"k{i}", i, OCT + dt.timedelta(hours=i)) for i in range(1, 51)]
        result = await record_usage_events.asyncio(tenant, client=owner, body=UsageBatch(events=events))
        assert isinstance(result, IngestResult)
        assert result.accepted == 50
    async with client_for(sqlite_server, Role.VIEWER, tenant) as viewer:
        totals = await get_usage_totals.asyncio(tenant, client=viewer, period_start=OCT, period_end=NOV)
        assert isinstance(totals, list)
        assert totals[0].quantity == sum(range(1, 51))
        denied = await record_usage_events.asyncio_detailed(tenant, client=viewer, body=UsageBatch(events=events))
        assert denied.status_code == 403
        assert isinstance(denied.parsed, Problem)
        ready = await health_ready.asyncio_detailed(client=viewer)
        assert ready.status_code == 200


@pytest.mark.e2e
def test_served_spec_is_the_committed_one(sqlite_server: str) -> None:
    served = httpx.get(f"{sqlite_server}/schema/openapi.json").json()
    assert served == json.loads((ROOT / "openapi.json").read_text())


@pytest.mark.e2e
def test_windows_voids_and_listing_through_the_client(sqlite_server: str) -> None:
    from tally_client.api.usage import list_usage_events, void_usage_event
    from tally_client.models import Aggregation, UsageEvent, UsageEventPage, VoidIn, WindowSize

    tenant = uuid.uuid4()
    with client_for(sqlite_server, Role.PLATFORM) as platform:
        put_feature.sync("peak_gb", client=platform, body=FeatureIn(unit="GB", aggregation=Aggregation.MAX))
        day = dt.datetime(2026, 10, 5, 12, tzinfo=dt.UTC)
        batch = UsageBatch(events=[event("a", 3, day, "peak_gb"), event("b", 9, day + dt.timedelta(days=1), "peak_gb")])
        assert isinstance(record_usage_events.sync(tenant, client=platform, body=batch), IngestResult)

        daily = get_usage_totals.sync(
            tenant,
            client=platform,
            window_size=WindowSize.DAY,
            timezone="Europe/Berlin",
            period_start=dt.datetime(2026, 10, 5, tzinfo=ZoneInfo("Europe/Berlin")),
            period_end=dt.datetime(2026, 10, 8, tzinfo=ZoneInfo("Europe/Berlin")),
        )
        assert isinstance(daily, list)
        assert [t.quantity for t in daily] == [3, 9, 0]

        voided = void_usage_event.sync(tenant, "b", client=platform, body=VoidIn(reason="meter glitch"))
        assert isinstance(voided, UsageEvent)
        assert voided.voided
        missing = void_usage_event.sync_detailed(tenant, "nope", client=platform, body=VoidIn(reason="x"))
        assert missing.status_code == 404
        assert isinstance(missing.parsed, Problem)

        page = list_usage_events.sync(tenant, client=platform, limit=1)
        assert isinstance(page, UsageEventPage)
        assert [e.idempotency_key for e in page.items] == ["a"]
        assert isinstance(page.next_cursor, str)
        rest = list_usage_events.sync(tenant, client=platform, cursor=page.next_cursor)
        assert isinstance(rest, UsageEventPage)
        assert [(e.idempotency_key, e.voided, e.void_reason) for e in rest.items] == [("b", True, "meter glitch")]
        assert rest.next_cursor is None


@pytest.mark.e2e
def test_dimensions_through_the_client(postgres_database: str, tmp_path: Path) -> None:
    """Declare dimensions, record events with them, read totals grouped and filtered: typed all the way."""
    tenant = uuid.uuid4()
    with (
        running_server(postgres_database, tmp_path / "server.log") as base,
        client_for(base, Role.PLATFORM) as platform,
    ):
        feature = put_feature.sync(
            "llm_tokens", client=platform, body=FeatureIn(unit="tokens", dimensions=["model", "region"])
        )
        assert isinstance(feature, Feature)
        assert feature.dimensions == ["model", "region"]

        def tokens(key: str, quantity: int, **dimensions: str) -> UsageEventIn:
            return UsageEventIn(
                feature_key="llm_tokens",
                quantity=quantity,
                idempotency_key=key,
                timestamp=OCT,
                dimensions=UsageEventInDimensions.from_dict(dimensions),
            )

        with client_for(base, Role.ADMIN, tenant) as admin:
            batch = UsageBatch(
                events=[tokens("a", 5, model="gpt", region="eu"), tokens("b", 7, model="llama"), tokens("c", 1)]
            )
            result = record_usage_events.sync(tenant, client=admin, body=batch)
            assert isinstance(result, IngestResult)
            assert result.accepted == 3

            changed = UsageBatch(events=[tokens("a", 5, model="gpt", region="us")])
            conflict = record_usage_events.sync_detailed(tenant, client=admin, body=changed)
            assert conflict.status_code == 409
            assert isinstance(conflict.parsed, Problem)

            undeclared = record_usage_events.sync(
                tenant, client=admin, body=UsageBatch(events=[tokens("d", 1, colour="red")])
            )
            assert isinstance(undeclared, Problem)
            assert undeclared.status == 400
            assert "events[0].dimensions.colour" in undeclared.detail

            grouped = get_usage_totals.sync(tenant, client=admin, period_start=OCT, period_end=NOV, group_by=["model"])
            assert isinstance(grouped, list)
            assert [(t.dimensions.additional_properties, t.quantity) for t in grouped] == [
                ({"model": None}, 1),
                ({"model": "gpt"}, 5),
                ({"model": "llama"}, 7),
            ]
            filtered = get_usage_totals.sync(
                tenant, client=admin, period_start=OCT, period_end=NOV, filter_=["region=eu", "model=llama"]
            )
            assert isinstance(filtered, list)
            assert [(t.dimensions.additional_properties, t.quantity) for t in filtered] == [({}, 0)]
            bad = get_usage_totals.sync(tenant, client=admin, period_start=OCT, period_end=NOV, group_by=["colour"])
            assert isinstance(bad, Problem)
            assert bad.status == 400


@pytest.mark.e2e
def test_a_naive_datetime_is_refused_before_anything_is_sent_and_an_aware_one_works(sqlite_server: str) -> None:
    """A client on local time would otherwise move usage by hours: the generated client raises, naming the field and
    saying to add a zone, before a request leaves (the httpx hook sees every request the client sends)."""
    tenant = uuid.uuid4()
    sent: list[httpx.Request] = []
    with client_for(sqlite_server, Role.PLATFORM) as platform:
        put_feature.sync("api_calls", client=platform, body=FeatureIn(unit="requests"))
    token = issue_token(TEST_SECRET, Role.ADMIN, tenant, subject="e2e")
    hooks = {"event_hooks": {"request": [sent.append]}}
    with AuthenticatedClient(base_url=sqlite_server, token=token, httpx_args=hooks) as admin:
        naive = dt.datetime(2026, 10, 5, 10, 0)
        with pytest.raises(ValueError, match=r"^timestamp: a datetime without a time zone is refused.*tzinfo="):
            record_usage_events.sync_detailed(tenant, client=admin, body=UsageBatch(events=[event("n", 1, naive)]))
        with pytest.raises(ValueError, match=r"^period_start: a datetime without a time zone"):
            get_usage_totals.sync_detailed(tenant, client=admin, period_start=naive, period_end=NOV)
        assert sent == []

        aware = naive.replace(tzinfo=ZoneInfo("America/New_York"))  # 14:00 UTC
        stored = record_usage_events.sync(tenant, client=admin, body=UsageBatch(events=[event("a", 2, aware)]))
        assert isinstance(stored, IngestResult)
        assert stored.accepted == 1
        totals = get_usage_totals.sync(tenant, client=admin, period_start=aware, period_end=NOV)
        assert isinstance(totals, list)
        assert [t.quantity for t in totals if t.feature_key == "api_calls"] == [2]
        assert len(sent) == 2
