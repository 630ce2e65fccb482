"""Instructions per request of the hot reads, counted by valgrind's callgrind: a repeatable measure of their cost.

    .venv/bin/python scripts/read_cost.py totals entitlement floor [--requests 200]

On a shared machine the CPU time of a request moves by a tenth from one run to the next (other tenants' load,
stolen time); the instructions the worker executes for it do not (the same count twice, to a few per mille). Each
read is called in process on the app's ASGI interface, eight at a time, against PostgreSQL: the light tenant's
totals of five features over a month (as ``scripts/bench.py`` reads them), the entitlement check of one feature on
a plan, and the database floor of ``scripts/bench_floor.py`` answering the same totals. Only the measured requests
are counted (the counters are zeroed after start-up and warm-up), in user space: the server (uvicorn) and the
kernel's share are not in the figure, which is why ``nox -s bench`` stays the measure of record.

Needs valgrind (``apt-get install valgrind``) and PostgreSQL (``TALLY_TEST_POSTGRES_URL`` or the local default).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))  # bench_floor

from bench import DIMENSIONS, READ_FEATURES, WINDOW, light_events  # noqa: E402
from bench import FEATURES as DIMENSIONED  # noqa: E402

from tally.db.migrate import upgrade  # noqa: E402
from tally.http.auth import Role, issue_token  # noqa: E402

SECRET = "read-cost-secret-" + "x" * 32
TENANT = uuid.UUID("11111111-1111-1111-1111-111111111111")
WARM_UP = 50
CLIENTS = 8
# Made once: a read's token is verified once and then remembered, as for a caller that sends the same token again.
VIEWER = f"Bearer {issue_token(SECRET, Role.VIEWER, TENANT, ttl=timedelta(hours=1))}".encode()
PLATFORM = f"Bearer {issue_token(SECRET, Role.PLATFORM, None, ttl=timedelta(hours=1))}".encode()


def target(read: str) -> tuple[str, str]:
    """(path, query string) of one read."""
    if read == "entitlement":
        return f"/api/v1/billing/tenants/{TENANT}/entitlements/api_calls", ""
    query = [("period_start", WINDOW[0].isoformat()), ("period_end", WINDOW[1].isoformat())]
    features = [("feature_keys", key) for key in READ_FEATURES]
    return f"/api/v1/billing/tenants/{TENANT}/usage-totals", urlencode(query + features)


def app_of(read: str, url: str) -> Any:
    os.environ.update(TALLY_DATABASE_URL=url, TALLY_JWT_SECRET=SECRET, TALLY_LOG_LEVEL="WARNING")
    if read == "floor":
        floor_features = ",".join(READ_FEATURES)
        os.environ.update(BENCH_FLOOR_DATABASE=url.replace("+asyncpg", ""), BENCH_FLOOR_FEATURES=floor_features)
        import bench_floor

        return bench_floor.create_app()
    from tally.app import create_app

    return create_app()


async def call(app: Any, method: str, path: str, query: str = "", body: bytes = b"") -> tuple[int, bytes]:
    """One request through the app's ASGI interface, as a server would make it."""
    headers = [(b"host", b"tally"), (b"authorization", VIEWER if method == "GET" else PLATFORM)]
    if body:
        headers += [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method, "scheme": "http",
        "path": path, "raw_path": path.encode(), "root_path": "", "query_string": query.encode(),
        "server": ("127.0.0.1", 8000), "client": ("127.0.0.1", 50000), "headers": headers, "state": {},
    }  # fmt: skip
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            answer["status"] = message["status"]
        else:
            answer["body"] += message.get("body", b"")

    await app(scope, receive, send)
    return answer["status"], answer["body"]


async def lifespan(app: Any) -> asyncio.Queue[dict[str, str]]:
    """The app started as a server starts it; put ``lifespan.shutdown`` on the returned queue to stop it."""
    inbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    outbox: asyncio.Queue[dict[str, str]] = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    asyncio.get_running_loop().create_task(app({"type": "lifespan", "state": {}}, inbox.get, outbox.put))
    if (started := await outbox.get())["type"] != "lifespan.startup.complete":
        raise SystemExit(f"read_cost: the app did not start: {started}")
    return inbox


async def load(url: str) -> None:
    """The benchmark's catalog of the five read features and its light tenant's 100 events (scripts/bench.py), a
    plan."""
    import msgspec

    app = app_of("tally", url)
    await lifespan(app)
    for key in READ_FEATURES:
        declared = DIMENSIONS if key in DIMENSIONED else []
        feature = msgspec.json.encode({"unit": "units", "dimensions": declared})
        await call(app, "PUT", f"/api/v1/billing/features/{key}", body=feature)
    plan = {"name": "Cost", "limits": [{"feature_key": "api_calls", "limit": 10**12, "enforcement": "reject"}]}
    for method, path, body in [
        ("POST", f"/api/v1/billing/tenants/{TENANT}/usage-events", {"events": light_events()}),
        ("PUT", "/api/v1/billing/plans/cost", plan),
        ("PUT", f"/api/v1/billing/tenants/{TENANT}/plan", {"plan_key": "cost"}),
    ]:
        status, answer = await call(app, method, path, body=msgspec.json.encode(body))
        if status >= 300:
            raise SystemExit(f"read_cost: {method} {path} answered {status}: {answer[:300]!r}")


async def measure(read: str, url: str, requests: int) -> None:
    """Runs under callgrind: warm up, zero the counters, the measured requests, dump the counters."""
    app = app_of(read, url)
    await lifespan(app)
    path, query = target(read if read != "floor" else "totals")

    async def client(n: int) -> None:
        for _ in range(n):
            status, body = await call(app, "GET", path, query)
            if status != 200:
                raise SystemExit(f"read_cost: {read} answered {status}: {body[:300]!r}")

    await client(WARM_UP)
    # Blocking on purpose: nothing of the app runs while the counters are zeroed and dumped.
    subprocess.run(["callgrind_control", "--zero", str(os.getpid())], check=True, capture_output=True)  # noqa: ASYNC221
    await asyncio.gather(*(client(requests // CLIENTS) for _ in range(CLIENTS)))
    subprocess.run(["callgrind_control", "--dump", str(os.getpid())], check=True, capture_output=True)  # noqa: ASYNC221


def instructions(read: str, url: str, requests: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        command = [
            "valgrind", "--tool=callgrind", f"--callgrind-out-file={out}/callgrind.%p",
            sys.executable, __file__, "--measure", read, "--url", url, "--requests", str(requests),
        ]  # fmt: skip
        # The same hash seed for every run: dictionaries and sets then do the same work each time.
        run = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "PYTHONHASHSEED": "0"})
        if run.returncode != 0:
            raise SystemExit(f"read_cost: the measured run failed:\n{run.stderr[-3000:]}")
        dump = next(Path(out).glob("callgrind.*.1"))  # the one --dump wrote: the measured requests only
        summary = next(line for line in dump.read_text().splitlines() if line.startswith("summary:"))
    return int(summary.split()[1]) / (requests // CLIENTS * CLIENTS)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    # No choices=: Python 3.11's argparse checks an empty list against them as one value.
    parser.add_argument("reads", nargs="*", help="totals, entitlement, floor (default: all three)")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if unknown := set(args.reads) - {"totals", "entitlement", "floor"}:
        parser.error(f"unknown reads: {', '.join(sorted(unknown))}")
    if args.measure:
        asyncio.run(measure(args.measure, args.url, args.requests))
        return 0
    import asyncpg

    admin = os.environ.get("TALLY_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    admin = admin.replace("postgresql+asyncpg://", "postgresql://", 1)
    name = f"tally_read_cost_{uuid.uuid4().hex[:8]}"
    url = admin.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://", 1) + f"/{name}"

    async def admin_do(statement: str) -> None:
        connection = await asyncpg.connect(admin)
        try:
            await connection.execute(statement)
        finally:
            await connection.close()

    asyncio.run(admin_do(f"CREATE DATABASE {name}"))
    try:
        upgrade(url)
        asyncio.run(load(url))
        for read in args.reads or ["totals", "entitlement", "floor"]:
            started = time.monotonic()
            count = instructions(read, url, args.requests)
            print(f"{read}: {count / 1000:,.0f} thousand instructions per request ({time.monotonic() - started:.0f} s)")
    finally:
        asyncio.run(admin_do(f"DROP DATABASE {name} WITH (FORCE)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
