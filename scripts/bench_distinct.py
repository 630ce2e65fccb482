"""Benchmark distinct counts (``unique_count``) over HTTP against PostgreSQL: what a read costs at
1,000,000 events with 10, 1,000, 100,000 and 1,000,000 distinct users, counted exactly and approximately, beside
a plain sum read in the same run, and the service's peak memory.

    nox -s bench_distinct                                         # 8 x 1,000,000 events (tens of minutes)
    nox -s bench_distinct -- --events 20000 --cardinalities 10 1000   # a smoke run

For each cardinality C and each mode, a tenant records ``--events`` events spread over June 2026, user ``i % C``
for event ``i`` shuffled (so every user occurs), of the feature ``active_users`` (``unique_count`` by
``user_id``, exact) or ``active_approx`` (the same with ``approximate: true``). A light tenant records 1,000
events of a ``sum`` feature: its totals read is the floor every distinct read is compared with. Each read is
measured for the month as one window, a ragged month (00:30 on the 1st to 23:30 on the 30th) and 30 day windows.
An exact month must count C; an approximate one must lie within the documented bound of C.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import (  # the benchmark's own helpers: one server, one loader, one keep-alive client
    ROOT,
    KeepAlive,
    admin,
    ingest,
    peak_rss_mb,
    server,
    token,
    upgrade,
)

from tally.http.auth import Role
from tally.metering.sketches import BOUND

CARDINALITIES = (10, 1_000, 100_000, 1_000_000)
MODES = {"exact": "active_users", "approximate": "active_approx"}
MONTH = (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 7, 1, tzinfo=UTC))
READS = {
    "month": [],
    "ragged month": [("period_start", "2026-06-01T00:30:00+00:00"), ("period_end", "2026-06-30T23:30:00+00:00")],
    "30 day windows": [("window_size", "day")],
}


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events per cardinality (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each read measurement")
    parser.add_argument("--cardinalities", type=int, nargs="+", default=list(CARDINALITIES), help="distinct users")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results" / "bench-distinct.json")
    return parser.parse_args()


def batches(n: int, users: int, seed: int, feature_key: str) -> list[bytes]:
    rng = random.Random(seed)
    order = list(range(n))
    rng.shuffle(order)
    span = (MONTH[1] - MONTH[0]).total_seconds()
    encoder = msgspec.json.Encoder()
    out = []
    for first in range(0, n, 1000):
        events = [
            {
                "feature_key": feature_key,
                "quantity": 1,
                "idempotency_key": f"e-{i}",
                "timestamp": (MONTH[0] + timedelta(seconds=span * i / n)).isoformat(),
                "dimensions": {"user_id": f"user-{order[i] % users}"},
            }
            for i in range(first, min(first + 1000, n))
        ]
        out.append(encoder.encode({"events": events}))
    return out


async def put_features(base: str) -> None:
    headers = {"Authorization": f"Bearer {token(Role.PLATFORM)}"}
    async with httpx.AsyncClient(timeout=30) as http:
        distinct = {"unit": "users", "aggregation": "unique_count", "unique_by": "user_id"}
        for key, body in (
            ("active_users", distinct),
            ("active_approx", {**distinct, "approximate": True}),
            ("calls", {"unit": "requests"}),
        ):
            r = await http.put(
                f"{base}/api/v1/billing/features/{key}", json={**body, "dimensions": ["user_id"]}, headers=headers
            )
            if r.status_code not in (200, 201):
                raise SystemExit(f"bench: PUT feature answered {r.status_code}: {r.text}")


async def measure(base: str, tenant: uuid.UUID, seconds: float, params: list[tuple[str, str]]) -> dict[str, float]:
    """Sequential latency of one read (a few warm-up requests, then at least 5 samples or ``seconds``). The
    main benchmark's loop warms up with 50 requests and measures throughput too: a read of 100,000 users'
    day windows takes seconds, so this one only measures latency."""
    query = httpx.QueryParams(params)
    request = (
        f"GET /api/v1/billing/tenants/{tenant}/usage-totals?{query} HTTP/1.1\r\n"
        f"Host: {base.removeprefix('http://')}\r\nAuthorization: Bearer {token(Role.VIEWER, tenant)}\r\n\r\n"
    ).encode()
    async with KeepAlive(base) as client:
        for _ in range(3):
            body = await client.send(request)
        latencies: list[float] = []
        stop = time.perf_counter() + seconds
        while len(latencies) < 5 or time.perf_counter() < stop:
            t0 = time.perf_counter()
            await client.send(request)
            latencies.append((time.perf_counter() - t0) * 1000)
    latencies.sort()
    rows = json.loads(body)
    return {
        "p50_ms": statistics.median(latencies),
        "p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "samples": len(latencies),
        "total_quantity": sum(row["quantity"] for row in rows),
        "rows": len(rows),
    }


def month(params: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The read's parameters: June 2026 unless the read says otherwise."""
    if any(name == "period_start" for name, _ in params):
        return params
    return [("period_start", MONTH[0].isoformat()), ("period_end", MONTH[1].isoformat()), *params]


async def run(args: argparse.Namespace) -> dict[str, object]:
    name = f"tally_bench_distinct_{uuid.uuid4().hex[:8]}"
    await admin(args.postgres_url, f"CREATE DATABASE {name}")
    url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    result: dict[str, object] = {"events_per_cardinality": args.events, "reads": {}}
    try:
        await asyncio.to_thread(upgrade, url)
        log = ROOT / "bench-results" / "bench-distinct-server.log"
        log.parent.mkdir(exist_ok=True)
        with server(log, kind="uvicorn", TALLY_DATABASE_URL=url) as (base, pid):
            await put_features(base)
            light = uuid.uuid4()
            calls = [
                msgspec.json.encode(
                    {
                        "events": [
                            {
                                "feature_key": "calls",
                                "quantity": 1,
                                "idempotency_key": f"c-{i}",
                                "timestamp": (MONTH[0] + timedelta(hours=i % 700)).isoformat(),
                            }
                            for i in range(1000)
                        ]
                    }
                )
            ]
            await ingest(base, light, calls, 1, "the floor's events")
            reads: dict[str, dict[str, object]] = {}
            reads["floor: sum, light tenant, month"] = await measure(
                base, light, args.seconds, month([("feature_keys", "calls")])
            )
            for users in args.cardinalities:
                for mode, feature_key in MODES.items():
                    tenant = uuid.uuid4()
                    print(f"bench: {args.events:,} events of {users:,} distinct users, {mode}")
                    sent = batches(args.events, users, seed=users, feature_key=feature_key)
                    await ingest(base, tenant, sent, 4, f"{users:,} users, {mode}")
                    del sent
                    for read, params in READS.items():
                        measured = await measure(
                            base, tenant, args.seconds, month([("feature_keys", feature_key), *params])
                        )
                        expected = min(users, args.events)
                        if read == "month" and abs(measured["total_quantity"] - expected) > (
                            BOUND * expected if mode == "approximate" else 0
                        ):
                            raise SystemExit(f"bench: {users} users counted as {measured['total_quantity']} ({mode})")
                        reads[f"{users:,} users, {mode}, {read}"] = measured
            result["reads"] = reads
            result["service_peak_rss_mb"] = peak_rss_mb(pid)
    finally:
        await admin(args.postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return result


def table(result: dict[str, object]) -> str:
    reads: dict[str, dict[str, float]] = result["reads"]  # type: ignore[assignment]
    floor = reads["floor: sum, light tenant, month"]
    rows = [
        "| distinct users | read | exact p50 / p99 | approximate p50 / p99 | approximate p50 / floor | approximate"
        " count (month: error) |",
        "| --- | --- | --- | --- | --- | --- |",
        f"| floor: sum, light tenant | month | {floor['p50_ms']:.2f} / {floor['p99_ms']:.2f} ms | | | |",
    ]
    for name, exact in reads.items():
        if ", exact, " not in name:
            continue
        users, read = name.split(", exact, ")
        approx = reads[f"{users}, approximate, {read}"]
        count = approx["total_quantity"]
        error = ""
        if read == "month":
            expected = int(users.split()[0].replace(",", ""))
            error = f" ({(count - expected) / expected:+.2%})"
        rows.append(
            f"| {users.split()[0]} | {read} | {exact['p50_ms']:.2f} / {exact['p99_ms']:.2f} ms"
            f" | {approx['p50_ms']:.2f} / {approx['p99_ms']:.2f} ms | {approx['p50_ms'] / floor['p50_ms']:.1f}x"
            f" | {count:,}{error} |"
        )
    rows.append(f"| service peak RSS | {result['service_peak_rss_mb']:.0f} MB | | | | |")
    return "\n".join(rows)


def main() -> int:
    args = parse_args()
    args.output.parent.mkdir(parents=True, exist_ok=True)
    result = asyncio.run(run(args))
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(table(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
