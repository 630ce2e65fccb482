"""Plan terms and closed periods' terms cached per process on PostgreSQL (``tally.db.terms``): a change made
anywhere (another process, ``psql``) reaches the next check or total through LISTEN/NOTIFY, the terms are not read
again between changes, a lost listener lets no stale terms through, and a change through this process's own API is
seen by its very next request, even a hard limit's."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import text
from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
from sqlalchemy.pool import NullPool

from tally.db.engine import create_engine
from tally.db.repositories import TenantPlanRepository
from tally.db.terms import CACHED_TENANTS, MISSING, TermsCache
from tally.db.transaction import Transaction
from tally.http.auth import Role
from tally.metering.periods import rfc3339
from tally.periods.service import PeriodService
from tally.usage.reading import UsageReader
from tests.conftest import PLATFORM, bearer, put_features, record, totals_url
from tests.integration.conftest import app_client
from tests.integration.test_entitlements import assign, entitlements_url
from tests.integration.test_periods import LAST_MONTH, THIS_MONTH, at, event
from tests.integration.test_plans import limit, put_plan

pytestmark = pytest.mark.anyio
WAIT = 30  # seconds a notification may take to arrive, at most (a bound, not a measurement)


@pytest.fixture
async def client(postgres_url: str) -> AsyncIterator[AsyncTestClient[Litestar]]:
    async for client in app_client(postgres_url, webhook_delivery_enabled=False):
        yield client


async def sql(url: str, *statements: str) -> None:
    """Run ``statements`` in one transaction of another connection, as another process would."""
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.begin() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


async def limit_of(client: AsyncTestClient[Litestar], tenant: uuid.UUID) -> object:
    response = await client.get(entitlements_url(tenant, "api_calls"), headers=bearer(Role.VIEWER, tenant))
    assert response.status_code == 200, response.text
    return response.json()["limit"]


async def eventually(client: AsyncTestClient[Litestar], tenant: uuid.UUID, expected: object) -> None:
    async with asyncio.timeout(WAIT):
        while await limit_of(client, tenant) != expected:  # noqa: ASYNC110 - another process's change: nothing to await
            await asyncio.sleep(0.05)


def cache_of(client: AsyncTestClient[Litestar]) -> TermsCache:
    (config,) = client.app.plugins.get(SQLAlchemyPlugin).config
    cache = TermsCache.of(config.get_engine().sync_engine)
    assert cache is not None
    return cache


async def settled(client: AsyncTestClient[Litestar], postgres_url: str) -> None:
    """Wait until the app's listener is connected and has heard every change made so far: notifications arrive in
    commit order, so once it has heard a marker sent now, it has heard the earlier ones."""
    cache, marker = cache_of(client), str(uuid.uuid4())
    async with asyncio.timeout(WAIT):
        while not cache.listening:  # noqa: ASYNC110 - the app's own task: nothing to await
            await asyncio.sleep(0.05)
        await sql(postgres_url, f"NOTIFY tally_terms, '{marker}'")
        while cache.last_heard != marker:  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def on_a_plan(client: AsyncTestClient[Litestar], postgres_url: str) -> uuid.UUID:
    await put_features(client, "api_calls")
    assert (await put_plan(client, "pro", limit(value=100))).status_code == 201
    tenant = uuid.uuid4()
    await assign(client, tenant)
    await settled(client, postgres_url)
    assert await limit_of(client, tenant) == 100  # read, and cached
    return tenant


# Another process's change, with the triggers of migration 0011 firing as they do for every writer.
CHANGE = "UPDATE plan SET limits = CAST(jsonb_set(CAST(limits AS jsonb), '{0,limit}', '%d') AS json)"
# The same change unheard: this session's triggers off (as a replica applying changes runs).
UNHEARD = "SET LOCAL session_replication_role = replica"


async def test_a_change_made_elsewhere_reaches_the_next_checks(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    tenant = await on_a_plan(client, postgres_url)
    await sql(postgres_url, CHANGE % 50)
    await eventually(client, tenant, 50)


async def test_terms_are_not_read_again_until_a_change_is_heard(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    tenant = await on_a_plan(client, postgres_url)
    await sql(postgres_url, UNHEARD, CHANGE % 50)
    for _ in range(3):
        assert await limit_of(client, tenant) == 100  # the cached terms: the change was not announced
    await sql(postgres_url, "NOTIFY tally_terms")
    await eventually(client, tenant, 50)


async def test_a_lost_listener_lets_no_stale_terms_through(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    tenant = await on_a_plan(client, postgres_url)
    await sql(
        postgres_url,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'LISTEN%' "
        "AND datname = current_database()",
    )
    await sql(postgres_url, UNHEARD, CHANGE % 50)  # while nobody listens
    await eventually(client, tenant, 50)


async def test_a_change_through_the_api_applies_to_the_next_request(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    tenant = await on_a_plan(client, postgres_url)
    hard = limit(value=1, enforcement="reject")
    for _ in range(5):  # no wait for the notification: the process forgot its terms when it committed
        assert (await put_plan(client, "pro", hard)).status_code == 200
        assert await limit_of(client, tenant) == 1
        response = await client.post(
            f"/api/v1/billing/tenants/{tenant}/usage-events",
            json={"events": [{"feature_key": "api_calls", "quantity": 2, "idempotency_key": str(uuid.uuid4())}]},
            headers=bearer(Role.PLATFORM),
        )
        assert response.status_code == 409, response.text
        assert (await put_plan(client, "pro", limit(value=100))).status_code == 200
        assert await limit_of(client, tenant) == 100


async def test_a_writer_forgets_the_terms_when_it_commits(postgres_url: str) -> None:
    engine = create_engine(postgres_url)
    cache = TermsCache.attach(engine.sync_engine)
    cache.set_listening(True)  # and no listener: only the writer's own commit can empty it
    tenant = uuid.uuid4()
    cache.put(tenant, None, cache.generation)
    try:
        async with async_sessionmaker(engine)() as session:
            transaction = Transaction(session)
            await transaction.begin_write()
            await TenantPlanRepository(session=session).unassign(tenant)
            assert cache.get(tenant) is None  # kept until the change is committed
            await transaction.commit()
        assert cache.get(tenant) is MISSING
    finally:
        await engine.dispose()


def test_the_cache_is_bounded() -> None:
    cache = TermsCache()
    cache.set_listening(True)
    tenants = [uuid.uuid4() for _ in range(CACHED_TENANTS + 1)]
    for tenant in tenants:
        cache.put(tenant, None, cache.generation)
    assert cache.get(tenants[-1]) is None
    assert cache.get(tenants[0]) is MISSING


async def last_month_final(client: AsyncTestClient[Litestar], tenant: uuid.UUID) -> bool:
    """Whether the tenant's total of last month says it is final (``final`` comes from its closed periods' terms)."""
    params = {"period_start": rfc3339(LAST_MONTH), "period_end": rfc3339(THIS_MONTH)}
    response = await client.get(totals_url(tenant), params=params, headers=PLATFORM)
    assert response.status_code == 200, response.text
    (total,) = response.json()
    return bool(total["final"])


async def with_last_month(client: AsyncTestClient[Litestar], postgres_url: str) -> uuid.UUID:
    """A tenant with usage last month, its period open, its terms read and cached."""
    await put_features(client, "api_calls")
    tenant = uuid.uuid4()
    await record(client, tenant, event("a", 3, at(LAST_MONTH)))
    await settled(client, postgres_url)
    assert not await last_month_final(client, tenant)
    return tenant


def recorded_close(tenant: uuid.UUID) -> str:
    """Last month recorded closed by another process (as ``POST …/periods/close`` there would)."""
    return (
        "INSERT INTO billing_period (tenant_id, period_start, period_end, closed_at, totals) "
        f"VALUES ('{tenant}', '{rfc3339(LAST_MONTH)}', '{rfc3339(THIS_MONTH)}', now(), '[]')"
    )


async def test_a_close_made_elsewhere_makes_the_next_totals_final(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    tenant = await with_last_month(client, postgres_url)
    await sql(postgres_url, recorded_close(tenant))
    async with asyncio.timeout(WAIT):
        while not await last_month_final(client, tenant):  # noqa: ASYNC110 - another process's change
            await asyncio.sleep(0.05)


async def test_closed_periods_terms_are_not_read_again_until_a_change_is_heard(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    tenant = await with_last_month(client, postgres_url)
    await sql(postgres_url, UNHEARD, recorded_close(tenant))
    for _ in range(3):
        assert not await last_month_final(client, tenant)  # the cached terms: the close was not announced
    await sql(postgres_url, "NOTIFY tally_terms")
    async with asyncio.timeout(WAIT):
        while not await last_month_final(client, tenant):  # noqa: ASYNC110
            await asyncio.sleep(0.05)


async def test_a_close_forgets_the_terms_when_it_commits(client, postgres_url: str) -> None:  # type: ignore[no-untyped-def]
    await put_features(client, "api_calls")
    tenant = uuid.uuid4()
    await record(client, tenant, event("a", 3, at(LAST_MONTH)))
    engine = create_engine(postgres_url)
    cache = TermsCache.attach(engine.sync_engine)
    cache.set_listening(True)  # and no listener: only the close's own commit can empty it
    try:
        sessions = async_sessionmaker(engine)
        async with sessions() as reads, sessions() as writes:
            assert not (await UsageReader(reads).billing_terms(tenant)).recorded_through  # read, and cached
            assert cache.get(("periods", tenant)) is not MISSING
            await PeriodService(writes).close(tenant, THIS_MONTH, datetime.now(UTC))
        assert cache.get(("periods", tenant)) is MISSING
    finally:
        await engine.dispose()
