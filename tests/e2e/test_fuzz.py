"""Fuzzing: schemathesis against the committed openapi.json and a live server, with a platform token.

Every check (``--checks all``: server errors, status codes, content types, headers and bodies against the
document, schema-violating requests refused, schema-valid ones accepted, auth really required, …) over a
bounded number of examples per operation and a fixed seed, so a CI run is reproducible and stays short.
``schemathesis.toml`` beside this file explains the one allowance made. Any finding fails the test, with
schemathesis' report (and a curl line to reproduce it) in the failure message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from tally.auth import Role
from tally.db.migrate import upgrade
from tests.conftest import bearer, in_thread
from tests.e2e.conftest import running_server

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES_PER_OPERATION = 50
SEED = 1
TIMEOUT_SECONDS = 300  # a hang guard only: the run takes about 15 s (no --max-time, which repeats fuzzing until spent)


def schemathesis() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.fail("schemathesis is not installed: run scripts/bootstrap (it is in the dev extras)")
    return found


def test_schemathesis_finds_nothing(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'fuzz.db'}"
    in_thread(upgrade, url)
    platform = bearer(Role.PLATFORM)
    with running_server(url, tmp_path / "server.log") as base_url:
        # A feature in the catalog, so that schema-valid batches naming it can be stored.
        created = httpx.put(
            f"{base_url}/api/v1/billing/features/api_calls", json={"unit": "requests"}, headers=platform
        )
        assert created.status_code == 201, created.text
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
            "--max-examples",
            str(EXAMPLES_PER_OPERATION),
            "--seed",
            str(SEED),
            "--generation-database",
            "none",
            "--request-timeout",
            "10",
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
    generated = re.search(r"(\d+) generated", output)
    assert generated is not None, output
    assert int(generated.group(1)) > 0, output
    print(f"\nschemathesis: {generated.group(0)} test cases, exit {result.returncode}")
