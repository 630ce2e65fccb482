"""Reads from a real streaming standby (tests/standby.py), with bounded lag and the primary as fallback.

The proof that a read was served by the standby: with the standby's replay paused, a write on the primary is
not in what the read routes answer, while the hard limit's check (on the primary) sees it.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import pytest
from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from tally.app import create_app
from tally.config import ConfigError, Settings
from tally.db.engine import create_engine
from tally.db.replica import ReadReplica
from tests.conftest import (
    PLATFORM,
    TEST_SECRET,
    assert_problem,
    clear,
    events_url,
    post_events,
    put_features,
    quantities,
    record,
)
from tests.integration.test_limits import event, limited, stored_keys, used
from tests.standby import Standby, eventually, free_port, standby

__all__ = ["standby"]  # the fixture, imported for the tests of this module

# One worker runs these under xdist: the standby is a session fixture, and a copy of the cluster per worker would
# cost a base backup each.
pytestmark = [pytest.mark.anyio, pytest.mark.xdist_group("standby")]


def sample(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


def fallbacks() -> float:
    return sample("tally_read_fallbacks_total")


async def replica_in_use() -> bool:
    return sample("tally_read_replica_in_use") == 1


async def primary_in_use() -> bool:
    return sample("tally_read_replica_in_use") == 0


@asynccontextmanager
async def replica_client(
    standby: Standby, postgres_url: str, max_lag: float
) -> AsyncIterator[AsyncTestClient[Litestar]]:
    """A client of an app on the test database whose reads may go to the standby, the standby caught up and in
    use."""
    await clear(postgres_url)
    settings = Settings(
        database_url=postgres_url,
        database_read_url=standby.url(postgres_url),
        read_max_lag_seconds=max_lag,
        jwt_secret=TEST_SECRET,
    )
    async with AsyncTestClient(app=create_app(settings)) as client:
        await standby.wait_replayed()
        await eventually(replica_in_use)
        yield client


async def csv_keys(client: AsyncTestClient[Litestar], tenant: uuid.UUID) -> list[str]:
    response = await client.get(events_url(tenant), headers={**PLATFORM, "Accept": "text/csv"})
    assert response.status_code == 200, response.text
    return [line.split(",", 1)[0] for line in response.text.splitlines()[1:]]


async def replayed_usage(client: AsyncTestClient[Litestar], standby: Standby) -> uuid.UUID:
    """A new tenant with 5 api_calls, replayed by the standby, which the reads have gone back to."""
    await put_features(client, "api_calls")
    tenant = uuid.uuid4()
    await record(client, tenant, event("a", 5))
    await standby.wait_replayed()
    await eventually(replica_in_use)
    assert await quantities(client, tenant) == {"api_calls": 5}
    return tenant


async def test_reads_are_served_by_the_standby_and_limits_are_checked_on_the_primary(
    standby: Standby, postgres_url: str
) -> None:
    async with replica_client(standby, postgres_url, max_lag=60) as client:
        tenant = await limited(client, 10)  # a rejecting limit of 10 on api_calls
        await record(client, tenant, event("a", 5))
        await standby.wait_replayed()
        assert await quantities(client, tenant) == {"api_calls": 5, "other": 0}
        before = fallbacks()
        await standby.pause_replay()
        try:
            await record(client, tenant, event("b", 3))  # 8 on the primary, still 5 on the standby
            # The limit's check reads the primary: 8 + 3 is over 10 (5 + 3 would not be).
            assert_problem(await post_events(client, tenant, [event("c", 3)]), 409, "api_calls", "used 8")
            # Every read route answers what the standby has replayed.
            assert await quantities(client, tenant) == {"api_calls": 5, "other": 0}
            assert await used(client, tenant) == 5
            assert await stored_keys(client, tenant) == ["a"]
            assert await csv_keys(client, tenant) == ["a"]
            assert await replica_in_use()
            assert fallbacks() == before
        finally:
            await standby.resume_replay()
        await standby.wait_replayed()
        assert await quantities(client, tenant) == {"api_calls": 8, "other": 0}
        assert await stored_keys(client, tenant) == ["a", "b"]


async def test_a_standby_further_behind_than_the_bound_leaves_reads_to_the_primary(
    standby: Standby, postgres_url: str
) -> None:
    async with replica_client(standby, postgres_url, max_lag=1.0) as client:
        tenant = await replayed_usage(client, standby)
        await standby.pause_replay()
        try:
            await record(client, tenant, event("b", 3))
            await eventually(primary_in_use)  # the lag grows past 1 s while replay stays paused
            assert sample("tally_read_replica_lag_seconds") > 1.0
            before = fallbacks()
            assert await quantities(client, tenant) == {"api_calls": 8}  # the primary's answer
            assert await used(client, tenant, "api_calls") == 8
            assert fallbacks() == before + 2
        finally:
            await standby.resume_replay()
        await standby.wait_replayed()
        await eventually(replica_in_use)
        before = fallbacks()
        assert await quantities(client, tenant) == {"api_calls": 8}
        assert fallbacks() == before
        assert sample("tally_read_replica_lag_seconds") <= 1.0


async def test_a_stopped_standby_leaves_reads_to_the_primary_until_it_is_back(
    standby: Standby, postgres_url: str
) -> None:
    async with replica_client(standby, postgres_url, max_lag=60) as client:
        tenant = await replayed_usage(client, standby)
        await anyio.to_thread.run_sync(standby.stop)
        try:
            await record(client, tenant, event("b", 3))
            await eventually(primary_in_use)
            before = fallbacks()
            assert await quantities(client, tenant) == {"api_calls": 8}  # 200 from the primary, not a 503
            assert await stored_keys(client, tenant) == ["a", "b"]
            assert fallbacks() == before + 2
        finally:
            await anyio.to_thread.run_sync(standby.start)
        await standby.wait_replayed()
        await eventually(replica_in_use)
        before = fallbacks()
        assert await quantities(client, tenant) == {"api_calls": 8}
        assert fallbacks() == before


async def test_a_server_that_is_not_a_standby_is_not_read_from_and_its_password_is_not_logged(
    postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    # The primary itself as the "replica", with a password (trust authentication ignores it).
    with_password = make_url(postgres_url).set(password="not-in-the-logs")
    read_url = with_password.render_as_string(hide_password=False)
    primary = create_engine(postgres_url)
    replica = ReadReplica(read_url, primary, max_lag=5.0, pool_size=2, timeout=5.0)
    try:
        with caplog.at_level(logging.WARNING, logger="tally.replica"):
            await replica.check()
        assert replica.healthy is False
        assert "reads go to the primary" in caplog.text
        assert "not a standby" in caplog.text
        assert "not-in-the-logs" not in caplog.text
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="tally.replica"):
            await replica.check()  # no switch, no line
        assert caplog.text == ""
    finally:
        await replica.stop()
        await primary.dispose()


async def test_a_read_connection_is_taken_by_the_last_check_and_a_failed_read_leaves_the_replica(
    postgres_url: str,
) -> None:
    # A "replica" on a port nobody listens on: a read on it fails as a stopped standby's would.
    read_url = make_url(postgres_url).set(port=free_port()).render_as_string(hide_password=False)
    primary = create_engine(postgres_url)
    replica = ReadReplica(read_url, primary, max_lag=5.0, pool_size=2, timeout=5.0)
    try:
        before = fallbacks()
        async with replica.connect() as connection:  # not checked yet: the primary
            assert connection.sync_engine is primary.sync_engine
        assert fallbacks() == before + 1

        replica.healthy = True  # as a check would have found it
        with pytest.raises(ConnectionRefusedError):
            async with replica.connect():
                pass
        assert replica.healthy is False  # the next read goes to the primary, before the next check
        assert fallbacks() == before + 1
        async with replica.connect() as connection:
            assert connection.sync_engine is primary.sync_engine
    finally:
        await replica.stop()
        await primary.dispose()


async def test_a_read_that_fails_on_the_replicas_connection_leaves_the_replica(postgres_url: str) -> None:
    # The standby answers the connect, then goes away under a read: Litestar throws the handler's exception into
    # the reader's provider, whose connection is the replica's.
    primary = create_engine(postgres_url)
    replica = ReadReplica(postgres_url, primary, max_lag=5.0, pool_size=2, timeout=5.0)
    try:
        replica.healthy = True
        lost = ConnectionResetError("the standby went away")

        async def read() -> None:
            async with replica.connect() as connection:
                assert connection.sync_engine is replica.engine.sync_engine
                raise lost

        with pytest.raises(ConnectionResetError) as rethrown:
            await read()
        assert rethrown.value is lost
        assert replica.healthy is False
    finally:
        await replica.stop()
        await primary.dispose()


PRIMARY = "postgresql+asyncpg://tally:secret@db.internal/tally"


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        (
            {"TALLY_DATABASE_URL": PRIMARY, "TALLY_DATABASE_READ_URL": "mysql+aiomysql://r/tally"},
            "TALLY_DATABASE_READ_URL",
        ),
        (
            {"TALLY_DATABASE_URL": PRIMARY, "TALLY_DATABASE_READ_URL": "sqlite+aiosqlite:///r.db"},
            "TALLY_DATABASE_READ_URL",
        ),
        ({"TALLY_DATABASE_READ_URL": "postgresql+asyncpg://r/tally"}, "TALLY_DATABASE_URL"),  # SQLite primary
        ({"TALLY_DATABASE_URL": PRIMARY, "TALLY_READ_MAX_LAG_SECONDS": "0"}, "TALLY_READ_MAX_LAG_SECONDS"),
        ({"TALLY_DATABASE_URL": PRIMARY, "TALLY_READ_MAX_LAG_SECONDS": "soon"}, "TALLY_READ_MAX_LAG_SECONDS"),
    ],
)
def test_a_bad_read_replica_setting_is_refused_naming_the_variable(variables: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        Settings.from_env({"TALLY_JWT_SECRET": TEST_SECRET, **variables})


def test_the_read_urls_password_is_masked() -> None:
    read_url = "postgresql+asyncpg://tally:standby-secret@standby.internal/tally"
    settings = Settings.from_env(
        {"TALLY_JWT_SECRET": TEST_SECRET, "TALLY_DATABASE_URL": PRIMARY, "TALLY_DATABASE_READ_URL": read_url}
    )
    assert settings.database_read_url == read_url
    assert settings.masked()["database_read_url"] == "postgresql+asyncpg://tally:********@standby.internal/tally"
    assert "standby-secret" not in str(settings.masked())
