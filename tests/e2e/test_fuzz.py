"""Fuzzing: schemathesis against the committed openapi.json and a live server on PostgreSQL, with a platform token.

Every check (``--checks all``: server errors, status codes, content types, headers and bodies against the
document, schema-violating requests refused, schema-valid ones accepted, auth really required, …) and every
phase (examples, coverage, fuzzing, stateful), with a fixed seed so a run is reproducible. PostgreSQL, not
SQLite: it refuses what SQLite quietly stores (a NUL in text), so only there does unchecked input show as a 500.
``schemathesis.toml`` beside this file explains the allowances made. Any finding fails the test, with
schemathesis' report (and a curl line to reproduce it) in the failure message.

The test also proves the run reached every operation with valid data: from schemathesis' own event log it
counts the cases per phase, and asserts a 2xx answer for every operation, and that the stateful phase voided
existing events (the void route answers 404 for a key it does not know).

``nox -s fuzz`` runs it longer (``TALLY_FUZZ_MAX_EXAMPLES``); docs/reliability.md has the figures.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from tally.http.auth import Role, issue_token
from tests.conftest import TEST_SECRET, fresh_postgres_database
from tests.e2e.conftest import running_server

pytestmark = [pytest.mark.e2e, pytest.mark.long]

ROOT = Path(__file__).resolve().parents[2]
MAX_EXAMPLES = int(os.environ.get("TALLY_FUZZ_MAX_EXAMPLES", "100"))  # per operation and phase (docs/reliability.md)
SEED = int(os.environ.get("TALLY_FUZZ_SEED", "1"))
TIMEOUT_SECONDS = 1800  # a hang guard only (no --max-time, which repeats fuzzing until spent)
VOID = ("POST", "/api/v1/billing/tenants/{tenant_id}/usage-events/{idempotency_key}/void")


def schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: run scripts/bootstrap (it is in the dev extras)")
    return found


def figures(ndjson: Path) -> tuple[Counter[str], Counter[tuple[str, str, str]]]:
    """From schemathesis' event log: test cases per phase, and 2xx answers per (phase, method, path)."""
    cases: Counter[str] = Counter()
    accepted: Counter[tuple[str, str, str]] = Counter()
    for line in ndjson.read_text().splitlines():
        event = json.loads(line)
        if "ScenarioFinished" not in event:
            continue
        scenario = event["ScenarioFinished"]
        recorder = scenario.get("recorder") or {}
        for case_id, case in recorder.get("cases", {}).items():
            cases[scenario["phase"]] += 1
            interaction = recorder["interactions"].get(case_id)
            if interaction and 200 <= interaction["response"]["status_code"] < 300:
                accepted[(scenario["phase"], case["value"]["method"], case["value"]["path"])] += 1
    return cases, accepted


def seed_a_delivery(base_url: str, platform: dict[str, str]) -> None:
    """A threshold crossing delivered to nowhere (the server sends nothing), so that the delivery log has an item
    and the stateful phase can retry it."""
    api = f"{base_url}/api/v1/billing"
    endpoint = httpx.post(f"{api}/webhook-endpoints", json={"url": "https://hooks.example.com/t"}, headers=platform)
    assert endpoint.status_code == 201, endpoint.text
    plan = {"name": "Alerting", "limits": [{"feature_key": "api_calls", "limit": 1, "notify_at_percent": [100]}]}
    assert httpx.put(f"{api}/plans/alerting", json=plan, headers=platform).status_code == 201
    tenant = "00000000-0000-4000-8000-00000000a1e7"
    assert httpx.put(f"{api}/tenants/{tenant}/plan", json={"plan_key": "alerting"}, headers=platform).status_code == 200
    batch = {"events": [{"feature_key": "api_calls", "quantity": 1, "idempotency_key": "seed"}]}
    assert httpx.post(f"{api}/tenants/{tenant}/usage-events", json=batch, headers=platform).status_code == 200


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    token = issue_token(TEST_SECRET, Role.PLATFORM, None, subject="fuzz", ttl=timedelta(seconds=TIMEOUT_SECONDS))
    platform = {"Authorization": f"Bearer {token}"}
    with (
        fresh_postgres_database("tally_fuzz") as url,
        # No delivery task: the endpoints the fuzzer adds are never sent to; the routes are what is tested.
        running_server(url, tmp_path / "server.log", TALLY_WEBHOOK_DELIVERY_ENABLED="false") as base_url,
    ):
        # A feature in the catalog, so that the examples' batches (which name api_calls) can be stored.
        created = httpx.put(
            f"{base_url}/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=platform
        )
        assert created.status_code == 201, created.text
        seed_a_delivery(base_url, platform)
        command = [
            schemathesis(),
            "--config-file",
            str(Path(__file__).with_name("schemathesis.toml")),
            "--no-color",
            "run",
            str(ROOT / "openapi.json"),
            "--url",
            base_url,
            "--header",
            f"Authorization: {platform['Authorization']}",
            "--checks",
            "all",
            "--phases",
            "examples,coverage,fuzzing,stateful",
            "--max-examples",
            str(MAX_EXAMPLES),
            "--seed",
            str(SEED),
            "--workers",
            "1",
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
            "--report",
            "ndjson",
            "--report-ndjson-path",
            str(tmp_path / "events.ndjson"),
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            cwd=tmp_path,
            timeout=TIMEOUT_SECONDS,
            env={**os.environ, "NO_COLOR": "1"},
            check=False,
        )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    cases, accepted = figures(tmp_path / "events.ndjson")
    document = json.loads((ROOT / "openapi.json").read_text())
    operations = {(method.upper(), path) for path, item in document["paths"].items() for method in item}
    reached = {(method, path) for _, method, path in accepted}
    assert operations <= reached, f"no 2xx for {sorted(operations - reached)}\n{output}"
    assert accepted[("stateful", *VOID)] > 0, f"the stateful phase voided no existing event\n{output}"
    assert set(cases) == {"examples", "coverage", "fuzzing", "stateful"}, cases
    print(
        f"\nschemathesis: {sum(cases.values())} test cases ({', '.join(f'{p} {n}' for p, n in cases.items())}); "
        f"stateful 2xx: {dict((f'{m} {p}', n) for (phase, m, p), n in sorted(accepted.items()) if phase == 'stateful')}"
    )
