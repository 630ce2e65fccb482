"""Production serving: several uvicorn worker processes on one PostgreSQL database.

SIGTERM arrives in the middle of a flood of ingestion batches. The server must finish what it started (a
request it has begun is answered, then the process exits cleanly), every batch answered 200 is counted
exactly once, and no batch is half-stored: re-sending every batch to a fresh server adds either all of a
batch or none of it, and the totals then equal the sum of the distinct events.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import random
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import MULTI_PROCESS, TEST_SECRET, bearer
from tests.e2e.conftest import free_port, running_server, start_server, stop_server
from tests.prometheus import value

# Several server processes at once: in the suite's multi-process group (see MULTI_PROCESS in tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.anyio, MULTI_PROCESS]

WORKERS = 2
BATCHES = 120
BATCH = 200
CONCURRENCY = 16
SIGTERM_AFTER = 20  # answers: the flood is well under way
HELD = 4  # requests held open across the SIGTERM (see hold_request)
START = dt.datetime(2026, 10, 1, tzinfo=dt.UTC)

Batch = list[dict[str, Any]]


def make_batches(count: int, first: int = 0) -> list[Batch]:
    rng = random.Random(first)
    return [
        [
            {
                "feature_key": "api_calls",
                "quantity": rng.randint(1, 1000),
                "idempotency_key": f"b{b}-e{i}",
                "timestamp": (START + dt.timedelta(seconds=37 * (b * BATCH + i))).isoformat(),
            }
            for i in range(BATCH)
        ]
        for b in range(first, first + count)
    ]


def events_path(tenant: uuid.UUID) -> str:
    return f"/api/v1/billing/tenants/{tenant}/usage-events"


class HeldRequest:
    """An ingestion request whose headers the server has read and whose body it is waiting for.

    It is sent with ``Expect: 100-continue``: uvicorn answers "100 Continue" only when the app first reads
    the body, which Litestar does after authentication and the guards, inside the route. So once the 100
    arrives, the server has certainly begun this request, whatever happens next.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, body: bytes) -> None:
        self.reader, self.writer, self.body = reader, writer, body

    @classmethod
    async def open(cls, base_url: str, tenant: uuid.UUID, batch: Batch) -> HeldRequest:
        url = httpx.URL(base_url)
        body = json.dumps({"events": batch}).encode()
        reader, writer = await asyncio.open_connection(url.host, url.port)
        head = (
            f"POST {events_path(tenant)} HTTP/1.1\r\nHost: {url.host}:{url.port}\r\n"
            f"Authorization: {bearer('admin', tenant)['Authorization']}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n\r\n"
        )
        writer.write(head.encode())
        await writer.drain()
        interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 30)
        assert interim.startswith(b"HTTP/1.1 100 "), interim
        return cls(reader, writer, body)

    async def finish(self) -> tuple[int, dict[str, int]]:
        """Send the body; the status and JSON body of the answer (the server closes the connection after it)."""
        self.writer.write(self.body)
        await self.writer.drain()
        raw = await asyncio.wait_for(self.reader.read(), 60)
        self.writer.close()
        head, _, body = raw.partition(b"\r\n\r\n")
        return int(head.split(b" ", 2)[1]), json.loads(body)


def wait_for_log(log: Path, text: str, count: int) -> None:
    """Wait until ``text`` appears ``count`` times in the server's log (a condition, not a timing)."""
    deadline = time.monotonic() + 30
    while log.read_text().count(text) < count:
        if time.monotonic() > deadline:
            pytest.fail(f"{text!r} did not appear {count} times:\n{log.read_text()}")
        time.sleep(0.05)


async def test_sigterm_during_a_flood_finishes_in_flight_batches(postgres_database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    flood = make_batches(BATCHES)
    held_batches = make_batches(HELD, first=BATCHES)
    log = tmp_path / "server.log"
    outcomes: list[dict[str, int] | str | None] = [None] * BATCHES
    process, base_url = start_server(postgres_database, log, workers=WORKERS)
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as http:
            created = await http.put(
                "/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=bearer("platform")
            )
            assert created.status_code == 201, created.text
            held = [await HeldRequest.open(base_url, tenant, batch) for batch in held_batches]

            answered = asyncio.Event()
            limit = asyncio.Semaphore(CONCURRENCY)

            async def send(i: int) -> None:
                async with limit:
                    try:
                        r = await http.post(
                            events_path(tenant), json={"events": flood[i]}, headers=bearer("admin", tenant)
                        )
                    except httpx.TransportError as exc:  # refused or cut by the shutdown: nothing promised
                        outcomes[i] = type(exc).__name__
                        return
                    outcomes[i] = r.json() if r.status_code == 200 else f"HTTP {r.status_code}: {r.text}"
                    if sum(isinstance(o, dict) for o in outcomes) >= SIGTERM_AFTER:
                        answered.set()

            sending = asyncio.gather(*(send(i) for i in range(BATCHES)))
            await asyncio.wait([asyncio.ensure_future(answered.wait()), sending], return_when=asyncio.FIRST_COMPLETED)
            process.send_signal(signal.SIGTERM)
            await asyncio.to_thread(wait_for_log, log, "Shutting down", WORKERS)  # every worker is shutting down...
            held_answers = [await request.finish() for request in held]  # ...and still answers what it began
            await sending
        exit_code = await asyncio.to_thread(process.wait, 60)
    finally:
        if process.poll() is None:
            stop_server(process)

    assert exit_code == 0, log.read_text()
    assert held_answers == [(200, {"accepted": BATCH, "duplicates": 0})] * HELD
    problems = [o for o in outcomes if isinstance(o, str) and o.startswith("HTTP")]
    assert problems == [], problems  # the only failures allowed are refused or cut connections
    assert all(o == {"accepted": BATCH, "duplicates": 0} for o in outcomes if isinstance(o, dict))
    server_log = log.read_text()
    assert "Traceback" not in server_log
    assert "ERROR" not in server_log

    # A fresh server: every batch again. A batch answered 200 before is all duplicates; any other batch was
    # stored whole or not at all.
    async with httpx.AsyncClient(timeout=60) as http:
        with running_server(postgres_database, tmp_path / "again.log", workers=WORKERS) as again:
            limit = asyncio.Semaphore(CONCURRENCY)

            async def resend(batch: Batch) -> dict[str, int]:
                async with limit:
                    r = await http.post(
                        f"{again}{events_path(tenant)}", json={"events": batch}, headers=bearer("admin", tenant)
                    )
                assert r.status_code == 200, r.text
                answer: dict[str, int] = r.json()
                return answer

            resent = await asyncio.gather(*(resend(batch) for batch in [*flood, *held_batches]))
            totals = await http.get(
                f"{again}/api/v1/billing/tenants/{tenant}/usage-totals",
                params={"period_start": START.isoformat(), "period_end": (START + dt.timedelta(days=365)).isoformat()},
                headers=bearer("viewer", tenant),
            )
    for before, after in zip([*outcomes, *([{"accepted": BATCH}] * HELD)], resent, strict=True):
        if isinstance(before, dict):
            assert after == {"accepted": 0, "duplicates": BATCH}
        else:
            assert after in ({"accepted": 0, "duplicates": BATCH}, {"accepted": BATCH, "duplicates": 0})
    assert totals.status_code == 200, totals.text
    assert totals.json()[0]["quantity"] == sum(e["quantity"] for b in [*flood, *held_batches] for e in b)


async def test_metrics_port_sums_every_worker(postgres_database: str, tmp_path: Path) -> None:
    """The documented multi-worker set-up: PROMETHEUS_MULTIPROC_DIR plus TALLY_METRICS_PORT. Every worker
    tries the port; one serves it, the others go on serving the API; the numbers are summed over workers."""
    tenant = uuid.uuid4()
    multiproc_dir = tmp_path / "prometheus"
    multiproc_dir.mkdir()
    port = free_port()
    env = {"PROMETHEUS_MULTIPROC_DIR": str(multiproc_dir), "TALLY_METRICS_PORT": str(port)}
    batches = make_batches(20)
    with running_server(postgres_database, tmp_path / "server.log", workers=WORKERS, **env) as base_url:
        async with httpx.AsyncClient(timeout=60) as http:
            created = await http.put(
                f"{base_url}/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=bearer("platform")
            )
            assert created.status_code == 201, created.text
            for batch in batches:  # a new connection each time, so that both workers take some
                r = await http.post(
                    f"{base_url}{events_path(tenant)}",
                    json={"events": batch},
                    headers={**bearer("admin", tenant), "Connection": "close"},
                )
                assert r.status_code == 200, r.text
            assert (await http.get(f"{base_url}/metrics")).status_code == 404  # not on the API's port
            metrics = await http.get(f"http://127.0.0.1:{port}/metrics")
    assert metrics.status_code == 200
    assert value(metrics.text, "tally_events_accepted_total") == len(batches) * BATCH
    assert str(tenant) not in metrics.text


def test_tally_serve_runs_one_worker_per_core_by_default(postgres_database: str, tmp_path: Path) -> None:
    """Without ``--workers``, ``tally serve`` on PostgreSQL starts one worker per core it may run on (a newcomer
    gets both cores of a 2-core machine without knowing uvicorn), and says so in its start-up line."""
    cores = len(os.sched_getaffinity(0))
    log = tmp_path / "serve.log"
    port = free_port()
    environ = {**os.environ, "TALLY_DATABASE_URL": postgres_database, "TALLY_JWT_SECRET": TEST_SECRET}
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tally.cli", "serve", "--port", str(port)],
            env=environ,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        deadline = time.monotonic() + 60
        while len(started_workers(log)) < cores:
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        # A worker logs "Started server process" before its start-up has run and it listens: until one listens, a
        # connection is refused (seen in CI once start-up also opened the plan terms listener).
        while not answers(f"http://127.0.0.1:{port}/health/live"):
            assert process.poll() is None, log.read_text()
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)
        (line,) = [entry for entry in log_entries(log) if entry.get("message", "").startswith("serving ")]
        assert line["workers"] == cores
        assert len(started_workers(log)) == cores
    finally:
        stop_server(process)


def log_entries(log: Path) -> list[dict[str, Any]]:
    entries = []
    for line in log.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def answers(url: str) -> bool:
    """Whether ``url`` answers 200 (False while nothing listens yet)."""
    try:
        return httpx.get(url).status_code == 200
    except httpx.ConnectError:
        return False


def started_workers(log: Path) -> set[int]:
    """The pids of uvicorn's "Started server process [pid]" lines: one per worker."""
    return {entry["pid"] for entry in log_entries(log) if entry.get("message", "").startswith("Started server process")}
