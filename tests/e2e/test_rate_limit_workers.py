"""Past one process: `tally serve --workers 2` on one PostgreSQL database enforces one rate limit for both
workers together, and a scrape of either worker reports the numbers of both."""

from __future__ import annotations

import asyncio
import json
import uuid
from pathlib import Path

import httpx
import pytest

from tests.conftest import MULTI_PROCESS, bearer
from tests.e2e.conftest import running_server
from tests.prometheus import value

# Several server processes at once: in the suite's multi-process group (see MULTI_PROCESS in tests/conftest.py).
pytestmark = [pytest.mark.e2e, pytest.mark.anyio, MULTI_PROCESS]

LIMIT = 50
REQUESTS = 120
CLIENTS = 8
TOTALS = "/api/v1/billing/tenants/{}/usage-totals?period_start=2026-11-01T00:00:00Z&period_end=2026-12-01T00:00:00Z"


def answered_by(log: Path, route_part: str) -> dict[int, list[int]]:
    """``pid -> statuses`` of the access lines of requests whose route contains ``route_part``."""
    by_pid: dict[int, list[int]] = {}
    for line in log.read_text().splitlines():
        entry = json.loads(line)
        if entry.get("logger") == "tally.access" and route_part in str(entry.get("route")):
            by_pid.setdefault(int(entry["pid"]), []).append(int(entry["status"]))
    return by_pid


async def test_two_workers_enforce_one_limit_together(postgres_database: str, tmp_path: Path) -> None:
    tenant = uuid.uuid4()
    log = tmp_path / "server.log"
    # A day's window: 120 requests do not straddle its end (a straddling burst would see two windows).
    limits = {"TALLY_RATE_LIMIT_READS": str(LIMIT), "TALLY_RATE_LIMIT_WINDOW_SECONDS": "86400"}
    with running_server(postgres_database, log, workers=2, tally_serve=True, **limits) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            # Every request on a new connection, so that the kernel hands them to both workers.
            headers = {**bearer("viewer", tenant), "Connection": "close"}
            gate = asyncio.Semaphore(CLIENTS)

            async def read() -> httpx.Response:
                async with gate:
                    return await http.get(TOTALS.format(tenant), headers=headers)

            answers = list(await asyncio.gather(*(read() for _ in range(REQUESTS))))
            # The kernel picks the worker of each new connection, and on a busy machine (other tests in parallel)
            # one worker may take them all: more requests, refused by now, until both have answered.
            while len(answered_by(log, "usage-totals")) < 2 and len(answers) < 4 * REQUESTS:
                await asyncio.sleep(0.2)  # the access lines are written out every 0.1 s
                answers += await asyncio.gather(*(read() for _ in range(CLIENTS)))
            other = await http.get(TOTALS.format(uuid.uuid4()), headers=bearer("platform"))
    statuses = sorted(r.status_code for r in answers)
    assert statuses == [200] * LIMIT + [429] * (len(answers) - LIMIT)
    assert other.status_code == 200  # another tenant's quota is its own
    assert other.headers["ratelimit"].startswith(f'"reads";r={LIMIT - 1};')
    by_pid = answered_by(log, "usage-totals")
    assert len(by_pid) == 2, by_pid  # both workers answered...
    # ...and counting alone they would have admitted more than the limit: each up to the limit of its own.
    assert sum(min(len(statuses), LIMIT) for statuses in by_pid.values()) > LIMIT, by_pid


async def test_a_scrape_of_either_worker_reports_both(postgres_database: str, tmp_path: Path) -> None:
    """No PROMETHEUS_MULTIPROC_DIR set by hand: `tally serve --workers 2` sets up prometheus_client's
    multiprocess mode itself."""
    tenant = uuid.uuid4()
    log = tmp_path / "server.log"
    sent = 0
    with running_server(postgres_database, log, workers=2, tally_serve=True) as base_url:
        async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
            created = await http.put(
                "/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=bearer("platform")
            )
            assert created.status_code == 201, created.text

            async def record(batch: int) -> None:
                events = [
                    {"feature_key": "api_calls", "quantity": 1, "idempotency_key": f"{batch}-{i}"} for i in range(10)
                ]
                r = await http.post(
                    f"/api/v1/billing/tenants/{tenant}/usage-events",
                    json={"events": events},
                    headers={**bearer("admin", tenant), "Connection": "close"},
                )
                assert r.status_code == 200, r.text

            # Batches four at a time on new connections until both workers have taken some (the kernel decides).
            while sent < 200 and (sent < 12 or len(answered_by(log, "usage-events")) < 2):
                await asyncio.gather(*(record(sent + i) for i in range(4)))
                sent += 4
                await asyncio.sleep(0.2)  # the access lines are written out every 0.1 s
            scrapes = [(await http.get("/metrics", headers={"Connection": "close"})).text for _ in range(6)]
    by_pid = answered_by(log, "usage-events")
    assert len(by_pid) == 2, by_pid  # the batches went to both workers
    for text in scrapes:  # whichever worker answered the scrape
        assert value(text, "tally_events_accepted_total") == sent * 10
        assert value(text, "tally_requests_total") >= sent
