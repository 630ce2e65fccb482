"""The TypeScript SDK (clients/typescript): its vitest suite against a live server (totals, a recorded batch, a 409
read as a typed problem, the query hook's key and fetcher), the drift check on it, and its README's examples."""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tally.db.migrate import upgrade
from tally.http.auth import Role
from tests.conftest import PLATFORM, bearer, in_thread
from tests.e2e.conftest import running_server
from tests.unit.test_drift import contract

ROOT = Path(__file__).resolve().parents[2]
SDK = ROOT / "clients" / "typescript"


def token(role: Role, tenant: uuid.UUID) -> str:
    return bearer(role, tenant)["Authorization"].removeprefix("Bearer ")


@pytest.mark.e2e
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


@pytest.fixture
def sdk_tree(tmp_path: Path) -> Path:
    """A copy of openapi.json and clients/typescript, sharing the SDK's installed node_modules."""
    subprocess.run([str(ROOT / "scripts" / "node-packages"), str(SDK)], check=True, timeout=600)
    shutil.copy(ROOT / "openapi.json", tmp_path / "openapi.json")
    copy = tmp_path / "clients" / "typescript"
    shutil.copytree(SDK, copy, ignore=shutil.ignore_patterns("node_modules"))
    (copy / "node_modules").symlink_to(SDK / "node_modules")
    return tmp_path


def test_a_hand_edited_sdk_file_is_drift(sdk_tree: Path) -> None:
    module = sdk_tree / "clients" / "typescript" / "src" / "client" / "sdk.gen.ts"
    module.write_text(module.read_text() + "\n// edited by hand\n")
    assert contract.check_typescript_drift(sdk_tree) == [
        "clients/typescript/src/client/sdk.gen.ts (differs): regenerating from openapi.json gives another result"
    ]


def test_an_sdk_version_other_than_the_specs_is_drift(sdk_tree: Path) -> None:
    manifest = sdk_tree / "clients" / "typescript" / "package.json"
    manifest.write_text(manifest.read_text().replace('"version": "', '"version": "9', 1))
    problems = contract.check_typescript_drift(sdk_tree)
    assert problems == [
        "clients/typescript/package.json: its version is not openapi.json's info.version: run `nox -s client`"
    ]


def test_the_readme_shows_the_type_checked_examples_as_they_are() -> None:
    readme = (SDK / "README.md").read_text(encoding="utf-8")
    examples = sorted((SDK / "examples").iterdir())
    assert examples
    for example in examples:
        assert example.read_text(encoding="utf-8") in readme, f"README.md does not show {example.name} as it is"
