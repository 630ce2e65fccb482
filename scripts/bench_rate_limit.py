"""What a shared rate limit costs a request: the same totals read with no limit, with the limit counted in the
process, and counted in PostgreSQL (the shared store); and the raw round trip of one count in PostgreSQL and
in Redis, each measured by its own C benchmark tool over one connection.

    nox -s bench_rate_limit                 # figures: docs/scaling.md
    nox -s bench_rate_limit -- --seconds 2  # shorter

It creates a fresh PostgreSQL database, starts three Tally servers (one uvicorn worker each, the same way
``scripts/bench.py`` does) that differ only in ``TALLY_RATE_LIMIT_*``, and measures them in turn, twice,
so that each sees the machine's same load. The limit is far above what the run sends: every request is
counted, none refused.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench import READ_FEATURES, ROOT, Role, admin, five_features, measure_totals, server, token, upgrade

CONFIGS: dict[str, dict[str, str]] = {
    "no limit": {},
    "limit counted in the process": {"TALLY_RATE_LIMIT_STORE": "process"},
    "limit counted in PostgreSQL (shared)": {"TALLY_RATE_LIMIT_STORE": "database"},
}
LIMIT = {"TALLY_RATE_LIMIT_READS": "1000000000", "TALLY_RATE_LIMIT_WINDOW_SECONDS": "86400"}
UPSERT = """INSERT INTO rate_limit_counter (tenant_id, quota, window_index, used)
VALUES ('00000000-0000-4000-8000-00000000000a', 'reads', 1, 1)
ON CONFLICT (tenant_id, quota) DO UPDATE SET used = rate_limit_counter.used + 1 RETURNING used;
"""


async def seed(base: str, tenant: uuid.UUID) -> None:
    async with httpx.AsyncClient(base_url=base, timeout=30) as http:
        platform = {"Authorization": f"Bearer {token(Role.PLATFORM)}"}
        for key in READ_FEATURES:
            r = await http.put(f"/api/v1/billing/features/{key}", json={"unit": "units"}, headers=platform)
            assert r.status_code in (200, 201), r.text
        events = [
            {
                "feature_key": key,
                "quantity": 1,
                "idempotency_key": f"{key}-{i}",
                "timestamp": f"2026-06-{1 + i % 28:02d}T10:00:00Z",
            }
            for key in READ_FEATURES
            for i in range(20)
        ]
        r = await http.post(f"/api/v1/billing/tenants/{tenant}/usage-events", json={"events": events}, headers=platform)
        assert r.status_code == 200, r.text


def per_operation_ms(command: list[str], parse: Any) -> float | None:
    """Milliseconds per operation of a benchmark tool, or None where the tool is missing or fails."""
    if shutil.which(command[0]) is None:
        return None
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    return parse(done.stdout) if done.returncode == 0 else None


def pgbench_ms(db_url: str, seconds: int) -> float | None:
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as script:
        script.write(UPSERT)
    host_db = db_url.split("@", 1)[1]  # host:port/name
    host, rest = host_db.split(":", 1)
    port, name = rest.split("/", 1)
    command = [
        "pgbench",
        "-n",
        "-c",
        "1",
        "-T",
        str(seconds),
        "-f",
        script.name,
        "-h",
        host,
        "-p",
        port,
        "-U",
        "postgres",
        name,
    ]

    def parse(out: str) -> float:
        line = next(line for line in out.splitlines() if line.startswith("latency average"))
        return float(line.split("=")[1].split()[0])

    try:
        return per_operation_ms(command, parse)
    finally:
        os.unlink(script.name)


def redis_ms(requests: int) -> float | None:
    # INCR then EXPIRE, the two commands a fixed-window counter needs, one client, no pipelining.
    command = ["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "-c", "1", "-n", str(requests), "-q", "-t", "incr"]

    def parse(out: str) -> float:
        line = next(
            line
            for line in out.replace("\r", "\n").splitlines()
            if line.startswith("INCR:") and "requests per second" in line
        )
        return 2 * 1000 / float(line.split()[1])  # two commands per count

    return per_operation_ms(command, parse)


async def run(args: argparse.Namespace) -> dict[str, Any]:
    name = f"tally_bench_rl_{uuid.uuid4().hex[:8]}"
    db_url = args.postgres_url.rsplit("/", 1)[0] + f"/{name}"
    await admin(args.postgres_url, f"CREATE DATABASE {name}")
    logs = ROOT / "bench-results"
    logs.mkdir(exist_ok=True)
    tenant = uuid.uuid4()
    try:
        await asyncio.to_thread(upgrade, db_url)
        with ExitStack() as stack:
            bases = {
                label: stack.enter_context(
                    server(
                        logs / "rate-limit.log",
                        kind="uvicorn",
                        TALLY_DATABASE_URL=db_url,
                        **(LIMIT if env else {}),
                        **env,
                    )
                )[0]
                for label, env in CONFIGS.items()
            }
            await seed(bases["no limit"], tenant)
            runs: dict[str, list[dict[str, Any]]] = {label: [] for label in CONFIGS}
            for round_ in (1, 2):
                for label, base in bases.items():
                    print(f"  round {round_}: totals, {label}")
                    runs[label].append(
                        await measure_totals(base, tenant, args.seconds, args.concurrency, five_features())
                    )
        raw = {
            "PostgreSQL upsert (pgbench)": pgbench_ms(db_url, 3),
            "Redis INCR + EXPIRE (redis-benchmark)": redis_ms(20000),
        }
    finally:
        await admin(args.postgres_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    reads = {
        label: {
            "requests_per_s": statistics.mean(m["requests_per_s"] for m in measured),
            "cpu_ms_per_request": statistics.mean(m["cpu_ms_per_request"] for m in measured),
            "p50_ms": statistics.mean(m["p50_ms"] for m in measured),
        }
        for label, measured in runs.items()
    }
    return {"reads": reads, "raw_ms": raw, "load_average": os.getloadavg()}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=4.0, help="duration of each read measurement")
    parser.add_argument("--concurrency", type=int, default=8, help="concurrent readers for requests/s")
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"),
    )
    result = asyncio.run(run(parser.parse_args()))
    print("\n| totals read, light tenant, 5 features | requests/s | CPU ms per request | p50 ms |")
    print("| --- | --- | --- | --- |")
    for label, m in result["reads"].items():
        print(f"| {label} | {m['requests_per_s']:,.0f} | {m['cpu_ms_per_request']:.3f} | {m['p50_ms']:.2f} |")
    print("\n| one count, one connection, loopback | ms per count |\n| --- | --- |")
    for label, ms in result["raw_ms"].items():
        print(f"| {label} | {'not measured (tool or server missing)' if ms is None else f'{ms:.3f}'} |")
    print(f"\nload average after the run: {', '.join(f'{x:.2f}' for x in result['load_average'])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
