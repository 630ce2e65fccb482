"""The TypeScript SDK (clients/typescript) against a live server: its vitest suite, run with the server's URL and
tokens in the environment (totals, a recorded batch, a 409 read as a typed problem, the query hook's key and
fetcher)."""

from __future__ import annotations

import os
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tally.auth import Role
from tally.db.migrate import upgrade
from tests.conftest import PLATFORM, bearer, in_thread
from tests.e2e.conftest import running_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients" / "typescript"


def token(role: Role, tenant: uuid.UUID) -> str:
    return bearer(role, tenant)["Authorization"].removeprefix("Bearer ")


def test_typescript_sdk_against_a_live_server(tmp_path: Path) -> None:
    subprocess.run([str(ROOT / "scripts" / "node-packages"), str(SDK)], check=True, timeout=600)
    tenant = uuid.uuid4()
    database = f"sqlite+aiosqlite:///{tmp_path / 'ts.db'}"
    in_thread(upgrade, database)
    with running_server(database, tmp_path / "server.log") as base_url:
        feature = {"unit": "requests"}
        created = httpx.put(f"{base_url}/api/v1/billing/features/api_calls", json=feature, headers=PLATFORM)
        assert created.status_code == 201, created.text
        env = {
            **os.environ,
            "TALLY_BASE_URL": base_url,
            "TALLY_TENANT": str(tenant),
            "TALLY_ADMIN_TOKEN": token(Role.ADMIN, tenant),
            "TALLY_VIEWER_TOKEN": token(Role.VIEWER, tenant),
            "CI": "true",  # vitest: no watch mode, plain output
        }
        result = subprocess.run(
            ["npx", "--no-install", "vitest", "run"], cwd=SDK, env=env, capture_output=True, text=True, timeout=300
        )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "4 passed" in result.stdout, result.stdout
