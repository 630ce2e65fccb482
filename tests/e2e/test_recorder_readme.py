"""The recorder's examples in client/README.md run as written against a live server."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import httpx
import pytest

from tally.http.auth import Role, issue_token
from tests.conftest import PLATFORM, TEST_SECRET
from tests.e2e.test_client_readme import README, TENANT, snippets

pytestmark = pytest.mark.e2e


def test_the_recorder_examples_run(sqlite_server: str, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    httpx.put(f"{sqlite_server}/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=PLATFORM)
    dimensions = {"unit": "tokens", "dimensions": ["model", "region"]}
    httpx.put(f"{sqlite_server}/api/v1/billing/features/llm_tokens", json=dimensions, headers=PLATFORM)
    token = issue_token(TEST_SECRET, Role.ADMIN, TENANT, subject="readme")
    sync_code, async_code = (
        code.replace("http://127.0.0.1:8000", sqlite_server).replace("<a token from `tally token`>", token)
        for code in snippets()
        if "Recorder" in code
    )
    scope: dict[str, object] = {}
    exec(compile(sync_code, str(README), "exec"), scope)
    assert capsys.readouterr().out.splitlines() == ["3 0 0"]
    exec(compile(async_code, str(README), "exec"), scope)
    asyncio.run(scope["serve_requests"](scope["client"]))  # type: ignore[operator]

    url = f"{sqlite_server}/api/v1/billing/tenants/{TENANT}/usage-events"
    listed = httpx.get(url, headers={"Authorization": f"Bearer {token}"}, params={"limit": 10}).json()["items"]
    keys = {item["idempotency_key"] for item in listed}
    made = keys - {"req-81f2", "req-81f3", "req-81f4"}  # the llm_tokens event's key, made by the recorder
    assert len(keys) == 4
    assert len(made) == 1
    assert uuid.UUID(made.pop().removeprefix("rec-"))
