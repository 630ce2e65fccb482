"""tally_client's Recorder and AsyncRecorder against real server processes: nothing lost or counted twice through a
server restart and a database outage, everything buffered sent at interpreter exit, a full buffer that blocks or
drops (counted), refused events reported with their problem, 429 retried after Retry-After, a 413 split."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import httpx
import pytest

from tally.db.migrate import upgrade
from tally.http.auth import Role
from tally_client import AsyncRecorder, AuthenticatedClient, Recorder
from tally_client.models import Problem
from tally_client.recorder import RecordedEvent
from tests.conftest import PLATFORM, _admin, bearer, free_port, in_thread
from tests.e2e.conftest import running_server, start_server, stop_server

pytestmark = pytest.mark.e2e

THREADS = 8
EVENTS = 100_000
ALL_TIME = {"period_start": "2000-01-01T00:00:00Z", "period_end": "2100-01-01T00:00:00Z"}


def token(role: Role = Role.PLATFORM, tenant: uuid.UUID | None = None) -> str:
    return bearer(role, tenant)["Authorization"].removeprefix("Bearer ")


def create_features(base_url: str, *keys: str) -> None:
    for key in keys:
        response = httpx.put(f"{base_url}/api/v1/billing/features/{key}", json={"unit": "requests"}, headers=PLATFORM)
        assert response.status_code in (200, 201), response.text


def totals(base_url: str, tenant: uuid.UUID) -> dict[str, int]:
    url = f"{base_url}/api/v1/billing/tenants/{tenant}/usage-totals"
    response = httpx.get(url, params=ALL_TIME, headers=PLATFORM, timeout=30)
    assert response.status_code == 200, response.text
    return {row["feature_key"]: row["quantity"] for row in response.json()}


def answers(log: Path, status: int) -> int:
    """How many requests the server's access log says it answered with ``status``."""
    lines = [json.loads(line) for line in log.read_text().splitlines() if line.startswith("{")]
    return sum(1 for line in lines if line.get("logger") == "tally.access" and line.get("status") == status)


def wait_until(condition: object, what: str, seconds: float = 120) -> None:
    """Wait for ``condition()`` (a synchronisation point, bounded so that a broken recorder fails, not hangs)."""
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, f"gave up waiting for {what}"
        time.sleep(0.05)


@pytest.fixture
def sqlite_database(tmp_path: Path) -> str:
    url = f"sqlite+aiosqlite:///{tmp_path / 'recorder.db'}"
    in_thread(upgrade, url)
    return url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One server with the default settings for the tests that need nothing else: each records on a tenant of its
    own and reads that tenant's totals, so they share it (a server start is about 1.7 s of CPU)."""
    folder = tmp_path_factory.mktemp("recorder-server")
    url = f"sqlite+aiosqlite:///{folder / 'recorder.db'}"
    in_thread(upgrade, url)
    with running_server(url, folder / "server.log") as base_url:
        create_features(base_url, "api_calls")
        yield base_url


class Errors:
    """An ``on_error`` that keeps what it is told."""

    def __init__(self) -> None:
        self.reported: list[tuple[list[str], Problem | None]] = []

    def __call__(self, events: Sequence[RecordedEvent], problem: Problem | None) -> None:
        self.reported.append(([e.event.idempotency_key for e in events], problem))


@pytest.mark.postgres
@pytest.mark.long
def test_a_restart_and_a_database_outage_lose_nothing_and_count_nothing_twice(
    postgres_database: str, tmp_path: Path
) -> None:
    """100,000 events from 8 threads through one Recorder; meanwhile the server process is restarted once and its
    database refuses every connection for 5 seconds. The totals equal what was recorded, exactly."""
    database = postgres_database.rsplit("/", 1)[1]
    port = free_port()
    env = {"TALLY_RETRY_AFTER_SECONDS": "1", "TALLY_DB_TIMEOUT_SECONDS": "2", "TALLY_METRICS_ENABLED": "false"}
    log = tmp_path / "server.log"
    tenant = uuid.uuid4()
    process, base_url = start_server(postgres_database, log, port=port, **env)
    errors = Errors()
    client = AuthenticatedClient(base_url=base_url, token=token(), timeout=httpx.Timeout(30.0))
    recorder = Recorder(
        client, batch_size=1000, flush_interval=0.2, max_buffered=20_000, max_retry_delay=1.0, on_error=errors
    )
    recorded = [0] * THREADS

    def produce(worker: int) -> None:
        for i in range(EVENTS // THREADS):
            quantity = (worker * 7919 + i) % 100 + 1
            recorder.record(tenant, "api_calls", quantity, idempotency_key=f"w{worker}-{i}")
            recorded[worker] += quantity

    try:
        create_features(base_url, "api_calls")
        threads = [threading.Thread(target=produce, args=(worker,)) for worker in range(THREADS)]
        for thread in threads:
            thread.start()

        wait_until(lambda: recorder.sent >= 20_000, "20,000 events sent before the restart")
        stop_server(process)
        process, _ = start_server(postgres_database, log, port=port, **env)

        wait_until(lambda: recorder.sent >= 50_000, "50,000 events sent before the outage")
        in_thread(asyncio.run, _admin(f"ALTER DATABASE {database} ALLOW_CONNECTIONS false"))
        in_thread(
            asyncio.run,
            _admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{database}'"),
        )
        sent_at_outage = recorder.sent
        time.sleep(5)  # the outage's length, not a measurement
        in_thread(asyncio.run, _admin(f"ALTER DATABASE {database} ALLOW_CONNECTIONS true"))

        for thread in threads:
            thread.join(timeout=300)
            assert not thread.is_alive(), "a recording thread hung"
        recorder.close(timeout=120)
        quantities = totals(base_url, tenant)
    finally:
        stop_server(process)

    assert errors.reported == []
    assert recorder.failed == recorder.dropped == 0
    assert recorder.sent == EVENTS
    assert sent_at_outage < EVENTS, "the outage came after everything was sent: it tested nothing"
    assert quantities == {"api_calls": sum(recorded)}
    failures = {status: answers(log, status) for status in (500, 503)}
    assert sum(failures.values()) > 0, "the server never answered 5xx: the outage was not seen"
    print(f"\nrecorder figures: {EVENTS} events, {sent_at_outage} sent before the outage, answers {failures}")


def test_a_refused_event_is_reported_with_its_problem_and_the_rest_of_its_batch_is_sent(server: str) -> None:
    tenant = uuid.uuid4()
    errors = Errors()
    client = AuthenticatedClient(base_url=server, token=token())
    with Recorder(client, batch_size=10, flush_interval=60, on_error=errors) as recorder:
        recorder.record(tenant, "api_calls", 1, idempotency_key="first")
        recorder.record(tenant, "no_such_feature", 2, idempotency_key="unknown-feature")
        recorder.record(tenant, "api_calls", 4, idempotency_key="third")
        assert recorder.flush(timeout=60)
        recorder.record(tenant, "api_calls", 8, idempotency_key="first")  # the same key, other content: 409
    assert [(keys, problem.status if problem else None) for keys, problem in errors.reported] == [
        (["unknown-feature"], 400),
        (["first"], 409),
    ]
    assert "no_such_feature" in str(errors.reported[0][1].detail if errors.reported[0][1] else "")
    assert (recorder.sent, recorder.failed) == (2, 2)
    assert totals(server, tenant) == {"api_calls": 5}


def test_rate_limited_batches_wait_for_retry_after_and_all_arrive(sqlite_database: str, tmp_path: Path) -> None:
    """Two writes a second per tenant: most batches are answered 429 with Retry-After, and are sent again."""
    env = {"TALLY_RATE_LIMIT_WRITES": "2", "TALLY_RATE_LIMIT_WINDOW_SECONDS": "1"}
    tenant = uuid.uuid4()
    with running_server(sqlite_database, tmp_path / "server.log", **env) as base_url:
        create_features(base_url, "api_calls")
        client = AuthenticatedClient(base_url=base_url, token=token())
        with Recorder(client, batch_size=10, flush_interval=0.05, max_retry_delay=5) as recorder:
            for i in range(100):
                recorder.record(tenant, "api_calls", i + 1)
        assert (recorder.sent, recorder.failed) == (100, 0)
        assert totals(base_url, tenant) == {"api_calls": sum(range(1, 101))}
    assert answers(tmp_path / "server.log", 429) > 0


def test_a_batch_too_large_for_the_server_is_split_until_it_fits(sqlite_database: str, tmp_path: Path) -> None:
    """A server that takes bodies of at most 1,024 bytes: a batch of 20 events is refused (413), and split until
    its parts fit."""
    tenant = uuid.uuid4()
    log = tmp_path / "server.log"
    with running_server(sqlite_database, log, TALLY_MAX_BODY_BYTES="1024") as base_url:
        create_features(base_url, "api_calls")
        client = AuthenticatedClient(base_url=base_url, token=token())
        with Recorder(client, batch_size=20, flush_interval=60) as recorder:
            for i in range(20):
                recorder.record(tenant, "api_calls", i + 1, idempotency_key=f"event-{i:02}")
        assert (recorder.sent, recorder.failed) == (20, 0)
        assert totals(base_url, tenant) == {"api_calls": sum(range(1, 21))}
    assert answers(log, 413) > 0


def test_a_full_buffer_drops_and_counts_when_set_to_drop() -> None:
    """No server listens: ten events fill the buffer, the next fifteen are dropped and counted; at close they are
    reported unsent."""
    errors = Errors()
    client = AuthenticatedClient(base_url=f"http://127.0.0.1:{free_port()}", token=token())
    recorder = Recorder(client, batch_size=5, max_buffered=10, when_full="drop", max_retry_delay=0.2, on_error=errors)
    kept = [recorder.record(uuid.uuid4(), "api_calls", 1) for _ in range(25)]
    assert kept == [True] * 10 + [False] * 15
    assert recorder.dropped == 15
    recorder.close(timeout=1)
    assert recorder.failed == 10
    assert sum(len(keys) for keys, _ in errors.reported) == 10
    assert all(problem is None for _, problem in errors.reported)


def test_a_full_buffer_blocks_until_the_server_takes_the_events(sqlite_database: str, tmp_path: Path) -> None:
    port = free_port()
    tenant = uuid.uuid4()
    client = AuthenticatedClient(base_url=f"http://127.0.0.1:{port}", token=token())
    recorder = Recorder(client, batch_size=5, max_buffered=10, when_full="block", max_retry_delay=0.2)
    returned: list[int] = []

    def produce() -> None:
        for i in range(11):
            recorder.record(tenant, "api_calls", 1, idempotency_key=f"k{i}")
            returned.append(i)

    producer = threading.Thread(target=produce)
    producer.start()
    wait_until(lambda: len(returned) == 10, "ten events buffered")
    producer.join(timeout=1)
    assert producer.is_alive(), "the eleventh record() returned with the buffer full"
    assert len(returned) == 10
    catalog = tmp_path / "catalog.json"  # the feature exists before the server answers the waiting recorder
    catalog.write_text(json.dumps({"features": [{"feature_key": "api_calls", "unit": "requests"}]}))
    log = tmp_path / "server.log"
    with running_server(sqlite_database, log, port=port, TALLY_CATALOG_FILE=str(catalog)) as base_url:
        producer.join(timeout=60)
        assert not producer.is_alive()
        assert len(returned) == 11
        recorder.close(timeout=60)
        assert totals(base_url, tenant) == {"api_calls": 11}
    assert (recorder.sent, recorder.dropped, recorder.failed) == (11, 0, 0)


EXIT_SCRIPT = """
import asyncio, sys, uuid
from tally_client import AsyncRecorder, AuthenticatedClient, Recorder

base_url, token, tenant, kind = sys.argv[1:]
client = AuthenticatedClient(base_url=base_url, token=token)
if kind == "sync":
    recorder = Recorder(client, batch_size=1000, flush_interval=3600)
    for i in range(2500):
        recorder.record(tenant, "api_calls", 2)
else:
    async def main():
        recorder = AsyncRecorder(client, batch_size=1000, flush_interval=3600)
        for i in range(2500):
            await recorder.record(tenant, "api_calls", 2)
    asyncio.run(main())
print("recorded, exiting without flush or close")
"""


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_everything_buffered_is_sent_when_the_process_exits(server: str, tmp_path: Path, kind: str) -> None:
    """A process records 2,500 events (two batches and a half, with an hour's flush interval) and simply ends:
    at interpreter exit (sync) or when asyncio.run ends (async) the recorder sends them all."""
    tenant = uuid.uuid4()
    script = tmp_path / "record_and_exit.py"
    script.write_text(textwrap.dedent(EXIT_SCRIPT))
    result = subprocess.run(
        [sys.executable, str(script), server, token(Role.ADMIN, tenant), str(tenant), kind],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "recorded, exiting" in result.stdout
    assert totals(server, tenant) == {"api_calls": 5000}


def test_async_recorder_from_many_tasks(server: str) -> None:
    tenant = uuid.uuid4()
    client = AuthenticatedClient(base_url=server, token=token())

    async def main() -> AsyncRecorder:
        async with AsyncRecorder(client, batch_size=500, flush_interval=0.1) as recorder:

            async def produce(worker: int) -> None:
                for i in range(1000):
                    await recorder.record(tenant, "api_calls", worker + 1, idempotency_key=f"t{worker}-{i}")

            await asyncio.gather(*(produce(worker) for worker in range(8)))
            assert await recorder.flush(timeout=60)
            assert recorder.sent == 8000
        return recorder

    recorder = asyncio.run(main())
    assert (recorder.sent, recorder.failed, recorder.dropped) == (8000, 0, 0)
    assert totals(server, tenant) == {"api_calls": sum(1000 * (w + 1) for w in range(8))}


def test_record_refuses_a_zone_less_timestamp_at_once() -> None:
    import datetime as dt

    recorder = Recorder(AuthenticatedClient(base_url="http://127.0.0.1:9", token="x"))
    with pytest.raises(ValueError, match="time zone"):
        recorder.record(uuid.uuid4(), "api_calls", 1, timestamp=dt.datetime(2026, 12, 1, 12, 0))
    recorder.close()
    with pytest.raises(RuntimeError, match="closed"):
        recorder.record(uuid.uuid4(), "api_calls", 1)
