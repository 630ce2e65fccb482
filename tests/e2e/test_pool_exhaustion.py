"""Every route answers 503 with Retry-After while the server's connection pool is exhausted, and the requests
that held the connections finish normally afterwards. A real server (its pool in its own process): two
requests take the pool's two connections (pool size 1 plus as many overflow) and wait behind a lock the test
holds on the catalog; every other request waits for a connection, times out and is a 503."""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from tests.conftest import FEATURES_URL, PLATFORM, in_thread
from tests.e2e.conftest import running_server
from tests.integration.test_unavailable import ROUTES

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]
# This database's waits only: other tests (other xdist workers, other suites) use the same cluster at the same time.
WAITING = text(
    "SELECT count(*) FROM pg_stat_activity "
    "WHERE datname = current_database() AND wait_event_type = 'Lock' AND state = 'active'"
)


async def _while_locked(database_url: str, base_url: str) -> tuple[list[tuple[str, str, int, str]], list[int]]:
    engine = create_async_engine(database_url, poolclass=NullPool)
    answers: list[tuple[str, str, int, str]] = []
    try:
        # Another connection watches: a transaction sees pg_stat_activity as it was at its first look.
        async with engine.connect() as lock, engine.connect() as watch:
            await lock.execute(text("LOCK TABLE feature IN ACCESS EXCLUSIVE MODE"))
            with ThreadPoolExecutor(2) as pool:
                stuck = [
                    pool.submit(httpx.get, f"{base_url}{FEATURES_URL}", headers=PLATFORM, timeout=60) for _ in "ab"
                ]
                deadline = time.monotonic() + 20
                while await watch.scalar(WAITING) < 2:
                    await watch.rollback()
                    if time.monotonic() > deadline:
                        done = [f.result().status_code for f in stuck if f.done()]
                        pytest.fail(f"the two requests never waited on the lock (answered: {done})")
                    await asyncio.sleep(0.05)
                with httpx.Client(base_url=base_url, headers=PLATFORM, timeout=30) as client:
                    for method, url, body in ROUTES:
                        r = await asyncio.to_thread(client.request, method, url, json=body)
                        answers.append((method, url, r.status_code, r.headers.get("retry-after", "")))
                await lock.rollback()
                finished = [future.result().status_code for future in stuck]
    finally:
        await engine.dispose()
    return answers, finished


def test_every_route_is_503_while_the_pool_is_exhausted(postgres_database: str, tmp_path: Path) -> None:
    env = {"TALLY_DB_POOL_SIZE": "1", "TALLY_DB_TIMEOUT_SECONDS": "0.5"}
    with running_server(postgres_database, tmp_path / "server.log", **env) as base_url:
        answers, finished = in_thread(asyncio.run, _while_locked(postgres_database, base_url))
    for method, url, status, retry_after in answers:
        assert status == 503, (method, url, status)
        assert int(retry_after) >= 1, (method, url)
    assert finished == [200, 200]
