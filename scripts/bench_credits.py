"""What credits and reservations cost: the entitlement check and hard-stop ingestion of one feature with 0, 10 and
100 grants, and a reservation's hold + commit against a plain record.

    nox -s bench_credits                 # figures: docs/benchmarks.md
    nox -s bench_credits -- --seconds 2  # shorter

It creates a fresh PostgreSQL database, starts one Tally server (one uvicorn worker, as ``scripts/bench.py`` does),
gives three tenants the same plan (a rejecting monthly limit far above what the run sends, so nothing is refused)
and the same usage (2,000 events over the current month and the one before), and 0, 10 or 100 grants of the
feature (priorities 0-5, effective over the last 60 days, one in three expiring). Then, per tenant: the
entitlement read (latency with one client, requests/s and worker CPU per request with ``--concurrency``), and
single-event batches under the rejecting limit (requests/s, CPU per request). Last, on the tenant without grants:
hold + commit cycles (two requests) against plain one-event records.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import ROOT, SERVED, KeepAlive, Role, admin, cpu_seconds, measure, server, token, upgrade, worker_pids

FEATURE = "tokens"
API = "/api/v1/billing"
GRANT_COUNTS = (0, 10, 100)
EVENTS = 2000


async def seed(base: str, tenants: dict[int, uuid.UUID]) -> None:
    platform = {"Authorization": f"Bearer {token(Role.PLATFORM)}"}
    now = datetime.now(UTC)
    rng = random.Random(7)
    async with httpx.AsyncClient(base_url=base, timeout=60) as http:
        (await http.put(f"{API}/features/{FEATURE}", json={"unit": "tokens"}, headers=platform)).raise_for_status()
        plan = {"name": "Bench", "limits": [{"feature_key": FEATURE, "limit": 10**15, "enforcement": "reject"}]}
        (await http.put(f"{API}/plans/credits-bench", json=plan, headers=platform)).raise_for_status()
        for count, tenant in tenants.items():
            r = await http.put(f"{API}/tenants/{tenant}/plan", json={"plan_key": "credits-bench"}, headers=platform)
            r.raise_for_status()
            events = [
                {
                    "feature_key": FEATURE,
                    "quantity": rng.randint(1, 1000),
                    "idempotency_key": f"seed-{i}",
                    "timestamp": (now - timedelta(seconds=rng.randint(60, 45 * 86400))).isoformat(),
                }
                for i in range(EVENTS)
            ]
            for start in range(0, EVENTS, 1000):
                r = await http.post(
                    f"{API}/tenants/{tenant}/usage-events",
                    json={"events": events[start : start + 1000]},
                    headers=platform,
                )
                r.raise_for_status()
            for g in range(count):
                effective = now - timedelta(days=rng.uniform(0, 60))
                body: dict[str, Any] = {
                    "grant_id": f"g{g}",
                    "feature_key": FEATURE,
                    "amount": rng.randint(10_000, 1_000_000),
                    "priority": rng.randint(0, 5),
                    "effective_at": effective.isoformat(),
                }
                if g % 3 == 0:
                    body["expires_at"] = (effective + timedelta(days=rng.uniform(1, 90))).isoformat()
                (await http.post(f"{API}/tenants/{tenant}/grants", json=body, headers=platform)).raise_for_status()


class Created(KeepAlive):
    """``KeepAlive`` that takes a 201 (a new hold) as well as a 200."""

    async def send(self, request: bytes) -> bytes:
        self.writer.write(request)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = next(
            int(line.split(b":", 1)[1]) for line in head.split(b"\r\n") if line.lower().startswith(b"content-length:")
        )
        body = await self.reader.readexactly(length)
        if status not in (200, 201):
            raise SystemExit(f"bench: {request.split(b' ', 2)[1][:80]!r} answered {status}: {body[:300]!r}")
        return body


def post(base: str, path: str, tenant: uuid.UUID, body: dict[str, Any]) -> bytes:
    content = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {base.removeprefix('http://')}\r\n"
        f"Authorization: Bearer {token(Role.ADMIN, tenant)}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(content)}\r\n\r\n"
    )
    return head.encode() + content


async def measure_posts(
    base: str, seconds: float, concurrency: int, requests: Callable[[int], list[bytes]]
) -> dict[str, float]:
    """``concurrency`` clients send ``requests(n)`` (one operation: one or more requests) for ``seconds``;
    operations per second and the worker's CPU per operation."""
    counter = itertools.count()
    done = 0
    workers = worker_pids(SERVED[base])
    cpu_before = cpu_seconds(workers)
    stop = time.perf_counter() + seconds

    async def client() -> None:
        nonlocal done
        async with Created(base) as connection:
            while time.perf_counter() < stop:
                for request in requests(next(counter)):
                    await connection.send(request)
                done += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return {"per_s": done / elapsed, "cpu_ms": (cpu_seconds(workers) - cpu_before) * 1000 / done}


def record(base: str, tenant: uuid.UUID, label: str) -> Callable[[int], list[bytes]]:
    def one(n: int) -> list[bytes]:
        event = {"feature_key": FEATURE, "quantity": 1, "idempotency_key": f"{label}-{n}"}
        return [post(base, f"{API}/tenants/{tenant}/usage-events", tenant, {"events": [event]})]

    return one


def hold_commit(base: str, tenant: uuid.UUID) -> Callable[[int], list[bytes]]:
    def cycle(n: int) -> list[bytes]:
        path = f"{API}/tenants/{tenant}/reservations"
        hold = {"reservation_id": f"r{n}", "feature_key": FEATURE, "quantity": 4096}
        commit = {"quantity": 1873, "idempotency_key": f"hold-{n}"}
        return [post(base, path, tenant, hold), post(base, f"{path}/r{n}/commit", tenant, commit)]

    return cycle


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"tally_bench_credits_{uuid.uuid4().hex[:8]}"
    db_url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    await admin(args.postgres_url, f"CREATE DATABASE {name}")
    logs = ROOT / "bench-results"
    logs.mkdir(exist_ok=True)
    tenants = {count: uuid.uuid4() for count in GRANT_COUNTS}
    result: dict[str, Any] = {"entitlement": {}, "hard_stop_ingestion": {}}
    try:
        await asyncio.to_thread(upgrade, db_url)
        with server(logs / "credits.log", kind="uvicorn", TALLY_DATABASE_URL=db_url) as (base, _):
            await seed(base, tenants)
            for count, tenant in tenants.items():
                print(f"  entitlement, {count} grants")
                target = f"{API}/tenants/{tenant}/entitlements/{FEATURE}"
                measured = await measure(
                    base, target, f"Bearer {token(Role.VIEWER, tenant)}", args.seconds, args.concurrency
                )
                measured.pop("body")
                result["entitlement"][count] = measured
                print(f"  hard-stop ingestion, {count} grants")
                result["hard_stop_ingestion"][count] = await measure_posts(
                    base, args.seconds, args.concurrency, record(base, tenant, f"hs{count}")
                )
            plain = tenants[0]
            print("  plain record vs hold + commit")
            result["plain_record"] = await measure_posts(base, args.seconds, args.concurrency, record(base, plain, "p"))
            result["hold_commit"] = await measure_posts(base, args.seconds, args.concurrency, hold_commit(base, plain))
    finally:
        await admin(args.postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    result["load_average"] = os.getloadavg()
    return result


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent clients")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    result = asyncio.run(run(parser.parse_args()))
    print("\n| one feature, grants | entitlement req/s | CPU ms/req | p50 ms | hard-stop batches/s | CPU ms/batch |")
    print("| --- | --- | --- | --- | --- | --- |")
    for count in GRANT_COUNTS:
        e, h = result["entitlement"][count], result["hard_stop_ingestion"][count]
        print(
            f"| {count} | {e['requests_per_s']:,.0f} | {e['cpu_ms_per_request']:.2f} | {e['p50_ms']:.2f} | "
            f"{h['per_s']:,.0f} | {h['cpu_ms']:.2f} |"
        )
    plain, cycle = result["plain_record"], result["hold_commit"]
    print("\n| operation | per second | CPU ms per operation |\n| --- | --- | --- |")
    print(f"| plain record (1 request) | {plain['per_s']:,.0f} | {plain['cpu_ms']:.2f} |")
    print(f"| hold + commit (2 requests) | {cycle['per_s']:,.0f} | {cycle['cpu_ms']:.2f} |")
    print(f"\nload average after the run: {', '.join(f'{x:.2f}' for x in result['load_average'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
