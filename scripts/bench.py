"""Benchmark Tally over HTTP against PostgreSQL: ingestion rate, totals latency and throughput, memory.

    nox -s bench                       # 1,000,000 events (several minutes)
    nox -s bench -- --events 20000     # the smoke run CI does

It creates a fresh PostgreSQL database, starts one service worker (uvicorn), loads the events through
the real ingestion route with several concurrent clients, then measures usage-totals for a light
tenant (100 events in the window) and a heavy one (N/10 events in the window), both from the
pre-aggregated buckets and from a second worker configured to sum raw events (the naive way). Every
feature declares the dimensions model and region, and each of the heavy tenant's events carries one of
50 models x 5 regions: one feature's totals are also measured grouped by model, by model and region, and
filtered to a region, against the same feature's ungrouped totals, and the entitlement check of one
feature (both tenants on a plan limiting it). It prints a table and writes the figures as JSON.
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
from collections.abc import Iterator, Sequence
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

from tally.auth import Role, issue_token  # noqa: E402
from tally.db.migrate import upgrade  # noqa: E402

SECRET = "bench-secret-" + "x" * 32
FEATURES = ["api_calls", "llm_tokens", "storage_gb_hours", "gpu_seconds"]
SPAN_START = datetime(2026, 1, 1, tzinfo=UTC)
SPAN_MONTHS = 10  # the heavy tenant's events spread over Jan..Oct: one month holds about N/10
SPAN_END = SPAN_START.replace(month=SPAN_START.month + SPAN_MONTHS)
WINDOW = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
DIMENSIONS = ["model", "region"]  # declared by every feature before loading
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


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events to load (default 1,000,000)")
    parser.add_argument("--clients", type=int, default=4, help="concurrent ingestion clients (default 4)")
    parser.add_argument("--batch", type=int, default=1000, help="events per request (default 1000)")
    parser.add_argument("--seconds", type=float, default=10.0, help="duration of each totals measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent totals readers for requests/s")
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


@contextmanager
def server(database_url: str, log: Path, **env: str):  # type: ignore[no-untyped-def]
    port = free_port()
    # Log level WARNING: the service's one-line-per-request access log (INFO) is left out of the figures;
    # docs/benchmarks.md gives its cost separately.
    environ = {
        **os.environ,
        "TALLY_DATABASE_URL": database_url,
        "TALLY_JWT_SECRET": SECRET,
        "TALLY_LOG_LEVEL": "WARNING",
        **env,
    }
    command = [sys.executable, "-m", "uvicorn", "--factory", "tally.app:create_app", "--port", str(port)]
    with log.open("ab") as out:
        process = subprocess.Popen([*command, "--log-level", "warning"], env=environ, stdout=out, stderr=out)
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
    try:
        yield base, process.pid
    finally:
        process.terminate()
        process.wait(timeout=30)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_mb(pid: int) -> float:
    """The process's resident memory now (VmRSS), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def measure_export(base: str, pid: int, tenant: uuid.UUID, events: int) -> dict[str, Any]:
    """Stream every event of the heavy tenant's whole span as CSV while sampling the service's RSS every 20 ms:
    flat memory means the peak during the export stays near the RSS before it, whatever the event count."""
    period = {"period_start": SPAN_START.isoformat(), "period_end": SPAN_END.isoformat()}
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
                    lines += chunk.count(b"\r\n")  # no field of the benchmark's events holds a line break
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
    span = (SPAN_END - SPAN_START).total_seconds()
    encoder = msgspec.json.Encoder()
    out = []
    for first in range(0, n, batch):
        events = []
        for i in range(first, min(first + batch, n)):
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
        out.append(encoder.encode({"events": events}))
    return out


async def ingest(base: str, tenant: uuid.UUID, batches: list[bytes], clients: int, total: int) -> float:
    """Send every batch with ``clients`` concurrent clients; print progress; return events per second."""
    headers = {"Authorization": f"Bearer {token(Role.PLATFORM)}", "Content-Type": "application/json"}
    url = f"{base}/api/v1/billing/tenants/{tenant}/usage-events"
    queue = list(reversed(batches))
    done = 0
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
            print(f"\r  loading [{bar:<30}] {done:>10,}/{total:,} events  {rate:>8,.0f} ev/s", end="", flush=True)
            await asyncio.sleep(0.5)

    async with httpx.AsyncClient(timeout=120) as http:
        ticker = asyncio.create_task(progress())
        await asyncio.gather(*(worker(http) for _ in range(clients)))
        ticker.cancel()
    elapsed = time.perf_counter() - started
    print(f"\r  loaded {done:,} events in {elapsed:.1f} s{' ' * 40}")
    return done / elapsed


def token(role: Role, tenant: uuid.UUID | None = None) -> str:
    return issue_token(SECRET, role, tenant, subject="bench", ttl=timedelta(hours=6))


class KeepAlive:
    """A minimal HTTP/1.1 keep-alive client for the totals loops. httpx spends more CPU per request than the
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
            raise SystemExit(f"bench: totals answered {status}: {body[:300]!r}")
        return body


def totals_query(params: Sequence[tuple[str, str]] = ()) -> httpx.QueryParams:
    """usage-totals over WINDOW, with ``params`` added (keys may repeat, e.g. group_by)."""
    return httpx.QueryParams([("period_start", WINDOW[0].isoformat()), ("period_end", WINDOW[1].isoformat()), *params])


async def measure_totals(
    base: str, tenant: uuid.UUID, seconds: float, concurrency: int, params: Sequence[tuple[str, str]] = ()
) -> dict[str, float]:
    """Latency (one client, sequential requests) and throughput (``concurrency`` clients) of one tenant's totals
    (``params``: more query parameters, e.g. feature_keys or group_by)."""
    measured, body = await measure_get(base, tenant, f"usage-totals?{totals_query(params)}", seconds, concurrency)
    rows = json.loads(body)
    return {**measured, "total_quantity": sum(row["quantity"] for row in rows), "rows": len(rows)}


async def measure_get(
    base: str, tenant: uuid.UUID, target: str, seconds: float, concurrency: int
) -> tuple[dict[str, float], bytes]:
    """Latency (one client, sequential requests) and throughput (``concurrency`` clients) of one GET of the
    tenant's ``target`` (its path after the tenant, with the query), and the last answer's body."""
    request = (
        f"GET /api/v1/billing/tenants/{tenant}/{target} HTTP/1.1\r\n"
        f"Host: {base.removeprefix('http://')}\r\nAuthorization: Bearer {token(Role.VIEWER, tenant)}\r\n\r\n"
    ).encode()
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
    latencies.sort()
    measured = {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "requests_per_s": rps,
        "samples": len(latencies),
    }
    return measured, body


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
            result, body = await measure_get(base, tenant, f"entitlements/{ENTITLEMENT_FEATURE}", seconds, concurrency)
            used = json.loads(body)["used"]
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


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"tally_bench_{uuid.uuid4().hex[:8]}"
    db_url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    await admin(args.postgres_url, f"CREATE DATABASE {name}")
    logs = args.output.parent
    logs.mkdir(parents=True, exist_ok=True)
    try:
        await asyncio.to_thread(upgrade, db_url)
        heavy, light = uuid.uuid4(), uuid.uuid4()
        print(f"bench: {args.events:,} events, {args.clients} clients, batches of {args.batch}, database {name}")
        batches = heavy_batches(args.events, args.batch)
        with server(db_url, logs / "server.log") as (base, pid):
            async with httpx.AsyncClient() as http:
                for key in FEATURES:
                    r = await http.put(
                        f"{base}/api/v1/billing/features/{key}",
                        json={"unit": "units", "dimensions": DIMENSIONS},
                        headers={"Authorization": f"Bearer {token(Role.PLATFORM)}"},
                    )
                    r.raise_for_status()
                rng = random.Random(2)
                light_events = [
                    {
                        "feature_key": FEATURES[i % len(FEATURES)],
                        "quantity": rng.randint(1, 1000),
                        "idempotency_key": f"l-{i}",
                        "timestamp": (WINDOW[0] + timedelta(seconds=rng.random() * 29 * 86400)).isoformat(),
                    }
                    for i in range(100)
                ]
                r = await http.post(
                    f"{base}/api/v1/billing/tenants/{light}/usage-events",
                    json={"events": light_events},
                    headers={"Authorization": f"Bearer {token(Role.PLATFORM)}"},
                )
                r.raise_for_status()
            rate = await ingest(base, heavy, batches, args.clients, args.events)
            await admin(db_url, "VACUUM ANALYZE")
            print("  measuring totals from buckets")
            bucketed = {
                "light": await measure_totals(base, light, args.seconds, args.concurrency),
                "heavy": await measure_totals(base, heavy, args.seconds, args.concurrency),
            }
            print(f"  measuring {GROUPED_FEATURE} totals grouped by dimensions")
            grouped = await measure_grouped(base, heavy, args.seconds, args.concurrency)
            print("  measuring the entitlement check")
            entitled = await measure_entitlements(
                base, {"light": light, "heavy": heavy}, args.seconds, args.concurrency
            )
            rss = peak_rss_mb(pid)
            by_model_region = await check_grouped(base, heavy, grouped)
            print("  streaming the heavy tenant's every event as CSV, sampling the service's memory")
            export = await measure_export(base, pid, heavy, args.events)
        print("  measuring totals from raw events (naive)")
        with server(db_url, logs / "server-naive.log", TALLY_TOTALS_SOURCE="events") as (base, _):
            naive = {
                "light": await measure_totals(base, light, args.seconds, args.concurrency),
                "heavy": await measure_totals(base, heavy, args.seconds, args.concurrency),
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
    for kind in ("light", "heavy"):
        if bucketed[kind]["total_quantity"] != naive[kind]["total_quantity"]:
            raise SystemExit(f"bench: bucketed and naive totals differ for the {kind} tenant")
    return {
        "events": args.events,
        "heavy_events_in_window": in_window,
        "clients": args.clients,
        "batch": args.batch,
        "ingest_events_per_s": rate,
        "dimensions": {"model": len(MODELS), "region": len(REGIONS)},
        "totals": {"buckets": bucketed, "naive": naive},
        "grouped": {"feature": GROUPED_FEATURE, "totals": grouped},
        "entitlement_check": entitled,
        "entitlement_over_totals_rps": {
            kind: entitled[kind]["requests_per_s"] / bucketed[kind]["requests_per_s"] for kind in ("light", "heavy")
        },
        "heavy_over_light_p50": bucketed["heavy"]["p50_ms"] / bucketed["light"]["p50_ms"],
        "naive_over_buckets_heavy_p50": naive["heavy"]["p50_ms"] / bucketed["heavy"]["p50_ms"],
        "grouped_over_ungrouped_p50": {
            name: grouped[name]["p50_ms"] / grouped["ungrouped"]["p50_ms"] for name in GROUPED_QUERIES
        },
        "grouped_target": GROUPED_TARGET,
        "service_peak_rss_mb": rss,
        "csv_export": export,
        "machine": {
            "cpus": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def table(result: dict[str, Any]) -> str:
    rows = [
        "| measure | value |",
        "| --- | --- |",
        f"| events loaded | {result['events']:,} (heavy tenant: {result['heavy_events_in_window']:,} in the window) |",
        f"| ingestion, {result['clients']} clients, batches of {result['batch']}, events with model and region | "
        f"{result['ingest_events_per_s']:,.0f} events/s |",
    ]
    for source in ("buckets", "naive"):
        for kind in ("light", "heavy"):
            m = result["totals"][source][kind]
            rows.append(
                f"| totals, {kind} tenant, {source} | p50 {m['p50_ms']:.2f} ms, p99 {m['p99_ms']:.2f} ms, "
                f"{m['requests_per_s']:,.0f} req/s |"
            )
    feature = result["grouped"]["feature"]
    for name, m in result["grouped"]["totals"].items():
        rows.append(
            f"| totals, heavy tenant, {feature} {name} ({m['rows']} rows) | p50 {m['p50_ms']:.2f} ms, "
            f"p99 {m['p99_ms']:.2f} ms, {m['requests_per_s']:,.0f} req/s |"
        )
    for kind, m in result["entitlement_check"].items():
        ratio = result["entitlement_over_totals_rps"][kind]
        rows.append(
            f"| entitlement check (one feature, on a plan), {kind} tenant | p50 {m['p50_ms']:.2f} ms, "
            f"p99 {m['p99_ms']:.2f} ms, {m['requests_per_s']:,.0f} req/s ({ratio:.2f}x the totals' req/s) |"
        )
    rows += [
        f"| heavy p50 / light p50 (buckets) | {result['heavy_over_light_p50']:.2f}x |",
        f"| naive p50 / buckets p50 (heavy) | {result['naive_over_buckets_heavy_p50']:.1f}x |",
    ]
    target = result["grouped_target"]
    for name, ratio in result["grouped_over_ungrouped_p50"].items():
        verdict = "met" if ratio <= target else "missed"
        rows.append(f"| {feature} {name} p50 / ungrouped p50 | {ratio:.2f}x (target <= {target:.1f}x: {verdict}) |")
    rows.append(f"| service peak RSS | {result['service_peak_rss_mb']:.0f} MB |")
    e = result["csv_export"]
    rows.append(
        f"| CSV export, heavy tenant's every event ({e['rows']:,} rows, {e['megabytes']:,.0f} MB) | "
        f"{e['seconds']:.1f} s, {e['rows_per_s']:,.0f} rows/s; service RSS {e['rss_before_mb']:.0f} MB before, "
        f"peak {e['rss_peak_mb']:.0f} MB during (+{e['rss_growth_mb']:.1f} MB) |"
    )
    return "\n".join(rows)


def main() -> int:
    args = parse_args()
    result = asyncio.run(run(args))
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print()
    print(table(result))
    shown = args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output
    print(f"\nbench: figures written to {shown}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
