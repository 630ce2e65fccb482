"""Sample catalog, plan and usage for ``tally serve --demo``: a few weeks of usage for one demo tenant."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker

from tally.catalog_file import load_catalog
from tally.domain.catalog import Aggregation, Feature
from tally.domain.plans import Limit, LimitPeriod, Plan, PlanAssignmentIn
from tally.domain.usage import MAX_BATCH, UsageBatch, UsageEventIn
from tally.plans.service import PlanService
from tally.usage.recording import UsageRecorder

DEMO_TENANT = UUID("00000000-0000-4000-8000-000000000001")

CATALOG = [
    Feature(
        feature_key="api_calls",
        unit="requests",
        aggregation=Aggregation.SUM,
        description="HTTP API requests",
        dimensions=[],
    ),
    Feature(
        feature_key="llm_tokens",
        unit="tokens",
        aggregation=Aggregation.SUM,
        description="Model tokens processed",
        dimensions=["model", "region"],
    ),
    Feature(
        feature_key="storage_gb_hours",
        unit="GB-hours",
        aggregation=Aggregation.SUM,
        description="Storage held",
        dimensions=[],
    ),
]
# About 6,600 API calls a day (see sample_events): a month comes to about 200,000, a little over this limit, so
# the usage page's estimate shows it being reached. Reported only (enforcement none): the sample usage stays whole.
DEMO_PLAN = Plan(
    plan_key="starter",
    name="Starter",
    limits=[Limit(feature_key="api_calls", limit=190_000, period=LimitPeriod.MONTH, notify_at_percent=[80, 100])],
)
MODELS = {"gpt-4o": (1_000, 60_000), "claude-sonnet": (500, 30_000), "llama-3": (0, 9_000)}


def sample_events(now: datetime, days: int = 35) -> list[UsageEventIn]:
    """Hourly usage for the last ``days`` days, the same every run (seeded), keyed so re-runs add nothing."""
    rng = random.Random(7)  # noqa: S311 - sample data, not security
    start = (now - timedelta(days=days)).replace(minute=0, second=0, microsecond=0)
    events = []
    for hour in range(days * 24):
        at = start + timedelta(hours=hour)
        if at > now:
            break
        stamp = at.strftime("%Y%m%d%H")
        events.append(
            UsageEventIn(
                feature_key="api_calls",
                quantity=rng.randint(50, 500),
                idempotency_key=f"demo-api-{stamp}",
                timestamp=at,
            )
        )
        events += [
            UsageEventIn(
                feature_key="llm_tokens",
                quantity=rng.randint(low, high),
                idempotency_key=f"demo-tok-{stamp}-{model}",
                timestamp=at,
                dimensions={"model": model, "region": rng.choice(["eu", "us"])},
            )
            for model, (low, high) in MODELS.items()
        ]
        if at.hour == 0:
            events.append(
                UsageEventIn(
                    feature_key="storage_gb_hours",
                    quantity=rng.randint(200, 260),
                    idempotency_key=f"demo-sto-{stamp}",
                    timestamp=at,
                )
            )
    return events


async def load_demo(engine: AsyncEngine) -> int:
    """Load the catalog, the demo plan (the demo tenant is put on it) and sample usage through the same services
    the API uses; returns events accepted."""
    sessions = async_sessionmaker(engine, expire_on_commit=False)
    async with sessions() as session:
        await load_catalog(session, CATALOG, [DEMO_PLAN])
    async with sessions() as session:
        await PlanService(session).assign(DEMO_TENANT, PlanAssignmentIn(plan_key="starter"))
    now = datetime.now(UTC)
    events = sample_events(now)
    accepted = 0
    for i in range(0, len(events), MAX_BATCH):
        async with sessions() as session:
            result = await UsageRecorder(session).record(DEMO_TENANT, UsageBatch(events=events[i : i + MAX_BATCH]), now)
            accepted += result.accepted
    return accepted
