"""Benchmark final numbers over HTTP against PostgreSQL: closing a tenant's period that holds 1,000,000 events, and
a totals read ``as_of`` an instant (from the raw events) beside the live read (from the buckets).

    nox -s bench_periods                      # 1,000,000 events (a few minutes, most of it loading)
    nox -s bench_periods -- --events 20000    # a smoke run

One tenant records ``--events`` events of five ``sum`` features spread over October 2026, then a few are voided.
Measured: the live totals read of October and the same read ``as_of`` now (both must agree), then
``POST …/periods/close`` of October (target: under a second), then the live read again (now ``final``, and equal
to what the close recorded).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import msgspec

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, KeepAlive, admin, ingest, server, token, upgrade  # the benchmark's own helpers

from tally.http.auth import Role

FEATURES = ["requests", "emails", "jobs", "seats", "exports"]
MONTH = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2026, 11, 1, tzinfo=UTC))
CLOSE_TARGET_SECONDS = 1.0


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000, help="events in the period (default 1,000,000)")
    parser.add_argument("--seconds", type=float, default=6.0, help="duration of each read measurement")
    parser.add_argument("--postgres-url", default="postgresql+asyncpg://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--output", type=Path, default=ROOT / "bench-results" / "bench-periods.json")
    return parser.parse_args()


def batches(n: int) -> list[bytes]:
    span = (MONTH[1] - MONTH[0]).total_seconds()
    encoder = msgspec.json.Encoder()
    out = []
    for first in range(0, n, 1000):
        events = [
            {
                "feature_key": FEATURES[i % len(FEATURES)],
                "quantity": 1 + i % 7,
                "idempotency_key": f"e-{i}",
                "timestamp": datetime.fromtimestamp(MONTH[0].timestamp() + span * i / n, UTC).isoformat(),
            }
            for i in range(first, min(first + 1000, n))
        ]
        out.append(encoder.encode({"events": events}))
    return out


async def measure(base: str, tenant: uuid.UUID, seconds: float, params: list[tuple[str, str]]) -> dict[str, object]:
    """Sequential latency of one totals read: a few warm-up requests, then at least 5 samples or ``seconds``."""
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
        "totals": {row["feature_key"]: row["quantity"] for row in rows},
        "final": all(row["final"] for row in rows),
    }


async def run(args: argparse.Namespace) -> dict[str, object]:
    name = f"tally_bench_periods_{uuid.uuid4().hex[:8]}"
    await admin(args.postgres_url, f"CREATE DATABASE {name}")
    url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    month = [("period_start", MONTH[0].isoformat()), ("period_end", MONTH[1].isoformat())]
    try:
        await asyncio.to_thread(upgrade, url)
        log = ROOT / "bench-results" / "bench-periods-server.log"
        log.parent.mkdir(exist_ok=True)
        env = {"TALLY_DATABASE_URL": url, "TALLY_PERIOD_CLOSE_ENABLED": "false"}
        with server(log, kind="uvicorn", **env) as (base, _pid):
            platform = {"Authorization": f"Bearer {token(Role.PLATFORM)}"}
            tenant = uuid.uuid4()
            async with httpx.AsyncClient(base_url=base, headers=platform, timeout=60) as http:
                for key in FEATURES:
                    r = await http.put(f"/api/v1/billing/features/{key}", json={"unit": "units"})
                    assert r.status_code in (200, 201), r.text
                rate = await ingest(base, tenant, batches(args.events), 4, f"{args.events:,} events in October")
                for i in range(0, min(args.events, 50_000), 5_000):  # a few voids: as_of must leave them out too
                    r = await http.post(
                        f"/api/v1/billing/tenants/{tenant}/usage-events/e-{i}/void", json={"reason": "b"}
                    )
                    assert r.status_code == 200, r.text
                live = await measure(base, tenant, args.seconds, month)
                as_of = await measure(base, tenant, args.seconds, [*month, ("as_of", datetime.now(UTC).isoformat())])
                if live["totals"] != as_of["totals"]:
                    raise SystemExit(f"bench: as_of now {as_of['totals']} differs from live {live['totals']}")
                t0 = time.perf_counter()
                r = await http.post(
                    f"/api/v1/billing/tenants/{tenant}/periods/close", json={"period_end": MONTH[1].isoformat()}
                )
                close_seconds = time.perf_counter() - t0
                assert r.status_code == 200, r.text
                (closed,) = r.json()
                recorded = {t["feature_key"]: t["quantity"] for t in closed["totals"]}
                final = await measure(base, tenant, args.seconds, month)
                if recorded != live["totals"] or final["totals"] != recorded or not final["final"]:
                    raise SystemExit(f"bench: the close recorded {recorded}, the final read is {final}")
    finally:
        await admin(args.postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    return {
        "events": args.events,
        "ingest_events_per_second": rate,
        "close_seconds": close_seconds,
        "close_target_met": close_seconds < CLOSE_TARGET_SECONDS,
        "reads": {"live": live, "as_of now": as_of, "live after the close (final)": final},
    }


def table(result: dict[str, object]) -> str:
    reads: dict[str, dict[str, float]] = result["reads"]  # type: ignore[assignment]
    live = reads["live"]["p50_ms"]
    lines = [
        f"close of October with {result['events']:,} events: {result['close_seconds'] * 1000:.0f} ms "
        f"(target under {CLOSE_TARGET_SECONDS:.0f} s: {'met' if result['close_target_met'] else 'MISSED'})",
        "| read | p50 ms | p99 ms | x live |",
        "| --- | ---: | ---: | ---: |",
    ]
    for read, figures in reads.items():
        ratio = figures["p50_ms"] / live
        lines.append(f"| {read} | {figures['p50_ms']:.1f} | {figures['p99_ms']:.1f} | {ratio:.1f} |")
    return "\n".join(lines)


def main() -> int:
    args = parse_args()
    result = asyncio.run(run(args))
    args.output.parent.mkdir(exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2, default=str))
    print(table(result))
    return 0 if result["close_target_met"] else 1


if __name__ == "__main__":
    raise SystemExit(main())
