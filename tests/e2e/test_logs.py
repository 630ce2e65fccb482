"""A real server's log output: JSON lines with a request id each, and never a token, a secret or a body."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import httpx
import pytest

from tally.db.migrate import upgrade
from tally.http.auth import Role
from tests.conftest import MULTI_PROCESS, TEST_SECRET, bearer, in_thread
from tests.e2e.conftest import running_server

pytestmark = pytest.mark.e2e

BODY_MARKER = f"body-marker-{uuid.uuid4().hex}"
DB_PASSWORD = f"db-password-{uuid.uuid4().hex}"


def log_lines(path: Path) -> list[dict[str, object]]:
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    assert lines
    # Every line is one JSON object (json.loads fails on anything else, e.g. a traceback's lines).
    return [json.loads(line) for line in lines]


def assert_no_secret(path: Path, *secrets: str) -> None:
    text = path.read_text()
    for secret in secrets:
        assert secret not in text, f"{secret[:20]}… appears in the log"
    assert "authorization" not in text.lower()
    assert "bearer" not in text.lower()


def test_logs_are_json_lines_with_request_ids_and_no_secrets(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'logs.db'}"
    in_thread(upgrade, url)
    log = tmp_path / "server.log"
    platform = bearer(Role.PLATFORM)
    token = platform["Authorization"].removeprefix("Bearer ")
    tenant = uuid.uuid4()
    events = f"/api/v1/billing/tenants/{tenant}/usage-events"
    answers: list[httpx.Response] = []
    with running_server(url, log) as base_url, httpx.Client(base_url=base_url, timeout=10) as http:
        answers.append(http.put("/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=platform))
        batch = {"events": [{"feature_key": "api_calls", "quantity": 7, "idempotency_key": BODY_MARKER}]}
        answers.append(http.post(events, json=batch, headers={**platform, "X-Request-ID": "caller-chosen-id.1"}))
        # A 400 whose body carries the marker as an unknown feature key, a 401 with a forged token, a 403.
        bad = {"events": [{"feature_key": BODY_MARKER[:60], "quantity": 1, "idempotency_key": "k"}]}
        answers.append(http.post(events, json=bad, headers=platform))
        answers.append(http.get(events, headers={"Authorization": f"Bearer {token[:-4]}AAAA"}))
        answers.append(http.post(events, json=batch, headers=bearer(Role.VIEWER, tenant)))
        # A token in a query string (as in the usage page's sign-in link) is not logged either.
        answers.append(http.get("/health/live", params={"token": token}))
        # An unsafe incoming request id is replaced, not logged.
        answers.append(http.get("/health/live", headers={"X-Request-ID": "evil id with spaces {}"}))
    assert [a.status_code for a in answers] == [201, 200, 400, 401, 403, 200, 200], [a.text for a in answers]
    assert answers[1].headers["x-request-id"] == "caller-chosen-id.1"
    assert answers[-1].headers["x-request-id"] != "evil id with spaces {}"

    lines = log_lines(log)
    # The last ones: start_server polls /health/live before the test's own requests.
    request_lines = [line for line in lines if line["logger"] == "tally.access"][-len(answers) :]
    assert [line["status"] for line in request_lines] == [201, 200, 400, 401, 403, 200, 200]
    assert [line["request_id"] for line in request_lines] == [a.headers["x-request-id"] for a in answers]
    assert len({a.headers["x-request-id"] for a in answers}) == len(answers)
    assert request_lines[1]["route"] == "/api/v1/billing/tenants/{tenant_id}/usage-events"
    # One line per request, Tally's: uvicorn's own access line (the raw path, with the tenant id) stays off.
    assert not [line for line in lines if line["logger"] == "uvicorn.access"]
    assert str(tenant) not in log.read_text()
    assert_no_secret(log, token, TEST_SECRET, BODY_MARKER, BODY_MARKER[:60], "evil id")


def test_database_outage_is_logged_by_type_without_the_url_password(tmp_path: Path) -> None:
    # Port 1 on loopback: nothing listens, so every connection attempt is refused at once.
    url = f"postgresql+asyncpg://tally:{DB_PASSWORD}@127.0.0.1:1/tally"
    log = tmp_path / "server.log"
    platform = bearer(Role.PLATFORM)
    tenant = uuid.uuid4()
    with running_server(url, log) as base_url, httpx.Client(base_url=base_url, timeout=30) as http:
        ready = http.get("/health/ready")
        batch = {"events": [{"feature_key": "api_calls", "quantity": 7, "idempotency_key": BODY_MARKER}]}
        posted = http.post(f"/api/v1/billing/tenants/{tenant}/usage-events", json=batch, headers=platform)
    for answer in (ready, posted):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert int(answer.headers["retry-after"]) >= 1
    lines = log_lines(log)
    outages = [line for line in lines if line["logger"] == "tally.http.problems"]
    assert len(outages) == 2, outages
    assert all(line["request_id"] for line in outages)
    assert_no_secret(log, DB_PASSWORD, platform["Authorization"].removeprefix("Bearer "), TEST_SECRET, BODY_MARKER)


@MULTI_PROCESS  # see tests/conftest.py
def test_tally_serve_with_two_workers_logs_json_from_every_process(postgres_database: str, tmp_path: Path) -> None:
    """The parent process (which runs no app) and both workers write the same JSON lines; the parent's start-up
    line names the URL, the workers and the database kind, never the database's password."""
    # The test server trusts local connections, so a password in the URL is accepted and ignored.
    url = postgres_database.replace("://postgres@", f"://postgres:{DB_PASSWORD}@")
    log = tmp_path / "server.log"
    with running_server(url, log, workers=2, tally_serve=True, TALLY_DATABSE_URL="typo") as base_url:
        for _ in range(4):
            assert httpx.get(f"{base_url}/health/ready").status_code == 200
    lines = log_lines(log)
    assert_no_secret(log, DB_PASSWORD, TEST_SECRET)
    started = [line for line in lines if line.get("workers") is not None]
    assert len(started) == 1, started
    assert started[0]["url"] == base_url
    assert started[0]["workers"] == 2
    assert started[0]["database"] == "postgresql"
    parent = started[0]["pid"]
    assert any("TALLY_DATABSE_URL" in str(line["message"]) for line in lines if line["pid"] == parent)
    workers = {line["pid"] for line in lines} - {parent}
    assert len(workers) == 2, lines
    # Each worker said it started, and the parent saw both stop.
    for pid in workers:
        assert any(line["pid"] == pid and "Started server process" in str(line["message"]) for line in lines)
    assert any(line["pid"] == parent and "Stopping parent process" in str(line["message"]) for line in lines)
