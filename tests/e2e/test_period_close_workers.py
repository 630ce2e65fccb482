"""The background close with two serving processes on one PostgreSQL database, through the generated client: both
look for periods whose grace has passed every 0.2 s, and each period is recorded once, with one ``period.closed``
message."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from pathlib import Path

import pytest

from tally.http.auth import Role
from tally.metering.periods import month_start
from tally_client.api.catalog import put_feature
from tally_client.api.periods import list_billing_periods
from tally_client.api.plans import put_plan, put_tenant_plan
from tally_client.api.usage import get_usage_totals, record_usage_events
from tally_client.api.webhooks import create_webhook_endpoint, list_webhook_deliveries
from tally_client.models import (
    BillingPeriodPage,
    FeatureIn,
    PeriodState,
    PlanAssignmentIn,
    PlanIn,
    UsageBatch,
    WebhookDeliveryPage,
    WebhookEndpointIn,
    WebhookEventType,
    WindowSize,
)
from tests.conftest import MULTI_PROCESS
from tests.e2e.conftest import running_server
from tests.e2e.test_client import client_for, event

pytestmark = [pytest.mark.e2e, MULTI_PROCESS]  # two servers at once (see tests/conftest.py)

WAIT_SECONDS = 60  # a bound on waiting for the background close, not a measurement
THIS_MONTH = month_start(dt.datetime.now(dt.UTC))
LAST_MONTH = month_start(THIS_MONTH - dt.timedelta(days=1))
BEFORE_LAST = month_start(LAST_MONTH - dt.timedelta(days=1))
CLOSING = {
    "TALLY_PERIOD_CLOSE_POLL_SECONDS": "0.2",
    "TALLY_WEBHOOK_DELIVERY_ENABLED": "false",  # the messages stay in the outbox, counted there
    "TALLY_WEBHOOK_ALLOW_PRIVATE": "true",
}


def test_two_processes_close_a_period_once(postgres_database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    with (
        running_server(postgres_database, tmp_path / "one.log", **CLOSING) as one,
        running_server(postgres_database, tmp_path / "two.log", **CLOSING) as two,
        client_for(one, Role.PLATFORM) as platform,
        client_for(two, Role.PLATFORM) as other,
    ):
        put_feature.sync("api_calls", client=platform, body=FeatureIn(unit="requests"))
        hook = WebhookEndpointIn(url="http://127.0.0.1:9/hook", events=[WebhookEventType.PERIOD_CLOSED])
        assert create_webhook_endpoint.sync_detailed(client=platform, body=hook).status_code == 201
        put_plan.sync("pro", client=platform, body=PlanIn(name="Pro", grace_period="P90D"))
        put_tenant_plan.sync(tenant, client=platform, body=PlanAssignmentIn(plan_key="pro"))
        before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
        batch = UsageBatch(events=[event("a", 3, BEFORE_LAST), event("b", 4, LAST_MONTH + dt.timedelta(hours=5))])
        assert record_usage_events.sync_detailed(tenant, client=platform, body=batch).status_code == 200
        # Both months are past a one-hour grace: both processes find them due at once.
        put_tenant_plan.sync(tenant, client=platform, body=PlanAssignmentIn(plan_key="pro", grace_period="PT1H"))

        deadline = time.monotonic() + WAIT_SECONDS
        while True:
            page = list_webhook_deliveries.sync(client=other)
            assert isinstance(page, WebhookDeliveryPage)
            if len(page.items) >= 2 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        time.sleep(1)  # five more rounds of each process: none may record the periods again
        page = list_webhook_deliveries.sync(client=other)
        assert isinstance(page, WebhookDeliveryPage)
        assert [d.event_type for d in page.items] == [WebhookEventType.PERIOD_CLOSED] * 2

        periods = list_billing_periods.sync(tenant, client=other)
        assert isinstance(periods, BillingPeriodPage)
        closed = [(p.period_start, p.state, [t.quantity for t in p.totals or []]) for p in periods.items[1:]]
        assert closed == [(LAST_MONTH, PeriodState.CLOSED, [4]), (BEFORE_LAST, PeriodState.CLOSED, [3])]

        # The totals as known before the events were recorded, and the final figures now.
        window = {"period_start": BEFORE_LAST, "period_end": THIS_MONTH, "window_size": WindowSize.MONTH}
        then = get_usage_totals.sync(tenant, client=other, as_of=before, **window)
        assert isinstance(then, list)
        assert [(t.quantity, t.final) for t in then] == [(0, False), (0, False)]
        now = get_usage_totals.sync(tenant, client=other, **window)
        assert isinstance(now, list)
        assert [(t.quantity, t.final) for t in now] == [(3, True), (4, True)]
