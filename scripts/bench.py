"""Benchmark Tally over HTTP against PostgreSQL: ingestion rate, totals latency and throughput, memory.

    nox -s bench                       # 1,000,000 events (several minutes)
    nox -s bench -- --events 20000     # the smoke run CI does

It creates a fresh PostgreSQL database, starts one service worker (uvicorn, or granian with ``--server``) and
loads events through the real ingestion route with several concurrent clients, three ways: time-ordered
batches of features without dimensions, backfill batches (each spread at random over one month) of the same
features, and the heavy tenant's events with a model and a region each (50 x 5 values), each load sent first to
the ingestion floor of ``bench_floor.py`` (one asyncpg statement per batch), so each is a share of it. It then measures
``/health/live`` and usage-totals (five features, one window) for a light tenant (100 events in the window)
and the heavy one (N/10 events in the window), one dimensioned feature grouped by model, by model and region,
and filtered to a region; the same totals with two workers; and both floors of ``bench_floor.py`` (a bare
Litestar app answering the same five structs from memory, and the same app running one prepared asyncpg
query), started the same way, so every read is also a share of its floor. A concurrency section sends single-event
batches from 64 clients at once to one worker with the default pool, and from 16 to one with a pool of 2: every
answer's status, the slowest, and the events counted against those acknowledged. Last, a worker configured to sum
raw events (the naive way) must give the same totals. It prints each figure and a table of the targets
(met or missed) and writes the figures as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "service"))

from tally.db.migrate import upgrade  # noqa: E402
from tally.http.auth import Role, issue_token  # noqa: E402

SECRET = "bench-secret-" + "x" * 32
FEATURES = ["api_calls", "llm_tokens", "storage_gb_hours", "gpu_seconds"]  # with dimensions: the heavy tenant's
PLAIN_FEATURES = ["requests", "emails", "jobs", "seats"]  # without: the time-ordered and backfill loads'
READ_FEATURES = [*FEATURES, PLAIN_FEATURES[0]]  # the five features of every totals read (and of the floors)
SPAN_START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_MONTHS = 10  # the heavy tenant's events spread over Jan..Oct: one month holds about N/10
WINDOW = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
BACKFILL_MONTH = (datetime(2025, 12, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC))
DIMENSIONS = ["model", "region"]  # declared by every feature of FEATURES before loading
MODELS = [f"m{k:02d}" for k in range(50)]
REGIONS = ["eu", "us", "ap", "sa", "af"]
COMBINATIONS = [(model, region) for model in MODELS for region in REGIONS]
GROUPED_FEATURE = "llm_tokens"
# The grouped queries measured for GROUPED_FEATURE, each against the same feature's ungrouped totals.
GROUPED_QUERIES: dict[str, list[tuple[str, str]]] = {
    "by model": [("group_by", "model")],
    "by model, region": [("group_by", "model"), ("group_by", "region")],
    "region=eu, by model": [("filter", "region=eu"), ("group_by", "model")],
}
GROUPED_TARGET = 2.0  # a grouped p50 at most this many times the ungrouped one
ENTITLEMENT_FEATURE = "api_calls"
TALLY_APP = "tally.app:create_app"
FLOOR_APP = "bench_floor:create_app"  # scripts/bench_floor.py


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="heavy tenant's events (default 1,000,000)")
    parser.add_argument(
        "--plain-events", type=int, help="events of each of the time-ordered and backfill loads (default: events / 4)"
    )
    parser.add_argument("--clients", type=int, default=4, help="concurrent ingestion clients (default 4)")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each read measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent readers for requests/s")
    parser.add_argument(
        "--rounds", type=int, default=5, help="rounds of each floor and its read or load measured in turn (default 5)"
    )
    parser.add_argument("--server", choices=["uvicorn", "granian"], default="uvicorn", help="ASGI server (all apps)")
    parser.add_argument("--scale-workers", type=int, default=2, help="workers of the scaling measurement (default 2)")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
        help="an admin URL: the benchmark creates and drops its own database next to it",
    )
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results" / "bench.json")
    parser.add_argument("--keep-database", action="store_true", help="leave the database for inspection")
    return parser.parse_args()


async def admin(url: str, statement: str) -> None:
    engine = create_async_engine(url, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            await connection.execute(text(statement))
    finally:
        await engine.dispose()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def server_command(kind: str, app: str, port: int, workers: int) -> list[str]:
    """The same server, for Tally and the floors alike (``--factory``: both apps are built by a function)."""
    common = ["--factory", "--port", str(port), "--workers", str(workers), "--log-level", "warning"]
    if kind == "granian":
        return [sys.executable, "-m", "granian", "--interface", "asgi", *common, app]
    return [sys.executable, "-m", "uvicorn", *common, app]


SERVED: dict[str, int] = {}  # base URL -> the server's pid, for the CPU each measurement costs its workers


def cpu_seconds(pids: Sequence[int]) -> float:
    """User + system CPU time the processes have used so far (/proc/<pid>/stat, fields 14 and 15)."""
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(log: Path, *, kind: str, app: str = TALLY_APP, workers: int = 1, **env: str):  # type: ignore[no-untyped-def]
    port = free_port()
    # Log level WARNING: the service's one-line-per-request access log (INFO) is left out of the figures;
    # docs/benchmarks.md gives its cost separately.
    environ = {
        **os.environ,
        "TALLY_JWT_SECRET": SECRET,
        "TALLY_LOG_LEVEL": "WARNING",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "scripts"), os.environ.get("PYTHONPATH", "")]),
        **env,
    }
    with log.open("ab") as out:
        process = subprocess.Popen(server_command(kind, app, port, workers), env=environ, stdout=out, stderr=out)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            if httpx.get(f"{base}/health/ready", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"bench: server did not start, see {log}")
        time.sleep(0.1)
    SERVED[base] = process.pid
    try:
        yield base, process.pid
    finally:
        del SERVED[base]
        process.terminate()
        process.wait(timeout=30)


def worker_pids(pid: int) -> list[int]:
    """The processes that run the app: the server's children (several workers, or granian's one), else itself."""
    children = [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    workers = [w for child in children for w in worker_pids(child)]
    return workers or [pid]


def peak_rss_mb(pid: int) -> float:
    """The largest peak RSS of the server's workers."""
    peaks = []
    for worker in worker_pids(pid):
        for line in Path(f"/proc/{worker}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return max(peaks, default=float("nan"))


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure_export(base: str, pid: int, tenant: uuid.UUID, events: int) -> dict[str, Any]:
    """Stream every event of the heavy tenant's whole span as CSV while sampling the service's RSS every 20 ms:
    flat memory means the peak during the export stays near the RSS before it, whatever the event count."""
    period = {
        "period_start": SPAN_START.isoformat(),
        "period_end": SPAN_START.replace(month=SPAN_START.month + SPAN_MONTHS).isoformat(),
    }
    headers = {"Authorization": f"Bearer {token(Role.VIEWER, tenant)}", "Accept": "text/csv"}
    samples: list[float] = []

    async def sample() -> None:
        while True:
            samples.append(rss_mb(pid))
            await asyncio.sleep(0.02)

    before = rss_mb(pid)
    sampler = asyncio.create_task(sample())
    lines = size = 0
    started = time.perf_counter()
    try:
        async with httpx.AsyncClient(timeout=None) as http:
            url = f"{base}/api/v1/billing/tenants/{tenant}/usage-events"
            async with http.stream("GET", url, params=period, headers=headers) as response:
                response.raise_for_status()
                async for chunk in response.aiter_raw():
                    size += len(chunk)
                    # LF, not CRLF: a chunk may end between a line's CR and its LF. No field of the benchmark's
                    # events holds a line break, so every LF ends a row.
                    lines += chunk.count(b"\n")
    finally:
        sampler.cancel()
    seconds = time.perf_counter() - started
    if lines - 1 != events:
        raise SystemExit(f"bench: the CSV export held {lines - 1:,} events, not {events:,}")
    peak = max([before, *samples])
    return {
        "rows": lines - 1,
        "megabytes": size / 1e6,
        "seconds": seconds,
        "rows_per_s": (lines - 1) / seconds,
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_growth_mb": peak - before,
        "samples": len(samples),
    }


def shuffled_combinations(rng: random.Random) -> Iterator[tuple[str, str]]:
    """Every (model, region) once per round, each round in a new seeded order: any 2 x 250 consecutive
    values hold every combination."""
    while True:
        deck = COMBINATIONS.copy()
        rng.shuffle(deck)
        yield from deck


def heavy_batches(n: int, batch: int, seed: int = 1) -> list[bytes]:
    """The heavy tenant's events over SPAN_MONTHS in time order, as a metering pipeline sends them (each
    batch covers a short stretch of time), with 5% arriving up to a day late, each with a model and a
    region (per feature, see ``shuffled_combinations``; a generator of their own, so quantities and times
    are those of the benchmark before dimensions). Pre-encoded to spare the client's CPU for the server."""
    rng = random.Random(seed)
    combinations = [shuffled_combinations(random.Random(seed * 100 + k)) for k in range(len(FEATURES))]
    span = (SPAN_START.replace(month=SPAN_START.month + SPAN_MONTHS) - SPAN_START).total_seconds()
    events = []
    for i in range(n):
        at = SPAN_START + timedelta(seconds=span * i / n)
        if rng.random() < 0.05:
            at -= timedelta(seconds=rng.random() * 86400)
        model, region = next(combinations[i % len(FEATURES)])
        events.append(
            {
                "feature_key": FEATURES[i % len(FEATURES)],
                "quantity": rng.randint(1, 1000),
                "idempotency_key": f"h-{i}",
                "timestamp": max(at, SPAN_START).isoformat(),
                "dimensions": {"model": model, "region": region},
            }
        )
    return encoded(events, batch)


def plain_batches(n: int, batch: int, *, backfill: bool, seed: int = 3) -> list[bytes]:
    """Events of PLAIN_FEATURES (no dimensions): time-ordered over SPAN_MONTHS like the heavy tenant's, or, for a
    backfill, each event at a random instant of BACKFILL_MONTH (every batch touches the whole month)."""
    rng = random.Random(seed)
    span = (SPAN_START.replace(month=SPAN_START.month + SPAN_MONTHS) - SPAN_START).total_seconds()
    month = (BACKFILL_MONTH[1] - BACKFILL_MONTH[0]).total_seconds()
    events = []
    for i in range(n):
        if backfill:
            at = BACKFILL_MONTH[0] + timedelta(seconds=rng.random() * month)
        else:
            at = SPAN_START + timedelta(seconds=span * i / n)
        events.append(
            {
                "feature_key": PLAIN_FEATURES[i % len(PLAIN_FEATURES)],
                "quantity": rng.randint(1, 1000),
                "idempotency_key": f"p-{i}",
                "timestamp": at.isoformat(),
            }
        )
    return encoded(events, batch)


def encoded(events: list[dict[str, Any]], batch: int) -> list[bytes]:
    encoder = msgspec.json.Encoder()
    return [encoder.encode({"events": events[first : first + batch]}) for first in range(0, len(events), batch)]


async def ingest(base: str, tenant: uuid.UUID, batches: list[bytes], clients: int, label: str) -> dict[str, float]:
    """Send every batch with ``clients`` concurrent clients; print progress; return events per second and the
    server's worker CPU per event (µs)."""
    headers = {"Authorization": f"Bearer {token(Role.PLATFORM)}", "Content-Type": "application/json"}
    url = f"{base}/api/v1/billing/tenants/{tenant}/usage-events"
    queue = list(reversed(batches))
    total = sum(body.count(b'"idempotency_key"') for body in batches)
    done = 0
    workers = worker_pids(SERVED[base]) if base in SERVED else []
    cpu_before = cpu_seconds(workers)
    started = time.perf_counter()

    async def worker(http: httpx.AsyncClient) -> None:
        nonlocal done
        while queue:
            body = queue.pop()
            r = await http.post(url, content=body, headers=headers)
            if r.status_code != 200:
                raise SystemExit(f"bench: ingestion answered {r.status_code}: {r.text[:300]}")
            done += r.json()["accepted"]

    async def progress() -> None:
        while done < total:
            elapsed = time.perf_counter() - started
            rate = done / elapsed if elapsed else 0
            bar = "#" * int(30 * done / total)
            print(f"\r  {label} [{bar:<30}] {done:>10,}/{total:,} events  {rate:>8,.0f} ev/s", end="", flush=True)
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(timeout=120) as http:
        ticker = asyncio.create_task(progress())
        await asyncio.gather(*(worker(http) for _ in range(clients)))
        ticker.cancel()
    elapsed = time.perf_counter() - started
    cpu_us = (cpu_seconds(workers) - cpu_before) * 1e6 / done if workers and done else float("nan")
    print(f"\r  {label}: {done:,} events in {elapsed:.1f} s, {done / elapsed:,.0f} events/s, {cpu_us:.1f} µs CPU/event")
    return {"events_per_s": done / elapsed, "cpu_us_per_event": cpu_us, "events": done, "seconds": elapsed}


async def ingest_in_turn(
    base: str, floor_base: str, tenant: uuid.UUID, batches: list[bytes], args: argparse.Namespace, label: str
) -> dict[str, Any]:
    """The batches in ``args.rounds`` consecutive chunks, each sent to the ingestion floor (a tenant of its own)
    and then to Tally: both see the same machine and tables of the same size, and a burst of stolen time spoils one
    round's share, not the figure (as for the reads, see ``in_turn``). Events/s and CPU per event over all rounds,
    each round's share by events/s, and their median."""
    floor_tenant, size = uuid.uuid4(), -(-len(batches) // args.rounds)
    floors, tallies = [], []
    for n, first in enumerate(range(0, len(batches), size), start=1):
        chunk = batches[first : first + size]
        floors.append(
            await ingest(floor_base, floor_tenant, chunk, args.clients, f"{label}, ingestion floor, round {n}")
        )
        tallies.append(await ingest(base, tenant, chunk, args.clients, f"{label}, round {n}"))

    def overall(runs: list[dict[str, float]]) -> tuple[float, float]:
        events = sum(r["events"] for r in runs)
        return events / sum(r["seconds"] for r in runs), sum(r["cpu_us_per_event"] * r["events"] for r in runs) / events

    shares = [t["events_per_s"] / f["events_per_s"] for f, t in zip(floors, tallies, strict=True)]
    (rate, cpu), (floor_rate, floor_cpu) = overall(tallies), overall(floors)
    return {
        "events_per_s": rate,
        "cpu_us_per_event": cpu,
        "floor_events_per_s": floor_rate,
        "floor_cpu_us_per_event": floor_cpu,
        "shares_by_round": shares,
        "median_share": statistics.median(shares),
    }


def token(role: Role, tenant: uuid.UUID | None = None) -> str:
    return issue_token(SECRET, role, tenant, subject="bench", ttl=timedelta(hours=6))


class KeepAlive:
    """A minimal HTTP/1.1 keep-alive client for the read loops. httpx spends more CPU per request than the
    service does, so on a 2-core machine it would measure itself; this sends pre-built request bytes and
    reads one response (status line, headers, Content-Length body) per request."""

    def __init__(self, base: str) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port = host, int(port)

    async def __aenter__(self) -> KeepAlive:
        self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        return self

    async def __aexit__(self, *_: object) -> None:
        self.writer.close()

    async def send(self, request: bytes) -> bytes:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        body = await self.reader.readexactly(length)
        if status != 200:
            raise SystemExit(f"bench: {request.split(b' ', 2)[1][:80]!r} answered {status}: {body[:300]!r}")
        return body


def totals_query(params: Sequence[tuple[str, str]] = ()) -> httpx.QueryParams:
    """usage-totals over WINDOW, with ``params`` added (keys may repeat, e.g. group_by)."""
    return httpx.QueryParams([("period_start", WINDOW[0].isoformat()), ("period_end", WINDOW[1].isoformat()), *params])


def five_features() -> list[tuple[str, str]]:
    return [("feature_keys", key) for key in READ_FEATURES]


def totals_target(tenant: uuid.UUID, params: Sequence[tuple[str, str]]) -> tuple[str, str]:
    """A totals read as (path and query, Authorization value)."""
    return (
        f"/api/v1/billing/tenants/{tenant}/usage-totals?{totals_query(params)}",
        f"Bearer {token(Role.VIEWER, tenant)}",
    )


async def measure(
    base: str, target: str, authorization: str | None, seconds: float, concurrency: int
) -> dict[str, Any]:
    """Latency (one client, sequential requests) and throughput (``concurrency`` clients) of one GET."""
    auth = f"Authorization: {authorization}\r\n" if authorization else ""
    request = f"GET {target} HTTP/1.1\r\nHost: {base.removeprefix('http://')}\r\n{auth}\r\n".encode()
    async with KeepAlive(base) as client:
        for _ in range(50):  # warm up connections, caches and the query plan
            body = await client.send(request)
        latencies = []
        stop = time.perf_counter() + seconds / 2
        while time.perf_counter() < stop:
            t0 = time.perf_counter()
            await client.send(request)
            latencies.append((time.perf_counter() - t0) * 1000)
    count = 0
    workers = worker_pids(SERVED[base]) if base in SERVED else []
    cpu_before = cpu_seconds(workers)
    stop = time.perf_counter() + seconds / 2

    async def reader() -> None:
        nonlocal count
        async with KeepAlive(base) as own:
            while time.perf_counter() < stop:
                await own.send(request)
                count += 1

    t0 = time.perf_counter()
    await asyncio.gather(*(reader() for _ in range(concurrency)))
    rps = count / (time.perf_counter() - t0)
    # The workers' CPU per request under that load: unlike requests/s, barely moved by what else runs on the
    # machine (a descheduled worker spends no CPU), so its ratio to a floor's is the steadier share.
    cpu_ms = (cpu_seconds(workers) - cpu_before) * 1000 / count if workers else float("nan")
    latencies.sort()
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "requests_per_s": rps,
        "cpu_ms_per_request": cpu_ms,
        "samples": len(latencies),
        "body": json.loads(body),
    }


async def measure_totals(
    base: str, tenant: uuid.UUID, seconds: float, concurrency: int, params: Sequence[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """One tenant's totals (``params``: the query's parameters besides the window; default: the five features)."""
    measured = await measure(
        base, *totals_target(tenant, five_features() if params is None else params), seconds, concurrency
    )
    rows = measured.pop("body")
    return {**measured, "total_quantity": sum(row["quantity"] for row in rows), "rows": len(rows)}


@contextmanager
def floors(args: argparse.Namespace, logs: Path, db_url: str):  # type: ignore[no-untyped-def]
    """Both floor apps of bench_floor.py, with the server Tally runs on, up at the same time as Tally: each floor is
    measured just before the read it is the floor of, so both see the same load on the machine."""
    features = ",".join(READ_FEATURES)
    dsn = db_url.replace("postgresql+asyncpg://", "postgresql://", 1)
    log = logs / "server-floor.log"
    with (
        server(log, kind=args.server, app=FLOOR_APP, BENCH_FLOOR_FEATURES=features) as (framework, _),
        server(log, kind=args.server, app=FLOOR_APP, BENCH_FLOOR_FEATURES=features, BENCH_FLOOR_DATABASE=dsn) as (
            database,
            _,
        ),
    ):
        yield {"framework": framework, "database": database}


async def measure_floor(
    name: str, base: str, light: uuid.UUID, args: argparse.Namespace, light_totals: list[tuple[str, int]]
) -> dict[str, Any]:
    """One floor's read of the light tenant's five features (the database floor's must be what Tally answered)."""
    target = f"/api/v1/billing/tenants/{light}/usage-totals"
    measured = await measure(base, target, None, args.seconds, args.concurrency)
    rows = measured.pop("body")
    if name == "database" and [(r["feature_key"], r["quantity"]) for r in rows] != light_totals:
        raise SystemExit(f"bench: the database floor answered {rows}, Tally {light_totals}")
    return measured


async def in_turn(
    floor: Callable[[], Awaitable[dict[str, Any]]], read: Callable[[], Awaitable[dict[str, Any]]], rounds: int
) -> dict[str, Any]:
    """A read's share of its floor, the two measured in turn ``rounds`` times: each round's share by requests/s and
    by the workers' CPU per request, and the median of each. On a shared machine one measurement of a floor moved by
    a quarter within a run (stolen time comes in bursts); a burst then spoils one round, not the figure."""
    by_rps, by_cpu = [], []
    for _ in range(rounds):
        f, r = await floor(), await read()
        by_rps.append(r["requests_per_s"] / f["requests_per_s"])
        by_cpu.append(f["cpu_ms_per_request"] / r["cpu_ms_per_request"])
    return {
        "by_rps": by_rps,
        "by_cpu": by_cpu,
        "median_by_rps": statistics.median(by_rps),
        "median_by_cpu": statistics.median(by_cpu),
    }


async def measure_entitlements(
    base: str, tenants: dict[str, uuid.UUID], seconds: float, concurrency: int
) -> dict[str, dict[str, Any]]:
    """The entitlement check (one feature, the hot path an application calls per request) for each tenant,
    after putting it on a plan that limits ENTITLEMENT_FEATURE per month; its ``used`` is checked against
    that month's usage-totals."""
    headers = {"Authorization": f"Bearer {token(Role.PLATFORM)}"}
    plan = {"name": "Bench", "limits": [{"feature_key": ENTITLEMENT_FEATURE, "limit": 10**12, "enforcement": "reject"}]}
    measured = {}
    async with httpx.AsyncClient() as http:
        (await http.put(f"{base}/api/v1/billing/plans/bench", json=plan, headers=headers)).raise_for_status()
        for name, tenant in tenants.items():
            url = f"{base}/api/v1/billing/tenants/{tenant}/plan"
            (await http.put(url, json={"plan_key": "bench"}, headers=headers)).raise_for_status()
            target = f"/api/v1/billing/tenants/{tenant}/entitlements/{ENTITLEMENT_FEATURE}"
            result = await measure(base, target, f"Bearer {token(Role.VIEWER, tenant)}", seconds, concurrency)
            used = result.pop("body")["used"]
            totals = await http.get(
                f"{base}/api/v1/billing/tenants/{tenant}/usage-totals",
                params={"feature_keys": ENTITLEMENT_FEATURE},
                headers={"Authorization": f"Bearer {token(Role.VIEWER, tenant)}"},
            )
            if used != totals.json()[0]["quantity"]:
                raise SystemExit(f"bench: the {name} tenant's entitlement differs from its month's usage-totals")
            measured[name] = {**result, "used": used}
    return measured


async def fetch_totals(base: str, tenant: uuid.UUID, params: Sequence[tuple[str, str]]) -> list[dict[str, Any]]:
    """One usage-totals answer over WINDOW, for the correctness checks."""
    async with httpx.AsyncClient(timeout=60) as http:
        r = await http.get(
            f"{base}/api/v1/billing/tenants/{tenant}/usage-totals",
            params=totals_query(params),
            headers={"Authorization": f"Bearer {token(Role.VIEWER, tenant)}"},
        )
    if r.status_code != 200:
        raise SystemExit(f"bench: totals answered {r.status_code}: {r.text[:300]}")
    rows: list[dict[str, Any]] = r.json()
    return rows


async def measure_grouped(base: str, heavy: uuid.UUID, seconds: float, concurrency: int) -> dict[str, Any]:
    """GROUPED_FEATURE's totals for the heavy tenant, ungrouped and as each of GROUPED_QUERIES."""
    only = [("feature_keys", GROUPED_FEATURE)]
    measured = {"ungrouped": await measure_totals(base, heavy, seconds, concurrency, only)}
    for name, params in GROUPED_QUERIES.items():
        measured[name] = await measure_totals(base, heavy, seconds, concurrency, [*only, *params])
    return measured


async def check_grouped(base: str, heavy: uuid.UUID, grouped: dict[str, Any]) -> list[dict[str, Any]]:
    """Fail unless the grouped answers add up to the ungrouped total, every combination of model and region
    occurs in the window and the region filter keeps exactly that region's rows. Return the rows by model
    and region, for the naive worker to match."""
    only = [("feature_keys", GROUPED_FEATURE)]
    total = grouped["ungrouped"]["total_quantity"]
    for name in ("by model", "by model, region"):  # unfiltered: every event in one of the rows
        if grouped[name]["total_quantity"] != total:
            raise SystemExit(
                f"bench: {GROUPED_FEATURE} {name} adds up to {grouped[name]['total_quantity']:,}, "
                f"ungrouped it is {total:,}"
            )
    both = await fetch_totals(base, heavy, [*only, *GROUPED_QUERIES["by model, region"]])
    seen = {(row["dimensions"]["model"], row["dimensions"]["region"]) for row in both}
    if seen != set(COMBINATIONS):
        raise SystemExit(
            f"bench: {len(seen)} of {len(COMBINATIONS)} model x region combinations in the window "
            "(too few events? each feature needs about 500 in the window)"
        )
    eu = await fetch_totals(base, heavy, [*only, *GROUPED_QUERIES["region=eu, by model"]])
    eu_rows = [row for row in both if row["dimensions"]["region"] == "eu"]
    if sum(row["quantity"] for row in eu) != sum(row["quantity"] for row in eu_rows):
        raise SystemExit(f"bench: {GROUPED_FEATURE} filtered to region=eu differs from its eu rows grouped")
    return both


async def events_in_window(url: str, tenant: uuid.UUID) -> int:
    engine = create_async_engine(url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            result = await connection.execute(
                text("SELECT count(*) FROM usage_event WHERE tenant_id = :t AND timestamp >= :s AND timestamp < :e"),
                {"t": tenant, "s": WINDOW[0], "e": WINDOW[1]},
            )
            return int(result.scalar_one())
    finally:
        await engine.dispose()


CONCURRENCY_TENANTS = 8
CONCURRENCY_ROUNDS = 8  # single-event batches per client


async def measure_concurrency(base: str, db_url: str, clients: int) -> dict[str, Any]:
    """``clients`` clients at once, each sending CONCURRENCY_ROUNDS single-event batches (one after the other) to
    one of CONCURRENCY_TENANTS new tenants: every answer's status, the slowest answer, and the events counted in the
    database against those acknowledged."""
    tenants = [uuid.uuid4() for _ in range(CONCURRENCY_TENANTS)]
    headers = {"Authorization": f"Bearer {token(Role.PLATFORM)}", "Content-Type": "application/json"}
    statuses: dict[int, int] = {}
    acknowledged = 0
    slowest = 0.0

    async def client(n: int) -> None:
        nonlocal acknowledged, slowest
        url = f"{base}/api/v1/billing/tenants/{tenants[n % len(tenants)]}/usage-events"
        # A connection of its own, busy from one request to the next: a shared pool's idle connection can be closed
        # by the server's keep-alive timeout just as it is reused.
        async with httpx.AsyncClient(timeout=120) as http:
            for i in range(CONCURRENCY_ROUNDS):
                event = {"feature_key": PLAIN_FEATURES[0], "quantity": 1, "idempotency_key": f"c-{n}-{i}"}
                t0 = time.perf_counter()
                r = await http.post(url, content=msgspec.json.encode({"events": [event]}), headers=headers)
                slowest = max(slowest, time.perf_counter() - t0)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1
                if r.status_code == 200:
                    acknowledged += r.json()["accepted"]

    await asyncio.gather(*(client(n) for n in range(clients)))
    engine = create_async_engine(db_url, poolclass=NullPool)
    try:
        async with engine.connect() as connection:
            counted = await connection.scalar(
                text("SELECT count(*) FROM usage_event WHERE tenant_id = ANY(:tenants)"), {"tenants": tenants}
            )
    finally:
        await engine.dispose()
    return {
        "clients": clients,
        "requests": clients * CONCURRENCY_ROUNDS,
        "statuses": {str(code): count for code, count in sorted(statuses.items())},
        "slowest_s": slowest,
        "acknowledged": acknowledged,
        "counted": counted,
    }


def plain_events(args: argparse.Namespace) -> int:
    """Events of each of the time-ordered and backfill loads."""
    return args.plain_events if args.plain_events is not None else args.events // 4


def light_events() -> list[dict[str, Any]]:
    """The light tenant's 100 events, spread over WINDOW's first 29 days (scripts/read_cost.py loads them too)."""
    rng = random.Random(2)
    return [
        {
            "feature_key": FEATURES[i % len(FEATURES)],
            "quantity": rng.randint(1, 1000),
            "idempotency_key": f"l-{i}",
            "timestamp": (WINDOW[0] + timedelta(seconds=rng.random() * 29 * 86400)).isoformat(),
        }
        for i in range(100)
    ]


async def load(
    base: str, floor_base: str, tenants: dict[str, uuid.UUID], args: argparse.Namespace
) -> dict[str, dict[str, Any]]:
    """The catalog, the light tenant's 100 events, then the three measured loads, each in turn with the ingestion
    floor's same load (``ingest_in_turn``): events per second and worker CPU per event of each, and of its floor."""
    platform = {"Authorization": f"Bearer {token(Role.PLATFORM)}"}
    async with httpx.AsyncClient() as http:
        for key in [*FEATURES, *PLAIN_FEATURES]:
            declared = DIMENSIONS if key in FEATURES else []
            r = await http.put(
                f"{base}/api/v1/billing/features/{key}",
                json={"unit": "units", "dimensions": declared},
                headers=platform,
            )
            r.raise_for_status()
        r = await http.post(
            f"{base}/api/v1/billing/tenants/{tenants['light']}/usage-events",
            json={"events": light_events()},
            headers=platform,
        )
        r.raise_for_status()
    plain = plain_events(args)
    loads = {
        "time-ordered": (tenants["ordered"], plain_batches(plain, args.batch, backfill=False)),
        "backfill": (tenants["backfill"], plain_batches(plain, args.batch, backfill=True)),
        "dimensions": (tenants["heavy"], heavy_batches(args.events, args.batch)),
    }
    return {
        name: await ingest_in_turn(base, floor_base, tenant, batches, args, name)
        for name, (tenant, batches) in loads.items()
    }


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"tally_bench_{uuid.uuid4().hex[:8]}"
    db_url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    await admin(args.postgres_url, f"CREATE DATABASE {name}")
    logs = args.output.parent
    logs.mkdir(parents=True, exist_ok=True)
    kind, seconds, concurrency = args.server, args.seconds, args.concurrency
    tenants = {role: uuid.uuid4() for role in ("heavy", "light", "ordered", "backfill")}
    heavy, light = tenants["heavy"], tenants["light"]
    load_average = os.getloadavg()
    try:
        await asyncio.to_thread(upgrade, db_url)
        print(
            f"bench: {args.events:,} events, {args.clients} clients, batches of {args.batch}, {kind}, database {name}"
        )
        with (
            server(logs / "server.log", kind=kind, TALLY_DATABASE_URL=db_url) as (base, pid),
            floors(args, logs, db_url) as floor_bases,
        ):
            rates = await load(base, floor_bases["database"], tenants, args)
            await admin(db_url, "VACUUM ANALYZE")
            light_totals = [(r["feature_key"], r["quantity"]) for r in await fetch_totals(base, light, five_features())]
            print("  measuring the framework floor, then /health/live")
            floor = {"framework": await measure_floor("framework", floor_bases["framework"], light, args, light_totals)}
            live = await measure(base, "/health/live", None, seconds, concurrency)
            live.pop("body")
            print("  measuring the database floor, then totals from buckets, one worker")
            floor["database"] = await measure_floor("database", floor_bases["database"], light, args, light_totals)
            bucketed = {
                "light": await measure_totals(base, light, seconds, concurrency),
                "heavy": await measure_totals(base, heavy, seconds, concurrency),
            }
            print(f"  measuring {GROUPED_FEATURE} totals grouped by dimensions")
            grouped = await measure_grouped(base, heavy, seconds, concurrency)
            print("  measuring the database floor again, then the entitlement check")
            floor["database, before the entitlement check"] = await measure_floor(
                "database", floor_bases["database"], light, args, light_totals
            )
            entitled = await measure_entitlements(base, {"light": light, "heavy": heavy}, seconds, concurrency)
            print(f"  each floor and its read in turn, {args.rounds} rounds")

            def database_floor() -> Awaitable[dict[str, Any]]:
                return measure_floor("database", floor_bases["database"], light, args, light_totals)

            check = f"/api/v1/billing/tenants/{light}/entitlements/{ENTITLEMENT_FEATURE}"
            shares = {
                "totals": await in_turn(
                    database_floor, lambda: measure_totals(base, light, seconds, concurrency), args.rounds
                ),
                "entitlement check": await in_turn(
                    database_floor,
                    lambda: measure(base, check, f"Bearer {token(Role.VIEWER, light)}", seconds, concurrency),
                    args.rounds,
                ),
                "/health/live": await in_turn(
                    lambda: measure_floor("framework", floor_bases["framework"], light, args, light_totals),
                    lambda: measure(base, "/health/live", None, seconds, concurrency),
                    args.rounds,
                ),
            }
            rss = peak_rss_mb(pid)
            by_model_region = await check_grouped(base, heavy, grouped)
            print("  streaming the heavy tenant's every event as CSV, sampling the service's memory")
            export = await measure_export(base, pid, heavy, args.events)
        print(f"  measuring totals with {args.scale_workers} workers")
        with server(logs / "server.log", kind=kind, workers=args.scale_workers, TALLY_DATABASE_URL=db_url) as (
            base,
            pid,
        ):
            scaled = await measure_totals(base, light, seconds, concurrency)
            batches = plain_batches(plain_events(args), args.batch, backfill=False, seed=5)
            rates[f"time-ordered, {args.scale_workers} workers"] = await ingest(
                base, uuid.uuid4(), batches, args.clients, f"time-ordered, {args.scale_workers} workers"
            )
            scaled_rss = peak_rss_mb(pid)
        concurrency_section = {}
        for clients, pool in ((64, None), (16, 2)):
            print(f"  {clients} clients of single-event batches, one worker, pool {pool or 'default'}")
            env = {"TALLY_DATABASE_URL": db_url, **({"TALLY_DB_POOL_SIZE": str(pool)} if pool else {})}
            with server(logs / "server-concurrency.log", kind=kind, **env) as (base, _):
                measured = await measure_concurrency(base, db_url, clients)
            concurrency_section[f"{clients} clients, pool {pool or 'default'}"] = measured
        print("  measuring totals from raw events (naive)")
        with server(logs / "server-naive.log", kind=kind, TALLY_DATABASE_URL=db_url, TALLY_TOTALS_SOURCE="events") as (
            base,
            _,
        ):
            naive = {
                "light": await measure_totals(base, light, seconds, concurrency),
                "heavy": await measure_totals(base, heavy, seconds, concurrency),
            }
            naive_rows = await fetch_totals(
                base, heavy, [("feature_keys", GROUPED_FEATURE), *GROUPED_QUERIES["by model, region"]]
            )
            if naive_rows != by_model_region:
                raise SystemExit(f"bench: {GROUPED_FEATURE} by model and region differs between buckets and raw events")
        in_window = await events_in_window(db_url, heavy)
    finally:
        if args.keep_database:
            print(f"bench: kept database {name}")
        else:
            await admin(args.postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    for tenant_kind in ("light", "heavy"):
        if bucketed[tenant_kind]["total_quantity"] != naive[tenant_kind]["total_quantity"]:
            raise SystemExit(f"bench: bucketed and naive totals differ for the {tenant_kind} tenant")
    return {
        "events": args.events,
        "heavy_events_in_window": in_window,
        "clients": args.clients,
        "batch": args.batch,
        "server": kind,
        "ingestion": rates,
        "dimensions": {"model": len(MODELS), "region": len(REGIONS)},
        "floors": floor,
        "shares_in_turn": shares,
        "rounds": args.rounds,
        "health_live": live,
        "totals": {"buckets": bucketed, "naive": naive, f"{args.scale_workers} workers": scaled},
        "scale_workers": args.scale_workers,
        "grouped": {"feature": GROUPED_FEATURE, "totals": grouped},
        "heavy_over_light_p50": bucketed["heavy"]["p50_ms"] / bucketed["light"]["p50_ms"],
        "naive_over_buckets_heavy_p50": naive["heavy"]["p50_ms"] / bucketed["heavy"]["p50_ms"],
        "grouped_over_ungrouped_p50": {
            name: grouped[name]["p50_ms"] / grouped["ungrouped"]["p50_ms"] for name in GROUPED_QUERIES
        },
        "grouped_target": GROUPED_TARGET,
        "service_peak_rss_mb": max(rss, scaled_rss),
        "entitlement_check": entitled,
        "concurrency": concurrency_section,
        "csv_export": export,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
            "load_average_at_start": load_average,
            "load_average_at_end": os.getloadavg(),
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def figures(result: dict[str, Any]) -> str:
    """Every measured figure, one row each."""
    rows = [
        "| measure | value |",
        "| --- | --- |",
        f"| events loaded | {result['events']:,} with dimensions (heavy tenant: {result['heavy_events_in_window']:,} "
        "in the window) |",
    ]
    for name, m in result["ingestion"].items():
        figure = f"{m['events_per_s']:,.0f} events/s, {m['cpu_us_per_event']:.1f} µs CPU/event"
        if "floor_events_per_s" in m:
            figure += (
                f"; its floor {m['floor_events_per_s']:,.0f} events/s, {m['floor_cpu_us_per_event']:.1f} µs CPU/event"
            )
        rows.append(f"| ingestion, {name}, {result['clients']} clients, batches of {result['batch']} | {figure} |")

    def read(label: str, m: dict[str, Any]) -> str:
        return (
            f"| {label} | p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, {m['requests_per_s']:,.0f} req/s, "
            f"{m['cpu_ms_per_request']:.3f} ms CPU/req |"
        )

    rows.append(read("framework floor (bare app, 5 structs from memory)", result["floors"]["framework"]))
    rows.append(read("database floor (bare app, one prepared asyncpg query)", result["floors"]["database"]))
    rows.append(
        read(
            "database floor, measured again just before the entitlement check",
            result["floors"]["database, before the entitlement check"],
        )
    )
    rows.append(read("/health/live", result["health_live"]))
    for source in ("buckets", "naive"):
        for kind in ("light", "heavy"):
            rows.append(read(f"totals, 5 features, {kind} tenant, {source}", result["totals"][source][kind]))
    workers = result["scale_workers"]
    rows.append(read(f"totals, light tenant, {workers} workers", result["totals"][f"{workers} workers"]))
    feature = result["grouped"]["feature"]
    for name, m in result["grouped"]["totals"].items():
        rows.append(read(f"totals, heavy tenant, {feature} {name} ({m['rows']} rows)", m))
    for kind, m in result["entitlement_check"].items():
        rows.append(read(f"entitlement check (one feature, on a plan), {kind} tenant", m))
    export = result["csv_export"]
    rows.append(
        f"| CSV export of the heavy tenant's {export['rows']:,} events | {export['seconds']:.1f} s, "
        f"{export['rows_per_s']:,.0f} rows/s, {export['megabytes']:.1f} MB; service RSS {export['rss_before_mb']:.0f} "
        f"MB before, peak {export['rss_peak_mb']:.0f} MB (+{export['rss_growth_mb']:.1f} MB) |"
    )
    for name, m in result["concurrency"].items():
        answers = ", ".join(f"{count} x {code}" for code, count in m["statuses"].items())
        rows.append(
            f"| {name}, one worker, {m['requests']} single-event batches | {answers}; slowest {m['slowest_s']:.2f} s; "
            f"acknowledged {m['acknowledged']}, counted {m['counted']} |"
        )
    rows += [
        f"| naive p50 / buckets p50 (heavy) | {result['naive_over_buckets_heavy_p50']:.1f}x |",
        f"| service peak RSS per worker | {result['service_peak_rss_mb']:.0f} MB |",
        f"| server, load average at start / end | {result['server']}, "
        f"{' '.join(f'{x:.1f}' for x in result['machine']['load_average_at_start'])} / "
        f"{' '.join(f'{x:.1f}' for x in result['machine']['load_average_at_end'])} |",
    ]
    return "\n".join(rows)


def targets(result: dict[str, Any]) -> list[tuple[str, str, bool | None]]:
    """(target, figure, met) for every target of docs/benchmarks.md; met None: not measurable here."""
    buckets = result["totals"]["buckets"]
    light, heavy, live = buckets["light"], buckets["heavy"], result["health_live"]
    workers = result["scale_workers"]
    scaled = result["totals"][f"{workers} workers"]["requests_per_s"] / light["requests_per_s"]
    shares, rounds = result["shares_in_turn"], result["rounds"]

    def share_of(name: str, target: float) -> tuple[str, str, bool]:
        """A read's share of its floor: the median of the rounds measured in turn, by req/s (the target) and CPU."""
        m = shares[name]
        each = ", ".join(f"{x:.0%}" for x in m["by_rps"])
        figure = (
            f"median of {rounds} rounds {m['median_by_rps']:.0%} of its req/s ({each}); "
            f"{m['median_by_cpu']:.0%} by CPU per request"
        )
        floor = "framework" if name == "/health/live" else "database"
        what = f"{name}, light tenant" if name != "/health/live" else name
        return (f"{what} >= {target:.0%} of the {floor} floor", figure, m["median_by_rps"] >= target)

    rows: list[tuple[str, str, bool | None]] = [
        share_of("totals", 0.6),
        share_of("/health/live", 0.7),
        share_of("entitlement check", 0.6),
        (
            "heavy p50 / light p50 <= 1.2x",
            f"{result['heavy_over_light_p50']:.2f}x",
            result["heavy_over_light_p50"] <= 1.2,
        ),
    ]
    entitlement = result["entitlement_check"]["light"]
    for name, m in (
        ("totals light", light),
        ("totals heavy", heavy),
        ("entitlement check", entitlement),
        ("/health/live", live),
    ):
        ratio = m["p99_ms"] / m["p50_ms"]
        rows.append((f"{name}: p99 <= 3x p50", f"{ratio:.2f}x", ratio <= 3))
    rows.append((f"totals, {workers} workers >= 1.6x one worker", f"{scaled:.2f}x", scaled >= 1.6))
    for name, share in (("time-ordered", 0.7), ("backfill", 0.7), ("dimensions", 0.5)):
        m = result["ingestion"][name]
        by_cpu_event = m["floor_cpu_us_per_event"] / m["cpu_us_per_event"]
        each = ", ".join(f"{x:.0%}" for x in m["shares_by_round"])
        rows.append(
            (
                f"ingestion, {name}, >= {share:.0%} of the ingestion floor",
                f"median of {len(m['shares_by_round'])} rounds {m['median_share']:.0%} of its events/s ({each}); "
                "over all rounds "
                f"{m['events_per_s']:,.0f} of {m['floor_events_per_s']:,.0f} events/s; "
                f"{by_cpu_event:.0%} by CPU per event",
                m["median_share"] >= share,
            )
        )
    target = result["grouped_target"]
    feature = result["grouped"]["feature"]
    for name, ratio in result["grouped_over_ungrouped_p50"].items():
        rows.append((f"{feature} {name} p50 <= {target:.1f}x ungrouped", f"{ratio:.2f}x", ratio <= target))
    for name, m in result["concurrency"].items():
        all_200 = m["statuses"] == {"200": m["requests"]}
        rows.append(
            (
                f"{name}: every answer 200, acknowledged = counted",
                f"{', '.join(f'{c} x {code}' for code, c in m['statuses'].items())}; slowest {m['slowest_s']:.2f} s; "
                f"{m['acknowledged']} acknowledged, {m['counted']} counted",
                all_200 and m["acknowledged"] == m["counted"],
            )
        )
    rss = result["service_peak_rss_mb"]
    rows.append(("service RSS < 200 MB per worker", f"{rss:.0f} MB", rss < 200))
    growth = result["csv_export"]["rss_growth_mb"]
    rows.append(("CSV export of every event: service memory flat (< 20 MB growth)", f"+{growth:.1f} MB", growth < 20))
    return rows


def targets_table(rows: list[tuple[str, str, bool | None]]) -> str:
    verdict = {True: "met", False: "**missed**", None: "not measured"}
    return "\n".join(
        ["| target | figure | |", "| --- | --- | --- |", *(f"| {t} | {f} | {verdict[m]} |" for t, f, m in rows)]
    )


def main() -> int:
    args = parse_args()
    result = asyncio.run(run(args))
    result["targets"] = [{"target": t, "figure": f, "met": m} for t, f, m in targets(result)]
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(figures(result))
    print()
    print(targets_table(targets(result)))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"\nbench: figures written to {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
