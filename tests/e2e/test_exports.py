"""CSV exports through a real server process over HTTP, on both databases: a streamed (chunked) answer holding
every event of the period across many pages, read with the generated client's own httpx client."""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from pathlib import Path

import pytest

from tally.http.auth import Role
from tally_client.api.usage import get_usage_totals, record_usage_events
from tally_client.models import IngestResult, UsageBatch, UsageEventIn
from tests.e2e.conftest import running_server
from tests.e2e.test_client import client_for

NOV = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
PERIOD = {"period_start": "2026-11-01T00:00:00Z", "period_end": "2026-12-01T00:00:00Z"}
EVENTS = 2500  # 25 pages of 100, all in November


@pytest.mark.e2e
def test_every_event_of_the_period_streams_as_csv(database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    with running_server(database, tmp_path / "server.log", TALLY_EXPORT_PAGE_SIZE="100") as base_url:
        with client_for(base_url, Role.PLATFORM) as platform:
            r = platform.get_httpx_client().put("/api/v1/billing/features/api_calls", json={"unit": "requests"})
            assert r.status_code == 201, r.text
            for start in range(0, EVENTS, 1000):
                events = [
                    UsageEventIn(
                        feature_key="api_calls",
                        quantity=i % 7,
                        idempotency_key=f"e{i:05d}",
                        timestamp=NOV + dt.timedelta(minutes=10 * i),
                    )
                    for i in range(start, min(start + 1000, EVENTS))
                ]
                result = record_usage_events.sync(tenant, client=platform, body=UsageBatch(events=events))
                assert isinstance(result, IngestResult)
                assert result.accepted == len(events)

        with client_for(base_url, Role.VIEWER, tenant) as viewer:
            http = viewer.get_httpx_client()
            url = f"/api/v1/billing/tenants/{tenant}/usage-events"
            with http.stream("GET", url, params=PERIOD, headers={"Accept": "text/csv"}) as response:
                assert response.status_code == 200
                assert response.headers["content-type"] == "text/csv; charset=utf-8; header=present"
                assert response.headers["transfer-encoding"] == "chunked"  # streamed, not built first
                assert "content-length" not in response.headers
                body = b"".join(response.iter_bytes())
            header, *rows = list(csv.reader(io.StringIO(body.decode("utf-8"), newline="")))
            assert [row[0] for row in rows] == [f"e{i:05d}" for i in range(EVENTS)]  # 10-minute steps: all in November
            assert header[:4] == ["idempotency_key", "feature_key", "quantity", "timestamp"]

            # the totals' CSV is the JSON answer's rows; the generated functions parse the JSON one
            totals = get_usage_totals.sync(
                tenant, client=viewer, period_start=NOV, period_end=dt.datetime(2026, 12, 1, tzinfo=dt.UTC)
            )
            assert isinstance(totals, list)
            answer = http.get(
                f"/api/v1/billing/tenants/{tenant}/usage-totals", params=PERIOD, headers={"Accept": "text/csv"}
            )
            assert answer.status_code == 200
            _, line = list(csv.reader(io.StringIO(answer.text, newline="")))
            assert line[:3] == ["api_calls", "requests", str(totals[0].quantity)]
            assert totals[0].quantity == sum(int(row[2]) for row in rows)

            refused = http.get(url, headers={"Accept": "application/xml"})
            assert refused.status_code == 406
            assert refused.json()["type"] == "urn:tally:problem:not-acceptable"
